"""Draws blocks the way the email looks (brand fonts, colours, spacing); shared by the canvas and the thumbnails.

Everything here works on any thread (QTextDocument, QImage and QPainter on images), so thumbnails are drawn
in the background with exactly the code that draws the canvas.
"""

from __future__ import annotations

import html
import re
import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, QSizeF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QImage,
    QPainter,
    QPainterPath,
    QPen,
    QTextBlockFormat,
    QTextCursor,
    QTextDocument,
)

from app.modules.editor.brand import BrandKit
from app.modules.editor.conditions import describe_rule
from app.modules.editor.document import Block
from app.modules.editor.store import asset_file
from app.modules.editor.textpart import social_label

# The same spacing as the email HTML (render.py): 8 px above and below a block, 24 px at the sides (12 px in
# sections with several columns), headings at 2, 1.5 and 1.2 times the body size.
BLOCK_PAD = 8.0
SIDE_PAD, SIDE_PAD_COLUMNS = 24.0, 12.0
HEADING_SCALE = {1: (2.0, 120), 2: (1.5, 125), 3: (1.2, 130)}
FOOTER_COLOR = "#718096"
DIVIDER_COLOR = "#e2e8f0"
EMPTY_IMAGE_HEIGHT = 150.0
CONDITION_BAR = 28.0
CONDITION_INSET = 10.0
EMPTY_SLOT = 60.0
FAMILIES = {
    "Helvetica": ["Helvetica", "Arial", "Liberation Sans", "DejaVu Sans"],
    "Arial": ["Arial", "Helvetica", "Liberation Sans", "DejaVu Sans"],
    "Verdana": ["Verdana", "DejaVu Sans"],
    "Trebuchet": ["Trebuchet MS", "DejaVu Sans"],
    "Georgia": ["Georgia", "DejaVu Serif"],
    "Times": ["Times New Roman", "Liberation Serif", "DejaVu Serif"],
    "Courier": ["Courier New", "Liberation Mono", "DejaVu Sans Mono"],
    "System": ["Segoe UI", "Roboto", "Cantarell", "DejaVu Sans"],
}
CONDITION_COLOR = "#7c4dcc"
_MERGE_TAG = re.compile(r"\{\{\s*(.*?)\s*\}\}", re.DOTALL)
_TAGS = re.compile(r"(<[^>]*>)")


def brand_font(brand: BrandKit, *, heading: bool = False, px: int | None = None, bold: bool = False) -> QFont:
    font = QFont()
    font.setFamilies(FAMILIES.get(brand.heading_font if heading else brand.body_font, FAMILIES["Helvetica"]))
    font.setPixelSize(px or brand.font_size)
    font.setBold(bold)
    return font


def tag_label(expression: str) -> str:
    """``contact.first_name | default("there")`` -> "First name": what a merge tag shows on the canvas."""
    name = html.unescape(expression).split("|", 1)[0].strip()
    last = name.rsplit(".", 1)[-1] or name
    words = last.replace("_", " ").strip()
    return (words[:1].upper() + words[1:]) if words else "Merge field"


def _pill(label: str, brand: BrandKit) -> str:
    colour = QColor(brand.link_color)
    soft = QColor(colour)
    soft.setAlpha(40)
    return (f'<span style="background-color:{soft.name(QColor.NameFormat.HexArgb)}; color:{colour.name()};">'
            f"&nbsp;{html.escape(label).replace(' ', '&nbsp;')}&nbsp;</span>")


def show_merge_tags(markup: str, brand: BrandKit) -> str:
    """Merge tags in HTML text become small labelled pills, as a designer wants to see them (not in attributes)."""
    parts = _TAGS.split(markup)
    for number in range(0, len(parts), 2):  # even parts are text between tags
        parts[number] = _MERGE_TAG.sub(lambda m: _pill(tag_label(m.group(1)), brand), parts[number])
    return "".join(parts)


def plain_with_pills(text: str, brand: BrandKit) -> str:
    """Plain text (a heading, a button label) as HTML with its merge tags shown as pills."""
    parts, last = [], 0
    for match in _MERGE_TAG.finditer(text):
        parts.append(html.escape(text[last:match.start()]))
        parts.append(_pill(tag_label(match.group(1)), brand))
        last = match.end()
    parts.append(html.escape(text[last:]))
    return "".join(parts).replace("\n", "<br>")


def plain_tags(text: str) -> str:
    """Merge tags as short labels in plain text (button labels are drawn without rich text)."""
    return _MERGE_TAG.sub(lambda m: tag_label(m.group(1)), text)


class ImageCache:
    """Pictures for image blocks: assets from the data folder, loaded once; web pictures are not fetched.

    With ``defer`` set, a picture asked for on the GUI thread is decoded in the background (``defer`` runs the
    loading function on a worker); meanwhile the block shows its placeholder, and ``defer``'s owner redraws
    when it is ready. Worker threads (thumbnails) always load at once."""

    def __init__(self, data_dir: Path | None) -> None:
        self.data_dir = data_dir
        self._images: dict[str, QImage | None] = {}
        self._pending: set[str] = set()
        self._lock = threading.Lock()
        self.defer: Callable[[Callable[[], object]], object] | None = None

    def get(self, src: str) -> QImage | None:
        if not src or self.data_dir is None:
            return None
        with self._lock:
            if src in self._images:
                return self._images[src]
            if src in self._pending:
                return None
            deferred = self.defer is not None and threading.current_thread() is threading.main_thread()
            if deferred:
                self._pending.add(src)
        if deferred and self.defer is not None:
            self.defer(lambda: self.load(src))
            return None
        return self.load(src)

    def load(self, src: str) -> QImage | None:
        """Decode the picture now (any thread) and keep it."""
        path = asset_file(self.data_dir, src) if self.data_dir is not None else None
        image = QImage(str(path)) if path is not None and path.is_file() else None
        if image is not None and image.isNull():
            image = None
        with self._lock:
            self._images[src] = image
            self._pending.discard(src)
        return image


class EmailPainter:
    """Measures and paints single blocks. ``decorate`` adds the editor's hints (spacer hatching, HTML badge,
    the conditional block's frame), which thumbnails leave out."""

    def __init__(self, brand: BrandKit, images: ImageCache, *, decorate: bool = True) -> None:
        self.brand = brand
        self.images = images
        self.decorate = decorate
        self._documents: dict[tuple[str, str, int], QTextDocument] = {}

    # -- text ------------------------------------------------------------------------------------------

    def text_document(self, key: str, markup: str, width: float, font: QFont, *, color: str,
                      align: str = "left", line_height: int = 155, link: str = "") -> QTextDocument:
        cache_key = (key, markup + color + align + font.toString() + str(line_height), int(width))
        cached = self._documents.get(cache_key)
        if cached is not None:
            return cached
        document = QTextDocument()
        document.setDocumentMargin(0)
        document.setDefaultFont(font)
        document.setDefaultStyleSheet(
            "p { margin-top: 0; margin-bottom: 12px; } li { margin-bottom: 4px; } "
            f"a {{ color: {link or self.brand.link_color}; text-decoration: underline; }} "
            "ul, ol { margin-top: 0; margin-bottom: 12px; margin-left: 0; -qt-list-indent: 1; }")
        document.setHtml(f'<div style="color:{color};">{markup}</div>')
        document.setTextWidth(max(1.0, width))
        cursor = QTextCursor(document)
        cursor.select(QTextCursor.SelectionType.Document)
        block_format = QTextBlockFormat()
        block_format.setLineHeight(line_height, QTextBlockFormat.LineHeightTypes.ProportionalHeight.value)
        block_format.setAlignment(_alignment(align))
        cursor.mergeBlockFormat(block_format)
        last = document.lastBlock()
        if last.isValid():
            trimmed = last.blockFormat()
            trimmed.setBottomMargin(0)
            QTextCursor(last).setBlockFormat(trimmed)
        if len(self._documents) > 400:
            self._documents.clear()
        self._documents[cache_key] = document
        return document

    def _block_text(self, block: Block, width: float) -> QTextDocument | None:
        props, brand = block.props, self.brand
        if block.type == "heading":
            scale, line_height = HEADING_SCALE.get(int(props.get("level", 1) or 1), HEADING_SCALE[1])
            font = brand_font(brand, heading=True, px=round(brand.font_size * scale), bold=True)
            return self.text_document(block.id, plain_with_pills(str(props.get("text", "")), brand), width, font,
                                      color=props.get("color") or brand.heading_color,
                                      align=props.get("align", "left"), line_height=line_height)
        if block.type == "text":
            return self.text_document(block.id, show_merge_tags(str(props.get("html", "")), brand), width,
                                      brand_font(brand), color=props.get("color") or brand.text_color,
                                      align=props.get("align", "left"))
        if block.type == "html":
            return self.text_document(block.id, show_merge_tags(str(props.get("html", "")), brand), width,
                                      brand_font(brand), color=brand.text_color, line_height=120)
        if block.type == "social":
            links = [f'<a href="#" style="font-weight:bold; text-decoration:none;">'
                     f'{html.escape(social_label(str(link.get("network", ""))))}</a>'
                     for link in props.get("links", []) if isinstance(link, dict) and link.get("url")]
            return self.text_document(block.id, " &nbsp; ".join(links) or "&nbsp;", width, brand_font(brand),
                                      color=brand.text_color, align=props.get("align", "center"))
        if block.type == "footer":
            return self.text_document(block.id, self._footer_markup(block), width, brand_font(brand, px=12),
                                      color=FOOTER_COLOR, align=props.get("align", "center"), link=FOOTER_COLOR)
        return None

    def _footer_markup(self, block: Block) -> str:
        props, brand = block.props, self.brand
        lines = [plain_with_pills(str(props.get(key, "")), brand) for key in ("text", "address")
                 if str(props.get(key, "")).strip()]
        links = [f'<a href="#">{html.escape(plain_tags(str(props.get(key, ""))))}</a>'
                 for key in ("unsubscribe_text", "preferences_text", "webview_text") if str(props.get(key, "")).strip()]
        if links:
            lines.append(" &nbsp;|&nbsp; ".join(links))
        return "<br><br>".join(lines)

    # -- measuring ---------------------------------------------------------------------------------------

    def height(self, block: Block, width: float, side: float = SIDE_PAD) -> float:
        """The block's height in a column ``width`` wide with ``side`` padding (a conditional block's children
        are not included)."""
        props = block.props
        width = max(1.0, width - 2 * side)
        text = self._block_text(block, width)
        if text is not None:
            inner = text.size().height()
        elif block.type == "image":
            inner = self._image_size(block, width).height()
        elif block.type == "button":
            inner = self.brand.font_size * 1.2 + 24
        elif block.type == "divider":
            inner = float(int(props.get("thickness", 1) or 1))
        elif block.type == "spacer":
            inner = float(int(props.get("height", 24) or 24))
        else:
            inner = 24.0
        return inner + 2 * BLOCK_PAD

    def _image_size(self, block: Block, width: float) -> QSizeF:
        wanted = int(block.props.get("width", 0) or 0)
        target = min(width, float(wanted)) if wanted > 0 else width
        image = self.images.get(str(block.props.get("src", "")))
        if image is None:
            return QSizeF(target, EMPTY_IMAGE_HEIGHT if wanted == 0 else min(EMPTY_IMAGE_HEIGHT, target * 0.6))
        if wanted == 0:
            target = min(width, float(image.width()))
        return QSizeF(target, target * image.height() / max(1, image.width()))

    # -- painting ----------------------------------------------------------------------------------------

    def paint(self, painter: QPainter, block: Block, rect: QRectF, side: float = SIDE_PAD) -> None:
        """Paint ``block`` inside ``rect`` (its full box as laid out, padding included)."""
        inner = rect.adjusted(side, BLOCK_PAD, -side, -BLOCK_PAD)
        text = self._block_text(block, max(1.0, inner.width()))
        painter.save()
        if text is not None:
            painter.translate(inner.topLeft())
            text.drawContents(painter)
            painter.restore()
            if block.type == "html" and self.decorate:
                self._badge(painter, rect, "HTML")
            return
        if block.type == "image":
            self._paint_image(painter, block, inner)
        elif block.type == "button":
            self._paint_button(painter, block, inner)
        elif block.type == "divider":
            self._paint_divider(painter, block, inner)
        elif block.type == "spacer" and self.decorate:
            self._paint_spacer(painter, block, rect)
        elif block.type == "conditional" and self.decorate:
            self._paint_condition(painter, block, rect)
        painter.restore()

    def _paint_image(self, painter: QPainter, block: Block, inner: QRectF) -> None:
        size = self._image_size(block, inner.width())
        left = _aligned_left(inner, size.width(), block.props.get("align", "center"))
        target = QRectF(left, inner.top(), size.width(), size.height())
        image = self.images.get(str(block.props.get("src", "")))
        if image is not None:
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(target, image)
            return
        painter.fillRect(target, QColor("#e9edf3"))
        painter.setPen(QPen(QColor("#b4bfcd"), 2))
        center = target.center()
        mountain = QPainterPath()
        mountain.moveTo(center + QPointF(-26, 14))
        mountain.lineTo(center + QPointF(-8, -6))
        mountain.lineTo(center + QPointF(4, 6))
        mountain.lineTo(center + QPointF(12, -2))
        mountain.lineTo(center + QPointF(26, 14))
        mountain.closeSubpath()
        painter.drawPath(mountain)
        painter.drawEllipse(center + QPointF(14, -14), 5, 5)
        src = str(block.props.get("src", ""))
        caption = src if src.startswith("http") else "Drop a picture here, or choose one in the panel"
        if self.decorate:
            font = QFont(painter.font())
            font.setPixelSize(12)
            painter.setFont(font)
            painter.setPen(QColor("#7b8796"))
            caption_rect = QRectF(target.left() + 8, center.y() + 22, target.width() - 16, 20)
            elided = QFontMetricsF(font).elidedText(caption, Qt.TextElideMode.ElideMiddle, caption_rect.width())
            painter.drawText(caption_rect, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, elided)

    def _paint_button(self, painter: QPainter, block: Block, inner: QRectF) -> None:
        props, brand = block.props, self.brand
        font = brand_font(brand, bold=True)
        metrics = QFontMetricsF(font)
        label = plain_tags(str(props.get("text", "")))
        width = inner.width() if props.get("full_width") else min(inner.width(), metrics.horizontalAdvance(label) + 56)
        left = _aligned_left(inner, width, props.get("align", "center"))
        shape = QRectF(left, inner.top(), width, brand.font_size * 1.2 + 24)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(props.get("color") or brand.button_color))
        radius = float(brand.button_radius)
        painter.drawRoundedRect(shape, radius, radius)
        painter.setFont(font)
        painter.setPen(QColor(props.get("text_color") or brand.button_text_color))
        elided = metrics.elidedText(label, Qt.TextElideMode.ElideRight, shape.width() - 16)
        painter.drawText(shape, Qt.AlignmentFlag.AlignCenter, elided)

    def _paint_divider(self, painter: QPainter, block: Block, rect: QRectF) -> None:
        props = block.props
        thickness = float(int(props.get("thickness", 1) or 1))
        width = rect.width() * int(props.get("width", 100) or 100) / 100
        line = QRectF(rect.center().x() - width / 2, rect.center().y() - thickness / 2, width, thickness)
        painter.fillRect(line, QColor(props.get("color") or DIVIDER_COLOR))

    def _paint_spacer(self, painter: QPainter, block: Block, rect: QRectF) -> None:
        colour = QColor(self.brand.link_color)
        colour.setAlpha(28)
        painter.fillRect(rect, QBrush(colour, Qt.BrushStyle.BDiagPattern))
        if rect.height() >= 16:
            font = QFont(painter.font())
            font.setPixelSize(10)
            painter.setFont(font)
            painter.setPen(QColor("#8a94a3"))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, f"Space · {int(block.props.get('height', 24))} px")

    def _paint_condition(self, painter: QPainter, block: Block, rect: QRectF) -> None:
        colour = QColor(CONDITION_COLOR)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = QPen(colour, 1.2, Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(rect.adjusted(0.5, 0.5, -0.5, -0.5), 6, 6)
        bar = QRectF(rect.left(), rect.top(), rect.width(), CONDITION_BAR)
        soft = QColor(colour)
        soft.setAlpha(24)
        path = QPainterPath()
        path.addRoundedRect(bar.adjusted(1, 1, -1, 0), 5, 5)
        painter.fillPath(path, soft)
        font = QFont(painter.font())
        font.setPixelSize(12)
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(colour)
        name = str(block.props.get("label", "")).strip()
        rule = block.props.get("rule")
        described = describe_rule(rule) if isinstance(rule, dict) else ""
        text = f"{name} — only if {described}" if name else f"Only if {described}"
        metrics = QFontMetricsF(font)
        text_rect = bar.adjusted(10, 0, -10, 0)
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                         metrics.elidedText("◇  " + text, Qt.TextElideMode.ElideRight, text_rect.width()))

    def _badge(self, painter: QPainter, rect: QRectF, text: str) -> None:
        painter.save()
        font = QFont(painter.font())
        font.setPixelSize(9)
        font.setBold(True)
        painter.setFont(font)
        width = QFontMetricsF(font).horizontalAdvance(text) + 10
        badge = QRectF(rect.right() - width - 2, rect.top() + 2, width, 14)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 90))
        painter.drawRoundedRect(badge, 3, 3)
        painter.setPen(QColor("#ffffff"))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)
        painter.restore()


def _alignment(align: str) -> Qt.AlignmentFlag:
    return {"center": Qt.AlignmentFlag.AlignHCenter, "right": Qt.AlignmentFlag.AlignRight}.get(
        align, Qt.AlignmentFlag.AlignLeft)


def _aligned_left(inner: QRectF, width: float, align: object) -> float:
    if align == "left":
        return inner.left()
    if align == "right":
        return inner.right() - width
    return inner.left() + (inner.width() - width) / 2

