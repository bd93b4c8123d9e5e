"""The text block's editor: bold, italic, underline, links and lists over a QTextEdit, kept to the safe subset."""

from __future__ import annotations

import re
from collections.abc import Callable

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QKeySequence, QTextCharFormat, QTextCursor, QTextListFormat
from PySide6.QtWidgets import QHBoxLayout, QInputDialog, QLineEdit, QTextEdit, QToolButton, QVBoxLayout, QWidget

from app.modules.editor.richtext import is_safe_href, sanitize_rich_text
from app.modules.editor.ui.glyphs import glyph
from app.modules.editor.ui.merge_fields import merge_menu

EDIT_DELAY_MS = 300
_LINK_SPAN = re.compile(r'(<a [^>]*>)<span style="[^"]*">(.*?)</span></a>', re.DOTALL)


class RichTextEditor(QWidget):
    """Emits ``edited(html)`` (sanitized) a moment after typing stops and when focus leaves."""

    edited = Signal(str)

    def __init__(self, custom_fields: Callable[[], list[str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.custom_fields = custom_fields
        self.editor = QTextEdit()
        self.editor.setObjectName("RichTextEdit")
        self.editor.setAcceptRichText(True)
        self.editor.setMinimumHeight(140)
        self.editor.setTabChangesFocus(True)
        self.editor.document().setDefaultStyleSheet("p { margin-bottom: 8px; }")
        self._shown = ""
        self._timer = QTimer(self, singleShot=True, interval=EDIT_DELAY_MS)
        self._timer.timeout.connect(self.flush)
        self.editor.textChanged.connect(self._timer.start)
        self.editor.installEventFilter(self)
        self.buttons: dict[str, QToolButton] = {}
        bar = QHBoxLayout()
        bar.setSpacing(2)
        bar.setContentsMargins(0, 0, 0, 0)
        for name, icon, tip, action in (
            ("bold", "bold", "Bold (Ctrl+B)", self.toggle_bold),
            ("italic", "italic", "Italic (Ctrl+I)", self.toggle_italic),
            ("underline", "underline", "Underline (Ctrl+U)", self.toggle_underline),
            ("link", "link", "Link… (Ctrl+K)", self.ask_link),
            ("bullets", "bullets", "Bulleted list", lambda: self.toggle_list(QTextListFormat.Style.ListDisc)),
            ("numbers", "numbers", "Numbered list", lambda: self.toggle_list(QTextListFormat.Style.ListDecimal)),
        ):
            bar.addWidget(self._button(name, icon, tip, action))
        bar.addStretch(1)
        merge = self._button("merge", "braces", "Insert a merge field", self._merge_menu)
        merge.setText("Field")
        merge.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        bar.addWidget(merge)
        for sequence, action in (("Ctrl+B", self.toggle_bold), ("Ctrl+I", self.toggle_italic),
                                 ("Ctrl+U", self.toggle_underline), ("Ctrl+K", self.ask_link)):
            shortcut = QKeySequence(sequence)
            self.editor.addAction(self._action(shortcut, action))
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(4)
        column.addLayout(bar)
        column.addWidget(self.editor)
        self.editor.cursorPositionChanged.connect(self._show_state)

    def _button(self, name: str, icon: str, tip: str, action: Callable[[], object]) -> QToolButton:
        button = QToolButton()
        button.setObjectName(f"RichText-{name}")
        button.setIcon(glyph(icon, "text"))
        button.setIconSize(QSize(16, 16))
        button.setToolTip(tip)
        button.setAutoRaise(True)
        button.setCheckable(name in ("bold", "italic", "underline"))
        button.clicked.connect(lambda _=False: action())
        self.buttons[name] = button
        return button

    def _action(self, sequence: QKeySequence, action: Callable[[], object]) -> object:
        from PySide6.QtGui import QAction

        item = QAction(self.editor)
        item.setShortcut(sequence)
        item.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        item.triggered.connect(lambda _=False: action())
        return item

    # -- value -----------------------------------------------------------------------------------------------

    def value(self) -> str:
        # Qt writes a link's look as an underlined, coloured span inside <a>: the link alone says it.
        html = _LINK_SPAN.sub(r"\1\2</a>", self.editor.toHtml())
        return sanitize_rich_text(html)

    def set_value(self, html: str) -> None:
        if html == self._shown and self.value() == html:
            return
        self._shown = html
        self.editor.blockSignals(True)
        self.editor.setHtml(html)
        self.editor.blockSignals(False)

    def flush(self) -> None:
        self._timer.stop()
        value = self.value()
        if value != self._shown:
            self._shown = value
            self.edited.emit(value)

    def eventFilter(self, watched: object, event: object) -> bool:
        from PySide6.QtCore import QEvent

        if watched is self.editor and isinstance(event, QEvent) and event.type() == QEvent.Type.FocusOut:
            self.flush()
        return False

    # -- formatting ------------------------------------------------------------------------------------------

    def _merge_format(self, fmt: QTextCharFormat) -> None:
        cursor = self.editor.textCursor()
        if not cursor.hasSelection():
            cursor.select(QTextCursor.SelectionType.WordUnderCursor)
        cursor.mergeCharFormat(fmt)
        self.editor.mergeCurrentCharFormat(fmt)
        self.editor.setFocus()

    def toggle_bold(self) -> None:
        fmt = QTextCharFormat()
        bold = self.editor.fontWeight() < QFont.Weight.DemiBold
        fmt.setFontWeight(QFont.Weight.Bold if bold else QFont.Weight.Normal)
        self._merge_format(fmt)

    def toggle_italic(self) -> None:
        fmt = QTextCharFormat()
        fmt.setFontItalic(not self.editor.fontItalic())
        self._merge_format(fmt)

    def toggle_underline(self) -> None:
        fmt = QTextCharFormat()
        fmt.setFontUnderline(not self.editor.fontUnderline())
        self._merge_format(fmt)

    def ask_link(self) -> None:
        current = self.editor.textCursor().charFormat().anchorHref()
        url, ok = QInputDialog.getText(self, "Link", "Address (https://…, mailto:… or a merge tag):",
                                       QLineEdit.EchoMode.Normal, current or "https://")
        if ok:
            self.set_link(url.strip())

    def set_link(self, url: str) -> bool:
        """Link the selection (or the word at the cursor) to ``url``; an empty url removes the link."""
        if url and not is_safe_href(url):
            return False
        fmt = QTextCharFormat()
        fmt.setAnchor(bool(url))
        fmt.setAnchorHref(url)
        fmt.setFontUnderline(bool(url))
        self._merge_format(fmt)
        return True

    def toggle_list(self, style: QTextListFormat.Style) -> None:
        cursor = self.editor.textCursor()
        current = cursor.currentList()
        if current is not None and current.format().style() == style:
            block_format = cursor.blockFormat()
            current.remove(cursor.block())
            block_format.setIndent(0)
            cursor.setBlockFormat(block_format)
        else:
            list_format = QTextListFormat()
            list_format.setStyle(style)
            cursor.createList(list_format)
        self.editor.setFocus()

    def insert_tag(self, tag: str) -> None:
        self.editor.textCursor().insertText(tag)
        self.editor.setFocus()
        self.flush()

    def _merge_menu(self) -> None:
        menu = merge_menu(self, self.custom_fields(), self.insert_tag)
        button = self.buttons["merge"]
        menu.popup(button.mapToGlobal(button.rect().bottomLeft()))

    def _show_state(self) -> None:
        fmt = self.editor.currentCharFormat()
        self.buttons["bold"].setChecked(fmt.fontWeight() >= QFont.Weight.DemiBold)
        self.buttons["italic"].setChecked(fmt.fontItalic())
        self.buttons["underline"].setChecked(fmt.fontUnderline())
