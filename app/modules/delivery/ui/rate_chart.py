"""A small live chart of a run's send rate (messages a second over the last minutes), drawn with QPainter.

Progress arrives about twice a second; the chart records every sample but repaints at most once a second, so a
fast send never keeps the GUI thread busy drawing.
"""

from __future__ import annotations

import collections
import math
import time
from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.ui import theme

WINDOW_SECONDS = 300.0  # what the chart shows: the last five minutes
MIN_SPAN = 60.0  # at the start of a send the first minute fills the width


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above ``value`` (an axis top)."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return step * power
    return 10 * power  # pragma: no cover - the loop always returns


def rate_text(rate: float) -> str:
    if rate == 0 or rate >= 10:
        return f"{rate:,.0f}/s"
    return f"{rate:,.1f}/s"


class RateChart(QWidget):
    """Send rate over time for one run; ``add(rate)`` records a sample, ``show_run`` switches runs."""

    def __init__(self, parent: QWidget | None = None, *, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(parent)
        self.setObjectName("DeliveryRateChart")
        self.setMinimumHeight(84)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(96)
        self._clock = clock
        self._histories: dict[int, collections.deque[tuple[float, float]]] = {}
        self.run_id: int | None = None
        self.redraws = 0  # repaints asked for (at most one a second while samples arrive)
        self._pending = False
        self._timer = QTimer(self, interval=1000)
        self._timer.timeout.connect(self._tick)
        self.setToolTip("Messages sent per second over the last five minutes")

    @property
    def samples(self) -> list[tuple[float, float]]:
        return list(self._histories.get(self.run_id or -1, ()))

    def add(self, run_id: int, rate: float) -> None:
        history = self._histories.setdefault(run_id, collections.deque())
        now = self._clock()
        history.append((now, max(0.0, rate)))
        while history and history[0][0] < now - WINDOW_SECONDS - 5:
            history.popleft()
        if run_id == self.run_id:
            self._pending = True
            if not self._timer.isActive():  # the first sample after a pause draws at once, the rest wait
                self._tick()
                self._timer.start()

    def show_run(self, run_id: int | None) -> None:
        if run_id != self.run_id:
            self.run_id = run_id
            self._pending = True
            self._tick()

    def _tick(self) -> None:
        if not self._pending:
            self._timer.stop()
            return
        self._pending = False
        self.redraws += 1
        self.update()

    def paintEvent(self, _event: QPaintEvent) -> None:
        colors = theme.colors()
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        frame = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        painter.setPen(QPen(QColor(colors.border), 1))
        painter.setBrush(QColor(colors.base))
        painter.drawRoundedRect(frame, 8, 8)
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, small.pointSizeF() * 0.85))
        painter.setFont(small)
        history = self.samples
        plot = frame.adjusted(56, 10, -12, -22)
        if len(history) < 2:
            painter.setPen(QColor(colors.muted))
            painter.drawText(frame, Qt.AlignmentFlag.AlignCenter,
                             "The send rate appears here while the selected run is sending.")
            painter.end()
            return
        now = self._clock()
        span = min(WINDOW_SECONDS, max(MIN_SPAN, now - history[0][0]))
        top = nice_ceiling(max(rate for _, rate in history) * 1.1)
        grid = QColor(colors.border)
        muted = QColor(colors.muted)
        for fraction in (0.0, 0.5, 1.0):  # grid lines with their values on the left
            y = plot.bottom() - fraction * plot.height()
            painter.setPen(QPen(grid, 1, Qt.PenStyle.DashLine if fraction else Qt.PenStyle.SolidLine))
            painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            painter.setPen(muted)
            painter.drawText(QRectF(frame.left() + 4, y - 8, 48, 16),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, rate_text(top * fraction))
        painter.drawText(QRectF(plot.left(), plot.bottom() + 3, 120, 16), Qt.AlignmentFlag.AlignLeft,
                         f"{span / 60:.0f} min ago")
        painter.drawText(QRectF(plot.right() - 120, plot.bottom() + 3, 120, 16), Qt.AlignmentFlag.AlignRight, "now")

        def point(at: float, rate: float) -> QPointF:
            x = plot.right() - (now - at) / span * plot.width()
            return QPointF(max(plot.left(), x), plot.bottom() - min(1.0, rate / top) * plot.height())

        visible = [(at, rate) for at, rate in history if at >= now - span - 2]
        if len(visible) < 2:
            visible = history[-2:]
        line = QPainterPath(point(*visible[0]))
        for at, rate in visible[1:]:
            line.lineTo(point(at, rate))
        area = QPainterPath(line)
        area.lineTo(QPointF(point(*visible[-1]).x(), plot.bottom()))
        area.lineTo(QPointF(point(*visible[0]).x(), plot.bottom()))
        area.closeSubpath()
        fill = QColor(colors.accent)
        fill.setAlpha(48)
        painter.fillPath(area, fill)
        painter.setPen(QPen(QColor(colors.accent), 2))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(line)
        painter.setBrush(QColor(colors.accent))
        painter.drawEllipse(point(*visible[-1]), 3, 3)
        painter.end()
