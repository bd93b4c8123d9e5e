"""Tables of the editor module (internal: other modules use messages.py and api.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.kernel.database import Base, utcnow


class Template(Base):
    """A template in the library; its content lives in versions, ``current_version`` is the one in use."""

    __tablename__ = "editor_template"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # Lower-cased name: "Welcome" and "welcome" are the same template to a person.
    name_key: Mapped[str] = mapped_column(String(200), unique=True)
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    thumbnail_path: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # The version the thumbnail shows, so a stale picture is redrawn after a save.
    thumbnail_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class TemplateVersion(Base):
    """One saved state of a template. Versions are never changed; a restore adds a new one."""

    __tablename__ = "editor_template_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("editor_template.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    html: Mapped[str | None] = mapped_column(Text, nullable=True)  # snapshot for exports and comparisons
    note: Mapped[str] = mapped_column(String(500), default="", server_default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("template_id", "version"),)


class BrandKitRow(Base):
    """The one brand kit (row id 1)."""

    __tablename__ = "editor_brand_kit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class SavedBlock(Base):
    """A reusable block or section the user saved from the canvas."""

    __tablename__ = "editor_saved_block"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # "block" or "section"
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
