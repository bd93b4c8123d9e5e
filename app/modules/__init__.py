"""Built-in modules: the one place that names them, in the order they appear."""

BUILTIN_MODULES: list[str] = [
    "app.modules.contacts.module:MODULE",
    "app.modules.editor.module:MODULE",
    "app.modules.stats.module:MODULE",
    "app.modules.delivery.module:MODULE",
    "app.modules.campaigns.module:MODULE",
]
