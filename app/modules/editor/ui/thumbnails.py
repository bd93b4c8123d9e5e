"""Pictures of emails drawn off the GUI thread: library thumbnails and the pages of the version comparison."""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter

from app.modules.editor.brand import BrandKit
from app.modules.editor.document import Document
from app.modules.editor.ui.email_layout import EmailLayouter, paint_email
from app.modules.editor.ui.email_paint import EmailPainter, ImageCache

THUMBNAIL_WIDTH = 480  # drawn at twice the card's width so it stays sharp on high-density screens
THUMBNAIL_RATIO = 1.25
MARGIN = 28

# One email picture at a time: two workers laying out text at once deadlocked here (three threads on futexes, in a
# fresh-clone run of tests/ui/editor/test_library.py: QTextDocument and the shared image cache are reentrant, not
# thread-safe). Pictures are small; the queue costs little.
_DRAWING = threading.Lock()


def draw_email(document: Document, brand: BrandKit, images: ImageCache, *, max_height: float | None = None,
               margin: int = MARGIN, highlights: dict[str, str] | None = None) -> QImage:
    """The whole email (or its top ``max_height`` pixels) on the brand's background, at 1:1 scale.

    ``highlights`` maps block ids to a colour: those blocks are tinted (the version comparison)."""
    with _DRAWING:
        return _draw_email(document, brand, images, max_height=max_height, margin=margin, highlights=highlights)


def _draw_email(document: Document, brand: BrandKit, images: ImageCache, *, max_height: float | None,
                margin: int, highlights: dict[str, str] | None) -> QImage:
    email_painter = EmailPainter(brand, images, decorate=False)
    layout = EmailLayouter(email_painter).layout(document, margin, margin)
    width = int(brand.content_width + 2 * margin)
    height = int(max(layout.content.height(), 120) + 2 * margin)
    if max_height is not None:
        height = min(height, int(max_height))
    image = QImage(width, height, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(QColor(brand.background_color))
    painter = QPainter(image)
    painter.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
    painter.setClipRect(QRectF(0, 0, width, height))
    if not document.sections:
        painter.fillRect(QRectF(margin, margin, brand.content_width, height - margin), QColor(brand.content_background))
    paint_email(painter, layout, email_painter)
    for box in layout.blocks() if highlights else ():
        colour = (highlights or {}).get(box.block.id)
        if colour:
            tint = QColor(colour)
            tint.setAlpha(45)
            painter.fillRect(box.rect, tint)
            painter.fillRect(QRectF(box.rect.left() - 6, box.rect.top(), 4, box.rect.height()), QColor(colour))
    painter.end()
    return image


def draw_thumbnail(document: Document, brand: BrandKit, images: ImageCache) -> QImage:
    """The top of the email in a card-shaped picture (width ``THUMBNAIL_WIDTH``)."""
    full_width = brand.content_width + 2 * MARGIN
    image = draw_email(document, brand, images, max_height=full_width * THUMBNAIL_RATIO)
    scaled = image.scaledToWidth(THUMBNAIL_WIDTH, Qt.TransformationMode.SmoothTransformation)
    card = QImage(THUMBNAIL_WIDTH, int(THUMBNAIL_WIDTH * THUMBNAIL_RATIO), QImage.Format.Format_ARGB32_Premultiplied)
    card.fill(QColor(brand.background_color))
    painter = QPainter(card)
    painter.drawImage(0, 0, scaled)
    painter.end()
    return card


def write_thumbnail(document: Document, brand: BrandKit, images: ImageCache, target: Path) -> Path:
    """Draw and save a thumbnail PNG atomically (a half-written picture never shows in the library)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part.png")
    if not draw_thumbnail(document, brand, images).save(str(partial), "PNG"):
        raise OSError(f"could not write {partial}")
    partial.replace(target)
    return target
