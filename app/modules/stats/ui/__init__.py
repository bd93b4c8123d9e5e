"""The stats module's pages (the only part of it that imports Qt)."""
