"""A chart on a page: a matplotlib Figure drawn off the GUI thread, shown as an image, saved as PNG or SVG.

Drawing one report chart costs 0.1-0.35 s here (Agg); FigureCanvasQTAgg draws on the GUI thread at every resize
and update, so six charts refreshed once a second would freeze the window. The page builds each Figure on its
worker thread and renders it there with FigureCanvasAgg; this widget only paints the finished image.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from app.modules.stats.charts import save_figure


@dataclass(frozen=True)
class RenderedChart:
    """A figure and its pixels, made on a worker thread (QImage is safe to build there; QPixmap is not)."""

    figure: Any
    image: QImage


def render(figure: Any, width_px: int, ratio: float = 1.0) -> RenderedChart:
    """Draw ``figure`` ``width_px`` logical pixels wide into an image; any thread."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    # The figure takes the widget's width at 100 dpi (its height stays), so text keeps one size at any width.
    _inches_w, inches_h = figure.get_size_inches()
    figure.set_size_inches(max(3.0, width_px / 100), inches_h)
    figure.set_dpi(100 * ratio)
    canvas.draw()  # type: ignore[no-untyped-call]
    width, height = canvas.get_width_height(physical=True)
    pixels = bytes(canvas.buffer_rgba())  # type: ignore[no-untyped-call]
    image = QImage(pixels, width, height, QImage.Format.Format_RGBA8888).copy()
    image.setDevicePixelRatio(ratio)
    figure.set_dpi(100)
    return RenderedChart(figure, image)


class ChartView(QWidget):
    """One chart: its image, and a button to save it; ``resized`` asks the page for a re-render at a new width."""

    resized = Signal()

    def __init__(self, name: str, title: str, parent: QWidget | None = None,
                 run_save: Callable[[Callable[[], Any], Callable[[Any], None]], None] | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.setObjectName(f"Chart-{name}")
        self.figure: Any = None
        self._run_save = run_save
        self._rendered_width = 0
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        bar = QHBoxLayout()
        bar.addStretch(1)
        self.save_button = QToolButton()
        self.save_button.setText("Save…")
        self.save_button.setToolTip(f"Save the chart '{title}' as PNG or SVG")
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self.save_dialog)
        bar.addWidget(self.save_button)
        self.image = QLabel("Drawing…")
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setMinimumHeight(120)
        self.image.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.image.setAccessibleName(title)
        layout.addWidget(self.image)
        layout.addLayout(bar)

    def show_chart(self, chart: RenderedChart) -> None:
        self.figure = chart.figure
        self._rendered_width = round(chart.image.width() / chart.image.devicePixelRatio())
        self.image.setText("")
        self.image.setPixmap(QPixmap.fromImage(chart.image))
        self.image.setFixedHeight(round(chart.image.height() / chart.image.devicePixelRatio()))
        if self.isVisible() and abs(self.wanted_width() - self._rendered_width) > 40:
            self.resized.emit()  # laid out at another width since the request: draw again at this one
        self.save_button.setEnabled(True)

    def wanted_width(self) -> int:
        return max(320, self.width())

    def resizeEvent(self, event: Any) -> None:
        super().resizeEvent(event)
        if self.figure is not None and abs(self.wanted_width() - self._rendered_width) > 40:
            self.resized.emit()

    def sizeHint(self) -> QSize:
        return QSize(640, 300)

    def save_dialog(self) -> None:
        if self.figure is None:
            return
        path, _filter = QFileDialog.getSaveFileName(self, "Save chart", f"{self.name}.png",
                                                    "PNG image (*.png);;SVG drawing (*.svg)")
        if path:
            self.save(Path(path))

    def save(self, path: Path, done: Callable[[Any], None] | None = None) -> None:
        """Save the chart (PNG by default; SVG by suffix), on the page's worker when it has one."""
        if path.suffix.lower() not in (".png", ".svg"):
            path = path.with_suffix(".png")
        figure = self.figure

        def work() -> Path:
            return save_figure(figure, path)

        if self._run_save is not None:
            self._run_save(work, done or (lambda _path: None))
        else:
            result = work()
            if done is not None:
                done(result)
