"""Each chart built offscreen (no Qt) from hand-made report data: its series carry exactly the report's numbers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from matplotlib import dates as mdates
from matplotlib.patches import Rectangle

from app.modules.stats import charts
from app.modules.stats.reports import (
    COMPLAINT_LIMIT,
    ClientRow,
    DomainRow,
    Figures,
    LinkRow,
    ListGrowth,
    Report,
    ReportEntry,
    Timeline,
    VariantRow,
)

T0 = dt.datetime(2026, 3, 2, 9, 0)
A = Figures(sent=100, bounced_hard=2, bounced_soft=2, unique_opens=48, total_opens=70, unique_clicks=12,
            total_clicks=20, unsubscribes=1, complaints=0)
B = Figures(sent=100, bounced_hard=4, unique_opens=32, total_opens=40, unique_clicks=16, total_clicks=18,
            complaints=1)


def report() -> Report:
    starts = (*(T0 + dt.timedelta(hours=h) for h in range(48)), T0 + dt.timedelta(hours=48))
    opens = [0] * 49
    opens[1], opens[2], opens[48] = 30, 10, 5
    clicks = [0] * 49
    clicks[2] = 7
    first_opens = [0] * 49
    first_opens[1], first_opens[2] = 24, 6
    first_clicks = [0] * 49
    first_clicks[2] = 6
    return Report(key="c7", kind="campaign", title="Spring sale", subject="Spring!", started_at=T0,
                  include_machine=False, run_ids=(4, 5), figures=A,
                  variants=(VariantRow("A", (4,), A), VariantRow("B", (5,), B)),
                  timeline=Timeline(starts, (1,) * 48 + (24,), tuple(opens), tuple(clicks), tuple(first_opens),
                                    tuple(first_clicks)),
                  links=(LinkRow("https://shop.example.com/sale", 15, 9), LinkRow("https://example.com/b", 5, 4)),
                  clients=(ClientRow("Apple Mail", "mobile", 40), ClientRow("Gmail", "proxy", 20),
                           ClientRow("Apple Mail", "desktop", 10)),
                  domains=(DomainRow("gmail.com", 60, 3, 30, 9), DomainRow("gmx.de", 40, 1, 13, 3)))


def bars(ax: object) -> list[Rectangle]:
    return [p for p in ax.patches if isinstance(p, Rectangle)]  # type: ignore[attr-defined]


@pytest.mark.parametrize("theme", [charts.LIGHT, charts.DARK])
def test_timeline_has_hourly_then_daily_bars(theme: charts.ChartTheme) -> None:
    figure = charts.timeline_figure(report(), theme)
    ax = figure.axes[0]
    heights = [p.get_height() for p in bars(ax)]
    assert heights[:49] == list(report().timeline.opens)  # opens first, then clicks
    assert heights[49:] == list(report().timeline.clicks)
    widths = [round(p.get_width() * 24, 3) for p in bars(ax)[:49]]
    assert widths[:48] == [0.9] * 48
    assert widths[48] == pytest.approx(21.6)  # a day
    assert bars(ax)[0].get_x() == pytest.approx(mdates.date2num(T0))
    assert figure.get_facecolor()[:3] == pytest.approx(tuple(int(theme.background[i:i + 2], 16) / 255
                                                             for i in (1, 3, 5)))
    assert ax.get_title(loc="left") == "Opens and clicks over time"


def test_cumulative_curves_are_shares_of_delivered() -> None:
    ax = charts.cumulative_figure(report()).axes[0]
    opened, clicked = ax.get_lines()
    assert opened.get_label() == "Opened"
    assert list(opened.get_ydata())[:4] == pytest.approx([0, 24 / 96, 30 / 96, 30 / 96])
    assert list(clicked.get_ydata())[-1] == pytest.approx(6 / 96)


def test_links_clients_and_domains() -> None:
    links = charts.links_figure(report()).axes[0]
    assert [p.get_width() for p in bars(links)] == [5, 15, 4, 9]  # least clicked at the bottom
    assert [t.get_text() for t in links.get_yticklabels()] == ["example.com/b", "shop.example.com/sale"]
    by_client, by_device = charts.clients_figure(report()).axes
    assert [p.get_width() for p in bars(by_client)] == [20, 50]
    assert [t.get_text() for t in by_client.get_yticklabels()] == ["Gmail", "Apple Mail"]
    assert sorted(p.get_width() for p in bars(by_device)) == [10, 20, 40]
    domains = charts.domains_figure(report()).axes[0]
    widths = [p.get_width() for p in bars(domains)]
    assert widths[:2] == pytest.approx([13 / 39, 30 / 57])  # open rates of delivered, gmx.de at the bottom
    assert widths[4:] == pytest.approx([1 / 40, 3 / 60])  # bounce rates of sent


def test_comparison_of_variants_and_campaigns() -> None:
    ax = charts.variants_figure(report()).axes[0]
    heights = [p.get_height() for p in bars(ax)]
    assert heights[:5] == pytest.approx([A.open_rate, A.click_rate, A.click_to_open_rate, A.unsubscribe_rate,
                                         A.bounce_rate])
    assert heights[5:] == pytest.approx([B.open_rate, B.click_rate, B.click_to_open_rate, 0.0, B.bounce_rate])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Variant A", "Variant B"]
    three = charts.comparison_figure([("one", A), ("two", B), ("three", A)]).axes[0]
    assert len(bars(three)) == 15


def test_dashboard_charts() -> None:
    entries = [ReportEntry(f"c{i}", "campaign", name, T0, 100, 1) for i, name in enumerate(("March", "April"))]
    recent = list(zip(entries, (A, B), strict=True))
    trend = charts.engagement_trend_figure(recent).axes[0]
    assert list(trend.get_lines()[0].get_ydata()) == pytest.approx([A.open_rate, B.open_rate])
    health = charts.deliverability_figure(recent).axes[0]
    _bounce, complaint, limit = health.get_lines()
    assert list(complaint.get_ydata()) == pytest.approx([0.0, 1 / 96])
    assert list(limit.get_ydata()) == [COMPLAINT_LIMIT, COMPLAINT_LIMIT]  # the 0.3% line
    growth = ListGrowth((dt.date(2026, 3, 1), dt.date(2026, 3, 2)), (5, 3), (1, 4))
    ax = charts.list_growth_figure(growth).axes[0]
    assert [p.get_height() for p in bars(ax)] == [5, 3, -1, -4]
    assert list(ax.get_lines()[0].get_ydata()) == [4, 3]


def test_empty_reports_say_so() -> None:
    empty = Report(key="r1", kind="run", title="Send 1", subject="", started_at=None, include_machine=False,
                   run_ids=(1,), figures=Figures())
    for figure in charts.report_figures(empty).values():
        texts = [t.get_text() for t in figure.axes[0].texts]
        assert texts  # "No opens yet" and the like, never an empty frame
        assert texts[0]


def test_charts_save_as_png_and_svg(tmp_path: Path) -> None:
    figure = charts.timeline_figure(report(), charts.DARK)
    assert charts.save_figure(figure, tmp_path / "t.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in charts.save_figure(figure, tmp_path / "t.svg").read_bytes()[:400]
    with pytest.raises(ValueError, match=r"\.png, \.svg or \.pdf"):
        charts.save_figure(figure, tmp_path / "t.gif")
