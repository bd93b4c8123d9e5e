"""What the app publishes for the endpoint: registered links, per-recipient web views and list names.

Web views are stored per recipient exactly as sent, deflated against a per-run dictionary (the run's first
message), so each further recipient costs only its differences (their name, their links), typically a few hundred
bytes instead of the whole email.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Table, delete, select
from sqlalchemy.orm import Session

from app.kernel.database import Database, utcnow
from app.modules.stats.models import ListName, TrackedLink, WebView, WebViewBase

MAX_URL_LENGTH = 8000
_DICTIONARY_BYTES = 32 * 1024  # deflate looks back at most 32 KB


def insert_ignoring_duplicates(session: Session, table: Table, rows: Sequence[Mapping[str, Any]],
                               keys: Sequence[str]) -> None:
    """INSERT rows, skipping those whose unique ``keys`` already exist (SQLite and PostgreSQL)."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        session.execute(pg_insert(table).on_conflict_do_nothing(index_elements=list(keys)), list(rows))
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        session.execute(sqlite_insert(table).on_conflict_do_nothing(index_elements=list(keys)), list(rows))


def url_hash(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()


def check_url(url: str) -> str:
    """A link a click may lead to: http(s) only, no control characters, of a sane length."""
    if not isinstance(url, str) or not url.strip():
        raise ValueError("a link needs a URL")
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(f"the link {url[:60]}... is longer than {MAX_URL_LENGTH} characters")
    if not url.lower().startswith(("http://", "https://")):
        raise ValueError(f"only http and https links can be tracked, not {url[:60]!r}")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise ValueError(f"the link {url[:60]!r} contains control characters")
    return url


def register_links(db: Database, run_id: int, urls: Iterable[str]) -> dict[str, int]:
    """Register ``urls`` for a run (idempotent: the same URL keeps its id) and return url -> link id."""
    wanted = {check_url(url) for url in urls}
    if not wanted:
        return {}
    table = TrackedLink.__table__
    rows = [{"run_id": run_id, "url_hash": url_hash(u), "url": u, "created_at": utcnow()} for u in sorted(wanted)]
    with db.transaction() as session:
        insert_ignoring_duplicates(session, table, rows, ["run_id", "url_hash"])  # type: ignore[arg-type]
        hashes = [row["url_hash"] for row in rows]
        found: dict[str, int] = {}
        for start in range(0, len(hashes), 900):
            query = select(TrackedLink.url, TrackedLink.id).where(
                TrackedLink.run_id == run_id, TrackedLink.url_hash.in_(hashes[start:start + 900]))
            found.update({url: int(link_id) for url, link_id in session.execute(query).all()})
    return found


def link_target(db: Database, link_id: int) -> tuple[int, str] | None:
    """(run id, URL) of a registered link."""
    with db.read() as session:
        row = session.execute(select(TrackedLink.run_id, TrackedLink.url).where(TrackedLink.id == link_id)).first()
    return (int(row[0]), str(row[1])) if row is not None else None


def link_targets(db: Database, link_ids: Iterable[int]) -> dict[int, str]:
    """link id -> URL for registered links (unknown ids are left out)."""
    wanted = sorted(set(link_ids))
    found: dict[int, str] = {}
    with db.read() as session:
        for start in range(0, len(wanted), 900):
            found.update((int(i), str(u)) for i, u in session.execute(
                select(TrackedLink.id, TrackedLink.url).where(TrackedLink.id.in_(wanted[start:start + 900]))))
    return found


def store_links(session: Session, links: Sequence[Mapping[str, Any]]) -> int:
    """Store links pushed by the app with their ids (the endpoint must know the ids the tokens carry)."""
    rows = [{"id": int(link["id"]), "run_id": int(link["run_id"]), "url": check_url(link["url"]),
             "url_hash": url_hash(check_url(link["url"])), "created_at": utcnow()} for link in links]
    insert_ignoring_duplicates(session, TrackedLink.__table__, rows, ["id"])  # type: ignore[arg-type]
    return len(rows)


# -- web views ------------------------------------------------------------------------------------------


def _run_dictionary(session: Session, run_id: int, first_html: str) -> bytes:
    stored = session.scalar(select(WebViewBase.dictionary).where(WebViewBase.run_id == run_id))
    if stored is not None:
        return bytes(stored)
    dictionary = first_html.encode("utf-8")[:_DICTIONARY_BYTES]
    insert_ignoring_duplicates(session, WebViewBase.__table__,  # type: ignore[arg-type]
                               [{"run_id": run_id, "dictionary": dictionary, "created_at": utcnow()}], ["run_id"])
    return bytes(session.scalar(select(WebViewBase.dictionary).where(WebViewBase.run_id == run_id)) or dictionary)


def _deflate(html: str, dictionary: bytes) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY, zdict=dictionary)
    return packer.compress(html.encode("utf-8")) + packer.flush()


def _inflate(body: bytes, dictionary: bytes) -> str:
    unpacker = zlib.decompressobj(15, zdict=dictionary)
    return (unpacker.decompress(body) + unpacker.flush()).decode("utf-8")


def store_webviews(db: Database, run_id: int, items: Sequence[tuple[int, str]]) -> int:
    """Keep the HTML each recipient received, for the web view; storing a recipient twice keeps the first."""
    if not items:
        return 0
    with db.transaction() as session:
        dictionary = _run_dictionary(session, run_id, items[0][1])
        rows = [{"run_id": run_id, "contact_id": int(contact_id), "body": _deflate(html, dictionary),
                 "stored_at": utcnow()} for contact_id, html in items]
        insert_ignoring_duplicates(session, WebView.__table__, rows, ["run_id", "contact_id"])  # type: ignore[arg-type]
    return len(rows)


def webview_html(db: Database, run_id: int, contact_id: int) -> str | None:
    with db.read() as session:
        row = session.execute(
            select(WebView.body, WebViewBase.dictionary)
            .join(WebViewBase, WebViewBase.run_id == WebView.run_id)
            .where(WebView.run_id == run_id, WebView.contact_id == contact_id)).first()
    return _inflate(bytes(row[0]), bytes(row[1])) if row is not None else None


def store_pushed_webviews(session: Session, bases: Sequence[Mapping[str, Any]],
                          views: Sequence[Mapping[str, Any]]) -> int:
    """Store web views pushed by the app as they are (already deflated against their run's dictionary)."""
    import base64

    insert_ignoring_duplicates(session, WebViewBase.__table__, [  # type: ignore[arg-type]
        {"run_id": int(b["run_id"]), "dictionary": base64.b64decode(b["dictionary"]), "created_at": utcnow()}
        for b in bases], ["run_id"])
    rows = [{"run_id": int(v["run_id"]), "contact_id": int(v["contact_id"]), "body": base64.b64decode(v["body"]),
             "stored_at": utcnow()} for v in views]
    insert_ignoring_duplicates(session, WebView.__table__, rows, ["run_id", "contact_id"])  # type: ignore[arg-type]
    return len(rows)


# -- list names -----------------------------------------------------------------------------------------


def replace_list_names(session: Session, names: Mapping[int, str]) -> None:
    """Make the stored list names exactly ``names`` (lists deleted in the app disappear from the page)."""
    current = {int(list_id): name for list_id, name in session.execute(select(ListName.list_id, ListName.name))}
    gone = set(current) - set(names)
    if gone:
        session.execute(delete(ListName).where(ListName.list_id.in_(gone)))
    for list_id, name in names.items():
        if list_id not in current:
            session.add(ListName(list_id=list_id, name=name[:200], updated_at=utcnow()))
        elif current[list_id] != name:
            row = session.get(ListName, list_id)
            if row is not None:
                row.name, row.updated_at = name[:200], utcnow()


def list_names(db: Database) -> list[tuple[int, str]]:
    with db.read() as session:
        return [(int(i), str(n)) for i, n in session.execute(
            select(ListName.list_id, ListName.name).order_by(ListName.name))]
