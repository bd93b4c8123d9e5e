"""The click map: the email as a recipient received it (its stored web view), each tracked link marked with its
clicks and share of all clicks, so a marketer sees which part of the email worked."""

from __future__ import annotations

import html as html_lib
import re

from sqlalchemy import select

from app.kernel.database import Database
from app.modules.stats.models import WebView
from app.modules.stats.published import webview_html
from app.modules.stats.reports import Report

# A tracked link's href: <base>/c/<key>.<run>.<recipient>.<link id>.<issued>.<signature>
_TRACKED = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*["'][^"']*/c/"""
                      r"""[a-z0-9]{1,8}\.\d+\.\d+\.(\d+)\.\d+\.[A-Za-z0-9_-]{22}["'][^>]*>)(.*?)(</a\s*>)""",
                      re.IGNORECASE | re.DOTALL)


def sample_html(db: Database, run_ids: tuple[int, ...]) -> str | None:
    """One recipient's stored HTML for the report's first run that kept web views."""
    for run_id in run_ids:
        with db.read() as session:
            contact_id = session.scalar(select(WebView.contact_id).where(WebView.run_id == run_id)
                                        .order_by(WebView.id).limit(1))
        if contact_id is not None:
            return webview_html(db, run_id, int(contact_id))
    return None


def annotate(html: str, report: Report, color: str = "#e07b22") -> str:
    """``html`` with a badge after each tracked link: its clicks and its share of the report's clicks."""
    by_link: dict[int, tuple[int, int]] = {}
    total = sum(row.clicks for row in report.links)
    for row in report.links:
        for link_id in row.link_ids:
            by_link[link_id] = (row.clicks, row.unique_clicks)

    def badge(match: re.Match[str]) -> str:
        clicks, people = by_link.get(int(match[2]), (0, 0))
        share = f"{clicks / total:.0%}" if total else "0%"
        title = html_lib.escape(f"{clicks} clicks by {people} people")
        mark = (f'<span title="{title}" style="background-color:{color}; color:#ffffff; font-size:11px; '
                f'font-weight:bold; padding:1px 5px; border-radius:8px; white-space:nowrap;">'
                f"&nbsp;{clicks:,} · {share}&nbsp;</span>")
        return f"{match[1]}{match[3]}{match[4]}&nbsp;{mark}"

    return _TRACKED.sub(badge, html)
