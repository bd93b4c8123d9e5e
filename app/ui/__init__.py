"""The Qt desktop shell: main window, bridge to the bus, status bar jobs, activity log and preferences."""
