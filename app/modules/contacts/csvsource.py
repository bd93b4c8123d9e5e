"""Reads a CSV file a person picked: detects encoding and delimiter, cleans the header, streams rows safely."""

from __future__ import annotations

import codecs
import csv
import io
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

MAX_FIELD = 1_048_576  # deliberately above csv's 128 KiB default: long notes are real, 1 MiB is not a name
MAX_LINE = 4 * MAX_FIELD  # a physical line longer than this is skipped without being held in memory
SAMPLE_BYTES = 65_536
READ_BUFFER = 1 << 20
PAUSE_EVERY = 1000
DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
ENCODINGS = {  # codec -> what a person calls it; the order is the override menu's
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 with BOM",
    "utf-16": "UTF-16 with BOM",
    "utf-16-le": "UTF-16 LE",
    "utf-16-be": "UTF-16 BE",
    "cp1252": "Windows-1252 (Western Europe)",
    "latin-1": "ISO-8859-1 (Latin-1)",
}
NOT_TEXT = "this is not a text CSV file"
_MAGIC = (
    (b"PK\x03\x04", "it looks like an Excel workbook or a ZIP archive; open it in your spreadsheet and save it as CSV"),
    (b"\xd0\xcf\x11\xe0", "it looks like an old Excel (.xls) workbook; open it in your spreadsheet and save it as CSV"),
    (b"%PDF", "it is a PDF document"),
    (b"\x89PNG", "it is a PNG image"),
    (b"\xff\xd8\xff", "it is a JPEG image"),
    (b"GIF8", "it is a GIF image"),
    (b"\x1f\x8b", "it is a gzip-compressed file; decompress it first"),
    (b"SQLite format 3\x00", "it is a SQLite database"),
)
_CONTROL_BYTES = frozenset(range(32)) - {9, 10, 12, 13} | {127}
csv.field_size_limit(MAX_FIELD)


def pause() -> None:
    """Let a waiting thread (the GUI) take the GIL. The csv module's C loop kept it from a waiting GUI thread for
    100 ms and more; a 0.1 ms sleep every thousand rows costs about 0.1 s per million rows and ends that."""
    time.sleep(0.0001)


class CsvFileError(Exception):
    """The file cannot be read as CSV at all; the message says why, in words a person understands."""


@dataclass(frozen=True)
class CsvFormat:
    encoding: str  # a codec name from ENCODINGS
    delimiter: str

    @property
    def label(self) -> str:
        return f"{ENCODINGS.get(self.encoding, self.encoding)}, {DELIMITER_NAMES.get(self.delimiter, self.delimiter)}"


@dataclass(frozen=True)
class CsvRow:
    """One record. ``number`` is its row in a spreadsheet (the header is row 1); ``problem`` marks an unreadable row."""

    number: int
    values: list[str]
    problem: str = ""
    note: str = ""


@dataclass
class CsvPreview:
    format: CsvFormat
    detected: CsvFormat
    columns: list[str]
    rows: list[list[str]]
    notes: list[str] = field(default_factory=list)
    size_bytes: int = 0


# -- encoding ------------------------------------------------------------------------------------------

_fallback_counter = threading.local()


def _fallback(exc: UnicodeError) -> tuple[str, int]:
    # A file that is mostly UTF-8 with a few Windows-1252 bytes (two exports pasted together) is common:
    # read those bytes as Windows-1252 rather than failing halfway, and count them for the report.
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start:exc.end]
    _fallback_counter.count = getattr(_fallback_counter, "count", 0) + len(bad)
    return "".join(_byte_char(byte) for byte in bad), exc.end


def _byte_char(byte: int) -> str:
    try:
        return bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:
        return chr(byte)


codecs.register_error("postroom-csv", _fallback)


def _read_sample(path: Path) -> tuple[bytes, int]:
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            sample = handle.read(SAMPLE_BYTES)
    except IsADirectoryError:
        raise CsvFileError(f"{path.name} is a folder, not a file") from None
    except FileNotFoundError:
        raise CsvFileError(f"{path} does not exist") from None
    except OSError as exc:
        raise CsvFileError(f"cannot open {path.name}: {exc.strerror or exc}") from None
    return sample, size


def detect_encoding(sample: bytes) -> tuple[str, list[str]]:  # noqa: PLR0911 - one return per kind of file
    """The codec to read the file with, from its first bytes; raises :class:`CsvFileError` for binary files."""
    notes: list[str] = []
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", notes
    if sample.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise CsvFileError(f"{NOT_TEXT}: it is in UTF-32, which spreadsheets do not write; save it as UTF-8")
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", notes
    for magic, what in _MAGIC:
        if sample.startswith(magic):
            raise CsvFileError(f"{NOT_TEXT}: {what}")
    nuls = sample.count(0)
    if nuls > len(sample) // 4:
        # UTF-16 without a BOM: every other byte of ASCII text is zero.
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        if odd > 0.9 * nuls and odd > len(sample) // 5:
            notes.append("The file has no byte order mark; it was read as UTF-16 LE.")
            return "utf-16-le", notes
        if even > 0.9 * nuls and even > len(sample) // 5:
            notes.append("The file has no byte order mark; it was read as UTF-16 BE.")
            return "utf-16-be", notes
    controls = sum(1 for byte in sample if byte in _CONTROL_BYTES)
    # Random or compressed bytes are about 11% control characters; text has almost none (a stray NUL or two).
    if controls > len(sample) * 0.08 or (nuls > 16 and nuls > len(sample) * 0.01):
        raise CsvFileError(f"{NOT_TEXT}: it is full of binary data")
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(sample, final=len(sample) < SAMPLE_BYTES)
    except UnicodeDecodeError:
        try:
            sample.decode("cp1252")
        except UnicodeDecodeError:
            return "latin-1", notes
        return "cp1252", notes
    return "utf-8", notes


def detect_delimiter(text: str) -> str:
    """The delimiter among , ; tab | that splits the first lines most consistently into several columns."""
    lines = text.splitlines(keepends=True)[:60]
    if len(lines) > 1 and not text.endswith(("\n", "\r")):
        lines = lines[:-1]  # the sample ends mid-line
    if not lines:
        return ","
    try:
        sniffed = csv.Sniffer().sniff("".join(lines[:30])[:32_768], delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        sniffed = ""
    best, best_score = ",", (-1.0, 0, 0)
    for delimiter in DELIMITERS:
        try:
            counts = [len(row) for row in csv.reader(lines, delimiter=delimiter) if row]
        except csv.Error:
            continue
        if not counts or max(counts) < 2:
            continue
        mode = max(set(counts), key=counts.count)
        consistency = counts.count(mode) / len(counts)
        score = (round(consistency, 2), int(delimiter == sniffed), mode)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def detect_format(path: Path) -> tuple[CsvFormat, list[str]]:
    sample, size = _read_sample(path)
    if not sample.strip(b" \t\r\n\x00") or sample in (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        raise CsvFileError(f"{path.name} is empty" if size == 0 else f"{path.name} has no rows")
    encoding, notes = detect_encoding(sample)
    text = sample.decode(encoding, errors="replace")
    if encoding == "utf-8-sig" or (encoding == "utf-16" and text.startswith("\ufeff")):
        text = text.lstrip("\ufeff")
    stripped = text.replace("\x00", "")
    if stripped and sum(1 for ch in stripped[:20_000] if ch == "\ufffd" or (ch < " " and ch not in "\t\r\n\f")) \
            > len(stripped[:20_000]) * 0.05:
        raise CsvFileError(f"{NOT_TEXT}: its bytes do not read as text in {ENCODINGS.get(encoding, encoding)}")
    return CsvFormat(encoding, detect_delimiter(stripped)), notes


# -- reading ------------------------------------------------------------------------------------------------


class _LineTooLong(Exception):  # noqa: N818 - internal signal, never shown
    pass


class _Lines:
    """Feeds the csv reader physical lines and remembers those of the current record (to recover from bad quotes)."""

    def __init__(self, text: io.TextIOBase) -> None:
        self._text = text
        self.record: list[str] = []
        self.pushback: deque[str] = deque()
        self.nul = False
        self.line_no = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self.pushback:
            line = self.pushback.popleft()
        else:
            line = self._text.readline(MAX_LINE)
            if not line:
                raise StopIteration
            self.line_no += 1
            if len(line) >= MAX_LINE and not line.endswith(("\n", "\r")):
                while True:  # drop the rest of the monster line without holding it
                    rest = self._text.readline(MAX_LINE)
                    if not rest or rest.endswith(("\n", "\r")):
                        break
                raise _LineTooLong
            if "\x00" in line:
                line = line.replace("\x00", "")
                self.nul = True
        self.record.append(line)
        return line


class CsvReader:
    """An open CSV file: ``format``, ``columns`` (unique, never blank) and ``notes``; ``rows()`` streams the data."""

    def __init__(self, path: Path, encoding: str | None = None, delimiter: str | None = None) -> None:
        self.path = Path(path)
        self.detected, self.notes = detect_format(self.path)
        self.format = CsvFormat(encoding or self.detected.encoding, delimiter or self.detected.delimiter)
        if self.format.encoding not in ENCODINGS:
            raise CsvFileError(f"unknown encoding {self.format.encoding!r}")
        self.size_bytes = self.path.stat().st_size
        # A big buffer means a read system call per megabyte, not per 8 KB: each call drops and retakes the GIL,
        # and a GUI thread waiting for it kept missing its turn (stalls of 30-90 ms while an import read the file).
        self._binary = self.path.open("rb", buffering=READ_BUFFER)
        self._text = io.TextIOWrapper(self._binary, encoding=self.format.encoding, errors="postroom-csv", newline="")
        self._lines = _Lines(self._text)
        self._reader = csv.reader(self._lines, delimiter=self.format.delimiter, quotechar='"', doublequote=True,
                                  skipinitialspace=False, strict=False)
        self.rows_read = 0
        self._number = 0  # records so far, the header included: a spreadsheet's row numbers
        self.nul_rows: list[int] = []
        self.wide_rows = 0
        _fallback_counter.count = 0
        try:
            self.original_columns = self._read_header()
        except BaseException:
            self.close()
            raise
        self.columns = clean_header(self.original_columns, self.notes)

    def __enter__(self) -> CsvReader:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._text.close()

    def _read_header(self) -> list[str]:
        for row in self._records():
            if row.problem:
                raise CsvFileError(f"the header row cannot be read: {row.problem}")
            if any(value.strip() for value in row.values):
                return row.values
        raise CsvFileError(f"{self.path.name} has no header row")

    def position(self) -> int:
        """Bytes read so far (for progress; a little ahead of the rows because of buffering)."""
        return self._binary.tell()

    @property
    def fallback_bytes(self) -> int:
        """Bytes that were not valid in the chosen encoding and were read as Windows-1252."""
        return int(getattr(_fallback_counter, "count", 0))

    def rows(self) -> Iterator[CsvRow]:
        """Data rows (blank lines skipped). A row with more values than the header keeps only the first ones."""
        width = len(self.columns)
        for row in self._records():
            if not row.problem and not any(row.values):
                continue
            self.rows_read += 1
            if not self.rows_read % PAUSE_EVERY:
                pause()
            values = row.values
            if len(values) < width:
                values = values + [""] * (width - len(values))
            elif len(values) > width:
                if any(value.strip() for value in values[width:]):
                    self.wide_rows += 1
                values = values[:width]
            yield CsvRow(row.number, values, row.problem, row.note) if values is not row.values else row

    def _records(self) -> Iterator[CsvRow]:
        lines, reader = self._lines, self._reader
        while True:
            lines.record.clear()
            lines.nul = False
            try:
                values = next(reader)
            except StopIteration:
                return
            except _LineTooLong:
                self._number += 1
                yield CsvRow(self._number, [], f"the line is longer than {MAX_LINE // 1_048_576} MB and was skipped")
                continue
            except csv.Error as exc:
                self._number += 1
                yield self._recover(self._number, str(exc))
                continue
            self._number += 1
            if len(lines.record) > 1 and "".join(lines.record).count('"') % 2:
                yield self._recover(self._number, "")
                continue
            if lines.nul:
                self.nul_rows.append(self._number)
                yield CsvRow(self._number, values, note="NUL bytes removed")
            else:
                yield CsvRow(self._number, values)

    def _recover(self, number: int, error: str) -> CsvRow:
        """A quote that never closes swallows the lines after it: reject its row, then read those lines again."""
        record = list(self._lines.record)
        first = record[0] if record else ""
        swallowed = record[1:]
        self._lines.pushback.extendleft(reversed(swallowed))
        try:  # the row as far as it can be read, for the rejected-rows file
            values = next(csv.reader([first[:65_536].rstrip("\r\n") + '"'], delimiter=self.format.delimiter), [])
        except csv.Error:
            values = first[:65_536].split(self.format.delimiter)
        if "field larger than field limit" in error:
            problem = (f"a value is longer than {MAX_FIELD // 1_048_576} MB (or a quote in this row is never closed); "
                       "the row was skipped")
        elif error:
            problem = f"the row cannot be read ({error})"
        else:
            problem = ("a quote opened in this row is never closed and ran over the next "
                       f"{len(swallowed)} line{'s' if len(swallowed) != 1 else ''}; this row was skipped and "
                       "the lines after it were read again")
        return CsvRow(number, [value.strip() for value in values], problem)


def clean_header(names: list[str], notes: list[str]) -> list[str]:
    """Blank header cells become "Column 7"; repeated names become "Email (2)" (both noted for the person)."""
    cleaned: list[str] = []
    seen: dict[str, int] = {}
    blanks: list[str] = []
    renamed: list[str] = []
    for index, raw in enumerate(names, start=1):
        name = " ".join(raw.replace("\x00", "").replace("\ufeff", "").split())
        if not name:
            name = f"Column {index}"
            blanks.append(name)
        base, n = name, 1
        while name.lower() in seen:
            n += 1
            name = f"{base} ({n})"
        if n > 1:
            renamed.append(f'"{base}" -> "{name}"')
        seen[name.lower()] = index
        cleaned.append(name)
    if renamed:
        shown = ", ".join(renamed[:5]) + (f" and {len(renamed) - 5} more" if len(renamed) > 5 else "")
        notes.append(f"Repeated column names were renamed: {shown}.")
    if blanks:
        shown = ", ".join(blanks[:5]) + (f" and {len(blanks) - 5} more" if len(blanks) > 5 else "")
        notes.append(f"Columns without a name were called {shown}.")
    return cleaned


def read_preview(path: Path, encoding: str | None = None, delimiter: str | None = None,
                 limit: int = 50) -> CsvPreview:
    """The header and the first ``limit`` rows, for the import dialog."""
    with CsvReader(path, encoding, delimiter) as reader:
        rows: list[list[str]] = []
        for row in reader.rows():
            if len(rows) >= limit:
                break
            if not row.problem:
                rows.append(row.values)
        notes = list(reader.notes)
        if reader.format.encoding == "utf-8-sig":
            notes.insert(0, "The file starts with a byte order mark (BOM); it was removed from the first column name.")
        return CsvPreview(reader.format, reader.detected, reader.columns, rows, notes, reader.size_bytes)
