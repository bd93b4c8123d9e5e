"""Editor: the drag-and-drop email builder, templates and personalisation (issue 8; not built yet)."""
