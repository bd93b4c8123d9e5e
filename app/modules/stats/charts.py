"""Report charts as matplotlib Figures built from report data, with no Qt: pages embed them, exports save them.

Every function takes plain report data and a :class:`ChartTheme` (light or dark, matching the shell's colours) and
returns a new ``matplotlib.figure.Figure`` (never pyplot: no global state, safe to build off the GUI thread).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

from app.modules.stats.reports import COMPLAINT_LIMIT, Figures, ListGrowth, Report, ReportEntry


@dataclass(frozen=True)
class ChartTheme:
    """Colours of a chart; LIGHT and DARK follow the shell's themes (app/ui/theme.py)."""

    name: str
    background: str
    text: str
    muted: str
    grid: str
    opens: str
    clicks: str
    third: str
    danger: str
    series: tuple[str, ...]


LIGHT = ChartTheme("light", background="#ffffff", text="#1c2230", muted="#5f6776", grid="#e6e8ec",
                   opens="#2e63d6", clicks="#e07b22", third="#23824a", danger="#c2362b",
                   series=("#2e63d6", "#e07b22", "#23824a", "#8e44ad", "#c2362b", "#16a0a8", "#a35c00"))
DARK = ChartTheme("dark", background="#15171b", text="#e5e8ed", muted="#9aa2b1", grid="#2c3038",
                  opens="#5b8def", clicks="#f0a050", third="#5cc98a", danger="#ef6b5e",
                  series=("#5b8def", "#f0a050", "#5cc98a", "#b98ad8", "#ef6b5e", "#4cc6cc", "#e5a54b"))
THEMES = {"light": LIGHT, "dark": DARK}
SIZE = (6.4, 3.0)


def new_figure(theme: ChartTheme, size: tuple[float, float] = SIZE) -> Figure:
    figure = Figure(figsize=size, dpi=100, facecolor=theme.background, layout="constrained")
    figure.set_label(theme.name)
    return figure


def style(ax: Axes, theme: ChartTheme, title: str = "") -> Axes:
    ax.set_facecolor(theme.background)
    for side, spine in ax.spines.items():
        spine.set_visible(side in ("left", "bottom"))
        spine.set_color(theme.grid)
    ax.tick_params(colors=theme.muted, labelsize=8)
    ax.yaxis.label.set_color(theme.muted)
    ax.xaxis.label.set_color(theme.muted)
    ax.grid(True, axis="y", color=theme.grid, linewidth=0.8)
    ax.set_axisbelow(True)
    if title:
        ax.set_title(title, color=theme.text, fontsize=10, loc="left", fontweight="bold")
    return ax


def _legend(ax: Axes, theme: ChartTheme, loc: Any = "best") -> None:
    legend = ax.legend(frameon=False, fontsize=8, loc=loc)
    for text in legend.get_texts():
        text.set_color(theme.text)


def _empty(ax: Axes, theme: ChartTheme, text: str) -> None:
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color=theme.muted, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def _short(url: str, width: int = 42) -> str:
    text = url.split("://", 1)[-1]
    return text if len(text) <= width else text[: width - 1] + "…"


def _days(values: Sequence[dt.date]) -> list[float]:
    """Dates as matplotlib's numbers (days), which its typed API wants."""
    return [float(mdates.date2num(value)) for value in values]  # type: ignore[no-untyped-call]


def _integer_axis(ax: Axes) -> None:
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))


# -- a campaign's charts -----------------------------------------------------------------------------------


def timeline_figure(report: Report, theme: ChartTheme = LIGHT) -> Figure:
    """Opens and clicks per bucket: hourly for the first 48 hours after the send, then daily (UTC)."""
    figure = new_figure(theme)
    ax = style(figure.add_subplot(), theme, "Opens and clicks over time")
    t = report.timeline
    if not t.starts or not (any(t.opens) or any(t.clicks)):
        _empty(ax, theme, "No opens or clicks yet")
        return figure
    x = _days(t.starts)
    widths = [h / 24 * 0.9 for h in t.hours]  # matplotlib's date unit is a day
    ax.bar(x, t.opens, width=widths, align="edge", color=theme.opens, label="Opens")
    ax.bar(x, t.clicks, width=[w * 0.5 for w in widths], align="edge", color=theme.clicks, label="Clicks")
    ax.xaxis_date()
    if len(t.starts) > 48:
        switch = float(x[48])
        ax.axvline(switch, color=theme.muted, linewidth=0.8, linestyle=":")
        ax.text(switch, 1.0, "  daily from here", transform=ax.get_xaxis_transform(), color=theme.muted,
                fontsize=7, va="top")
    ax.set_ylabel("per hour, then per day")
    _integer_axis(ax)
    figure.autofmt_xdate()
    ax.set_xlabel("UTC")
    _legend(ax, theme)
    return figure


def cumulative_figure(report: Report, theme: ChartTheme = LIGHT) -> Figure:
    """People who opened and clicked so far, as a share of delivered messages."""
    figure = new_figure(theme)
    ax = style(figure.add_subplot(), theme, "Cumulative opens and clicks (people, of delivered)")
    t, delivered = report.timeline, report.figures.delivered
    if not t.starts or delivered <= 0:
        _empty(ax, theme, "Nothing delivered yet" if delivered <= 0 else "No opens yet")
        return figure
    ends = [start + dt.timedelta(hours=h) for start, h in zip(t.starts, t.hours, strict=True)]
    opens = [n / delivered for n in t.cumulative(t.first_opens)]
    clicks = [n / delivered for n in t.cumulative(t.first_clicks)]
    ax.plot(_days(ends), opens, color=theme.opens, linewidth=2, label="Opened", drawstyle="steps-post")
    ax.plot(_days(ends), clicks, color=theme.clicks, linewidth=2, label="Clicked", drawstyle="steps-post")
    ax.xaxis_date()
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_ylim(bottom=0)
    figure.autofmt_xdate()
    ax.set_xlabel("UTC")
    _legend(ax, theme)
    return figure


def links_figure(report: Report, theme: ChartTheme = LIGHT, top: int = 10) -> Figure:
    """Clicks per link (the ten most clicked), people and all clicks."""
    rows = [r for r in report.links if r.clicks][:top]
    figure = new_figure(theme, (SIZE[0], max(2.2, 0.9 + 0.32 * len(rows))))
    ax = style(figure.add_subplot(), theme, "Clicks per link")
    if not rows:
        _empty(ax, theme, "No clicks yet")
        return figure
    labels = [_short(r.url) for r in reversed(rows)]
    ax.barh(labels, [r.clicks for r in reversed(rows)], color=theme.clicks, label="Clicks")
    ax.barh(labels, [r.unique_clicks for r in reversed(rows)], height=0.4, color=theme.opens, label="People")
    ax.grid(True, axis="x", color=theme.grid, linewidth=0.8)
    ax.grid(False, axis="y")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _legend(ax, theme, "lower right")
    return figure


def clients_figure(report: Report, theme: ChartTheme = LIGHT, top: int = 8) -> Figure:
    """Opens by mail client and by device."""
    figure = new_figure(theme)
    left, right = figure.subplots(1, 2, width_ratios=(3, 2))
    style(left, theme, "Opens by mail client")
    style(right, theme, "by device")
    clients, devices = report.by_client()[:top], report.by_device()
    if not clients:
        _empty(left, theme, "No opens yet")
        _empty(right, theme, "")
        return figure
    left.barh([c for c, _n in reversed(clients)], [n for _c, n in reversed(clients)], color=theme.opens)
    right.barh([d for d, _n in reversed(devices)], [n for _d, n in reversed(devices)], color=theme.third)
    for ax in (left, right):
        ax.grid(True, axis="x", color=theme.grid, linewidth=0.8)
        ax.grid(False, axis="y")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=4))
    return figure


def domains_figure(report: Report, theme: ChartTheme = LIGHT) -> Figure:
    """Open, click and bounce rates by recipient domain (the largest ten, then the rest)."""
    rows = list(report.domains)
    figure = new_figure(theme, (SIZE[0], max(2.4, 1.0 + 0.38 * len(rows))))
    ax = style(figure.add_subplot(), theme, "Results by recipient domain (of delivered; bounces of sent)")
    if not rows:
        _empty(ax, theme, "Recipients' domains appear once the send has finished")
        return figure
    names = [f"{r.domain} ({r.sent:,})" for r in reversed(rows)]
    positions = list(range(len(rows)))
    height = 0.26
    for offset, (label, values, color) in enumerate((
            ("Opened", [r.open_rate for r in reversed(rows)], theme.opens),
            ("Clicked", [r.click_rate for r in reversed(rows)], theme.clicks),
            ("Bounced", [r.bounce_rate for r in reversed(rows)], theme.danger))):
        ax.barh([p + (1 - offset) * height for p in positions], values, height=height, color=color, label=label)
    ax.set_yticks(positions, names)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.grid(True, axis="x", color=theme.grid, linewidth=0.8)
    ax.grid(False, axis="y")
    _legend(ax, theme)
    return figure


COMPARED = (("Open rate", "open_rate"), ("CTR", "click_rate"), ("CTOR", "click_to_open_rate"),
            ("Unsubscribed", "unsubscribe_rate"), ("Bounced", "bounce_rate"))


def comparison_figure(rows: Sequence[tuple[str, Figures]], theme: ChartTheme = LIGHT,
                      title: str = "Comparison (rates of delivered; bounces of sent)") -> Figure:
    """Several campaigns or A/B variants side by side: open rate, CTR, CTOR, unsubscribes and bounces."""
    figure = new_figure(theme)
    ax = style(figure.add_subplot(), theme, title)
    if not rows:
        _empty(ax, theme, "Nothing to compare yet")
        return figure
    count = len(rows)
    width = 0.8 / count
    for index, (label, figures) in enumerate(rows):
        values = [getattr(figures, attribute) for _name, attribute in COMPARED]
        positions = [i - 0.4 + width * (index + 0.5) for i in range(len(COMPARED))]
        ax.bar(positions, values, width=width * 0.92, color=theme.series[index % len(theme.series)],
               label=label[:30])
    ax.set_xticks(range(len(COMPARED)), [name for name, _a in COMPARED])
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    _legend(ax, theme)
    return figure


def variants_figure(report: Report, theme: ChartTheme = LIGHT) -> Figure:
    return comparison_figure([(f"Variant {v.variant}" if len(v.variant) <= 2 else v.variant.capitalize(),
                               v.figures) for v in report.variants], theme,
                             "A/B variants (rates of delivered; bounces of sent)")


def report_figures(report: Report, theme: ChartTheme = LIGHT) -> dict[str, Figure]:
    """Every chart of a report, by name (the page, the PDF and ``--format png`` use the same set)."""
    figures = {"timeline": timeline_figure(report, theme), "cumulative": cumulative_figure(report, theme),
               "links": links_figure(report, theme), "clients": clients_figure(report, theme),
               "domains": domains_figure(report, theme)}
    if report.variants:
        figures["variants"] = variants_figure(report, theme)
    return figures


# -- the dashboard's charts ----------------------------------------------------------------------------------


def _labels(entries: Sequence[ReportEntry]) -> list[str]:
    return [e.title if len(e.title) <= 16 else e.title[:15] + "…" for e in entries]


def _rates_figure(recent: Sequence[tuple[ReportEntry, Figures]], theme: ChartTheme, title: str,
                  lines: Sequence[tuple[str, str, Callable[[Figures], float]]], decimals: int) -> tuple[Figure, Any]:
    """One line per rate across the latest campaigns (oldest first), as percentages; returns the figure and its
    axes (None when nothing was sent yet)."""
    figure = new_figure(theme)
    ax = style(figure.add_subplot(), theme, title)
    if not recent:
        _empty(ax, theme, "No campaigns sent yet")
        return figure, None
    x = list(range(len(recent)))
    for text, colour, rate in lines:
        ax.plot(x, [rate(f) for _e, f in recent], marker="o", color=colour, linewidth=2, label=text)
    ax.set_xticks(x, _labels([e for e, _f in recent]), rotation=20, ha="right")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=decimals))
    return figure, ax


def engagement_trend_figure(recent: Sequence[tuple[ReportEntry, Figures]], theme: ChartTheme = LIGHT,
                            title: str = "Engagement trend (of delivered)") -> Figure:
    """Open and click rates of the latest campaigns, oldest first."""
    figure, ax = _rates_figure(recent, theme, title, [("Open rate", theme.opens, lambda f: f.open_rate),
                                                      ("CTR", theme.clicks, lambda f: f.click_rate)], 0)
    if ax is not None:
        ax.set_ylim(bottom=0)
        _legend(ax, theme)
    return figure


def deliverability_figure(recent: Sequence[tuple[ReportEntry, Figures]], theme: ChartTheme = LIGHT,
                          title: str = "Deliverability health") -> Figure:
    """Bounce and complaint rates of the latest campaigns against the 0.3% complaint line Gmail and Yahoo set."""
    figure, ax = _rates_figure(recent, theme, title, [
        ("Bounce rate (of sent)", theme.clicks, lambda f: f.bounce_rate),
        ("Complaint rate (of delivered)", theme.danger, lambda f: f.complaint_rate)], 1)
    if ax is None:
        return figure
    ax.axhline(COMPLAINT_LIMIT, color=theme.danger, linestyle="--", linewidth=1)
    ax.text(0.0, COMPLAINT_LIMIT, " 0.3% complaint limit (Gmail, Yahoo)", color=theme.danger, fontsize=7,
            va="bottom", transform=ax.get_yaxis_transform())
    top = max([COMPLAINT_LIMIT * 2] + [max(f.bounce_rate, f.complaint_rate) * 1.2 for _e, f in recent])
    ax.set_ylim(0, top)
    _legend(ax, theme)
    return figure


def list_growth_figure(growth: ListGrowth, theme: ChartTheme = LIGHT, title: str | None = None) -> Figure:
    """Subscriptions (up) and unsubscribes (down) per day, and the net change over the period."""
    figure = new_figure(theme)
    ax = style(figure.add_subplot(), theme, f"List growth, last {len(growth.days)} days" if title is None else title)
    if not growth.days or not (any(growth.subscribed) or any(growth.unsubscribed)):
        _empty(ax, theme, "No subscriptions or unsubscribes in this period")
        return figure
    x = _days(growth.days)
    ax.bar(x, growth.subscribed, color=theme.third, label="Subscribed")
    ax.bar(x, [-n for n in growth.unsubscribed], color=theme.danger, label="Unsubscribed")
    ax.plot(x, growth.net, color=theme.opens, linewidth=2, label="Net")
    ax.xaxis_date()
    ax.axhline(0, color=theme.muted, linewidth=0.8)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:+,.0f}" if value else "0"))
    figure.autofmt_xdate()
    _legend(ax, theme)
    return figure


# -- saving -----------------------------------------------------------------------------------------------------


def save_figure(figure: Figure, path: Path | str, **options: Any) -> Path:
    """Save as PNG, SVG or PDF by the file's suffix (PNG at 150 dpi unless ``dpi`` is given)."""
    target = Path(path)
    suffix = target.suffix.lower().lstrip(".")
    if suffix not in ("png", "svg", "pdf"):
        raise ValueError(f"charts are saved as .png, .svg or .pdf, not {target.name!r}")
    options.setdefault("dpi", 150)
    figure.savefig(target, format=suffix, facecolor=figure.get_facecolor(), **options)
    return target
