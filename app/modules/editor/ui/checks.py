"""Checks the email while it is designed (merge-tag syntax with its place, unknown fields), off the GUI thread."""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from app.modules.editor.api import TemplateProblem, compile_document
from app.modules.editor.brand import BrandKit
from app.modules.editor.document import Document
from app.ui.background import BackgroundWork

log = logging.getLogger(__name__)
CHECK_DELAY_MS = 600


def find_problems(document: Document, brand: BrandKit, custom_fields: list[str]) -> list[TemplateProblem]:
    """Compile the document as delivery would and list what would stop or spoil sending."""
    compiled = compile_document(document, subject="", brand=brand)
    return compiled.validate(custom_fields)


class TemplateChecker(QObject):
    """Checks the latest document a moment after editing stops; older results are dropped."""

    checked = Signal(list)  # list[TemplateProblem]

    def __init__(self, work: BackgroundWork, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.work = work
        self.brand = BrandKit()
        self._pending: tuple[Document, list[str]] | None = None
        self._generation = 0
        self._timer = QTimer(self, singleShot=True, interval=CHECK_DELAY_MS)
        self._timer.timeout.connect(self._start)
        self.problems: list[TemplateProblem] = []

    def set_brand(self, brand: BrandKit) -> None:
        self.brand = brand

    def check(self, document: Document, custom_fields: list[str], *, now: bool = False) -> None:
        self._pending = (document, list(custom_fields))
        if now:
            self._start()
        else:
            self._timer.start()

    def _start(self) -> None:
        self._timer.stop()
        if self._pending is None:
            return
        document, fields = self._pending
        self._pending = None
        self._generation += 1
        generation, brand = self._generation, self.brand
        self.work.submit(lambda: find_problems(document, brand, fields),
                         lambda problems: self._done(generation, problems), self._failed)

    def _done(self, generation: int, problems: list[Any]) -> None:
        if generation == self._generation:
            self.problems = problems
            self.checked.emit(problems)

    def _failed(self, error: BaseException) -> None:
        log.warning("checking the template failed", exc_info=error)
