"""Keyset windows over a million contacts: a total count and any ``rows(offset, limit)`` in a few milliseconds."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Integer, Select, String, bindparam, func, select, true, tuple_, type_coerce
from sqlalchemy.orm import Session

from app.kernel.database import Database
from app.modules.contacts.models import Contact
from app.modules.contacts.queries import ContactFilter, ContactRow, ContactSort, decorate, filter_clause

BLOCK = 500  # an anchor (the sort key) is kept for every BLOCK-th row: a deep offset costs a seek plus < BLOCK steps


_RAW = String()  # keys travel as the database stores them, so a seek compares exactly what the index holds


@dataclass(frozen=True)
class _Phase:
    """A stretch of the sorted result with a clean keyset: a condition, key columns, and a direction.

    Sorting by a column that may be NULL (last open) is two phases, so never-opened contacts come last
    in both directions and each phase still walks an index.
    """

    condition: ColumnElement[bool]
    keys: tuple[Any, ...]
    descending: bool

    def ordered(self, query: Select[Any]) -> Select[Any]:
        return query.order_by(*(k.desc() if self.descending else k.asc() for k in self.keys))

    def raw_keys(self) -> list[Any]:
        return [type_coerce(k, _RAW) for k in self.keys]

    def from_key(self) -> ColumnElement[bool]:
        """Rows at or after the key given as parameters ``k0``, ``k1``... in this phase's order."""
        bound = tuple_(*(bindparam(f"k{i}", type_=_RAW) for i in range(len(self.keys))))
        columns = tuple_(*self.keys)
        return columns <= bound if self.descending else columns >= bound

    def params(self, key: tuple[Any, ...] | None) -> dict[str, Any]:
        return {} if key is None else {f"k{i}": value for i, value in enumerate(key)}


def _phases(sort: ContactSort) -> tuple[_Phase, ...]:
    if sort.key == "email":
        return (_Phase(true(), (Contact.email_key,), sort.descending),)
    if sort.key == "last_open":
        return (_Phase(Contact.last_open_at.is_not(None), (Contact.last_open_at, Contact.id), sort.descending),
                _Phase(Contact.last_open_at.is_(None), (Contact.id,), sort.descending))
    return (_Phase(true(), (Contact.created_at, Contact.id), sort.descending),)


_ROW_COLUMNS = (Contact.id, Contact.email, Contact.first_name, Contact.last_name, Contact.created_at,
                Contact.last_open_at, Contact.email_hash)


@dataclass
class _Statements:
    """The few statements a window runs, built once so each read only binds new values."""

    key_at: list[tuple[Select[Any], Select[Any]]]  # per phase: (from the start, from a key), OFFSET :skip LIMIT 1
    rows: list[tuple[Select[Any], Select[Any]]]  # per phase: rows, LIMIT :take
    ids: list[tuple[Select[Any], Select[Any]]]


class ContactWindow:
    """A filtered, sorted set of contacts read by offset, the way a virtual table asks for it.

    ``count()`` sizes the set; ``rows(offset, limit)`` reads a window. Anchors (the sort key of every
    BLOCK-th row) turn a deep offset into a short keyset seek; ``build_index()`` collects all of them in
    one pass, and reads learn them as they go. Safe to use from several threads (one read each).
    """

    def __init__(self, db: Database, flt: ContactFilter | None = None, sort: ContactSort | None = None) -> None:
        self.db = db
        self.filter = flt or ContactFilter()
        self.sort = sort or ContactSort()
        self._phases = _phases(self.sort)
        self._lock = threading.Lock()
        self._sizes: list[int] | None = None
        self._anchors: list[dict[int, tuple[Any, ...]]] = [{} for _ in self._phases]
        self._statements: _Statements | None = None
        self.indexed = False

    def _prepared(self, session: Session) -> _Statements:
        if self._statements is None:
            where = filter_clause(session, self.filter)
            skip, take = bindparam("skip", type_=Integer()), bindparam("take", type_=Integer())

            def pair(columns: list[Any], phase: _Phase, offset: bool) -> tuple[Select[Any], Select[Any]]:
                base = phase.ordered(select(*columns).where(where, phase.condition))
                base = base.offset(skip).limit(1) if offset else base.limit(take)
                return base, base.where(phase.from_key())

            self._statements = _Statements(
                key_at=[pair(p.raw_keys(), p, True) for p in self._phases],
                rows=[pair([*_ROW_COLUMNS, *p.raw_keys()], p, False) for p in self._phases],
                ids=[pair([Contact.id, *p.raw_keys()], p, False) for p in self._phases])
        return self._statements

    # counting ----------------------------------------------------------------------------------

    def count(self) -> int:
        """How many contacts match (and, when sorting by a nullable column, how many in each phase)."""
        with self.db.read() as session:
            query = select(func.count()).select_from(Contact)
            if not self.filter.is_empty:  # a bare COUNT(*) lets SQLite count the smallest index
                query = query.where(filter_clause(session, self.filter, counting=True))
            total = int(session.scalar(query) or 0)
            sizes = [total]
            if len(self._phases) == 2:
                first = int(session.scalar(query.where(self._phases[0].condition)) or 0)
                sizes = [first, total - first]
        with self._lock:
            self._sizes = sizes
        return total

    @property
    def total(self) -> int | None:
        with self._lock:
            return sum(self._sizes) if self._sizes is not None else None

    # reading -----------------------------------------------------------------------------------

    def distance(self, offset: int) -> int:
        """How many rows a read at ``offset`` must skip before its first row (0 at a known anchor)."""
        placed = self._place(offset)
        if placed is None:
            return offset
        phase_no, local = placed
        start, _ = self._nearest_anchor(phase_no, local)
        return local - start

    def rows(self, offset: int, limit: int = BLOCK) -> list[ContactRow]:
        """The contacts at ``offset`` .. ``offset + limit - 1`` of the sorted set."""
        with self.db.read() as session:
            bare = self._read(session, offset, limit, "rows")
            return decorate(session, bare, self.filter)

    def ids(self, offset: int, limit: int) -> list[int]:
        with self.db.read() as session:
            return [row[0] for row in self._read(session, offset, limit, "ids")]

    def _read(self, session: Session, offset: int, limit: int, kind: str) -> list[Any]:
        if self._sizes is None:
            self.count()
        statements = self._prepared(session)
        connection = session.connection()
        out: list[Any] = []
        local = offset
        for phase_no, size in enumerate(list(self._sizes or [])):
            if local >= size:
                local -= size
                continue
            phase = self._phases[phase_no]
            key = self._key_at(connection, statements, phase_no, local)
            if key is None:
                break
            keyed = getattr(statements, kind)[phase_no][1]
            want = limit - len(out)
            got = connection.execute(keyed, {**phase.params(key), "take": want}).all()
            width = len(got[0]) - len(phase.keys) if got else 0
            for position, row in enumerate(got, start=local):
                if position % BLOCK == 0:
                    self._learn(phase_no, position, tuple(row[width:]))
            out.extend(tuple(row[:width]) for row in got)
            local = 0
            if len(out) >= limit:
                break
        return out

    def _key_at(self, connection: Any, statements: _Statements, phase_no: int, local: int) -> tuple[Any, ...] | None:
        """The sort key of the row at ``local`` in a phase: a known anchor, or a seek on the narrow index."""
        start, key = self._nearest_anchor(phase_no, local)
        if key is not None and start == local:
            return key
        plain, keyed = statements.key_at[phase_no]
        params = {**self._phases[phase_no].params(key), "skip": local - start}
        found = connection.execute(keyed if key is not None else plain, params).first()
        if found is None:
            return None
        if local % BLOCK == 0:
            self._learn(phase_no, local, tuple(found))
        return tuple(found)

    def _place(self, offset: int) -> tuple[int, int] | None:
        with self._lock:
            sizes = list(self._sizes) if self._sizes is not None else None
        if sizes is None:
            return None
        for phase_no, size in enumerate(sizes):
            if offset < size:
                return phase_no, offset
            offset -= size
        return len(sizes) - 1, offset

    def _nearest_anchor(self, phase_no: int, local: int) -> tuple[int, tuple[Any, ...] | None]:
        with self._lock:
            anchors = self._anchors[phase_no]
            exact = local - local % BLOCK
            if exact in anchors:
                return exact, anchors[exact]
            below = [at for at in anchors if at <= local]
            if not below:
                return 0, None
            best = max(below)
            return best, anchors[best]

    def _learn(self, phase_no: int, position: int, key: tuple[Any, ...]) -> None:
        with self._lock:
            self._anchors[phase_no].setdefault(position, key)

    # indexing ----------------------------------------------------------------------------------

    def build_index(self, cancelled: Callable[[], bool] = lambda: False) -> bool:
        """Collect the anchor of every block in one pass over the sorted set; False when cancelled."""
        if self._sizes is None:
            self.count()
        with self.db.read() as session:
            statements = self._prepared(session)
            connection = session.connection()
            for phase_no, phase in enumerate(self._phases):
                plain, keyed = statements.key_at[phase_no]
                first = connection.execute(plain, {"skip": 0}).first()
                if first is None:
                    continue
                key, position = tuple(first), 0
                self._learn(phase_no, 0, key)
                while True:
                    if cancelled():
                        return False
                    found = connection.execute(keyed, {**phase.params(key), "skip": BLOCK}).first()
                    if found is None:
                        break
                    key, position = tuple(found), position + BLOCK
                    self._learn(phase_no, position, key)
        self.indexed = True
        return True

    def anchor_count(self) -> int:
        with self._lock:
            return sum(len(a) for a in self._anchors)
