"""The kernel: bus, module registry, database, settings, secrets, jobs; never imports Qt."""
