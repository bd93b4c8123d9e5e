"""The delivery module's pages (the only part of it that imports Qt)."""
