"""The brand kit: fonts, colours, content width and button style, stored once and shared by every template."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

# Web-safe stacks: mail clients do not load web fonts reliably, so each choice ends in a safe family.
FONT_STACKS: dict[str, str] = {
    "Helvetica": "Helvetica, Arial, sans-serif",
    "Arial": "Arial, Helvetica, sans-serif",
    "Verdana": "Verdana, Geneva, sans-serif",
    "Trebuchet": "'Trebuchet MS', Helvetica, sans-serif",
    "Georgia": "Georgia, 'Times New Roman', serif",
    "Times": "'Times New Roman', Times, serif",
    "Courier": "'Courier New', Courier, monospace",
    "System": "-apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif",
}
_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


@dataclass(frozen=True)
class BrandKit:
    """Global styles of all emails. Colours are ``#rrggbb``; fonts are keys of ``FONT_STACKS``."""

    body_font: str = "Helvetica"
    heading_font: str = "Helvetica"
    font_size: int = 16
    text_color: str = "#2d3748"
    heading_color: str = "#1a202c"
    link_color: str = "#2b6cb0"
    background_color: str = "#f4f5f7"
    content_background: str = "#ffffff"
    button_color: str = "#2b6cb0"
    button_text_color: str = "#ffffff"
    button_radius: int = 6
    content_width: int = 600
    logo: str = ""  # "asset:NAME" or a URL; starters show it when set

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> BrandKit:
        """Read a stored kit, keeping defaults for anything missing or unusable (a kit never blocks rendering)."""
        if not data:
            return cls()
        known = {f.name for f in fields(cls)}
        kit = cls(**{k: v for k, v in data.items() if k in known})
        problems = kit.problems()
        if not problems:
            return kit
        defaults = cls()
        bad = {name for name, _ in problems}
        return cls(**{f.name: getattr(defaults if f.name in bad else kit, f.name) for f in fields(cls)})

    def problems(self) -> list[tuple[str, str]]:
        """(field, message) for each unusable value."""
        found: list[tuple[str, str]] = []
        for name in ("text_color", "heading_color", "link_color", "background_color", "content_background",
                     "button_color", "button_text_color"):
            value = getattr(self, name)
            if not isinstance(value, str) or not _COLOUR.match(value):
                found.append((name, f"{name.replace('_', ' ')} must be a colour like #2b6cb0, not {value!r}"))
        for name in ("body_font", "heading_font"):
            if getattr(self, name) not in FONT_STACKS:
                found.append((name, f"{name.replace('_', ' ')} must be one of {', '.join(FONT_STACKS)}"))
        for name, low, high in (("font_size", 12, 24), ("button_radius", 0, 30), ("content_width", 480, 800)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                found.append((name, f"{name.replace('_', ' ')} must be a whole number from {low} to {high}"))
        if not isinstance(self.logo, str):
            found.append(("logo", "logo must be a picture you added or a web address"))
        return found

    def font_stack(self, heading: bool = False) -> str:
        return FONT_STACKS.get(self.heading_font if heading else self.body_font, FONT_STACKS["Helvetica"])
