"""Readers: turn one export file into staged Arrow batches, one staged row per data row.

Every data row of the file becomes exactly one staged row, numbered from 1 (CSV: the header is
not a row and a quoted field may span lines, so the number counts records; JSONL: the line
number). Nothing is judged here beyond what only the bytes can tell: a line that is not valid
UTF-8, or a CSV record the ``csv`` module cannot parse, is staged with its ``__problem`` set; all
other checks run as SQL over the staged batch (see :mod:`redcat.ingest.validate`).

CSV and JSONL are read in blocks of whole lines, split into lines with numpy and handed over as
one Arrow string column; CSV fields are split on commas in SQL (quotes removed first from lines
that are simply quoted, see :data:`SIMPLY_QUOTED`). The few CSV lines quoted otherwise (a comma
or quote inside quotes, or a lone carriage return) are parsed one by one with the ``csv`` module. A
block where a quoted field spans lines is read record by record with the ``csv`` module, so quoted
newlines are parsed exactly; a record still open after ``max_record_lines`` lines or at the end
of the file is quarantined as an unterminated quote (its first line only; reading resumes on the
next line). Parquet is read in row batches with its column types kept.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from redcat.errors import InputError
from redcat.ingest.contract import TableSpec
from redcat.settings import IngestSettings

Format = Literal["csv", "jsonl", "parquet"]

INVALID_UTF8 = "invalid UTF-8"
UNTERMINATED_QUOTE = "unterminated quoted field"

# Staged batches of CSV and JSONL files: the row number, the raw text (line or CSV record, line
# terminator removed), a whole-row problem found while reading, and the CSV fields when the
# record was parsed by the csv module (NULL: split the raw text on commas in SQL).
LINES_SCHEMA = pa.schema(
    [
        pa.field("__row", pa.int64(), nullable=False),
        pa.field("__raw", pa.large_string()),
        pa.field("__problem", pa.string()),
        pa.field("__fields", pa.list_(pa.string())),
    ]
)


@dataclass(frozen=True)
class Batch:
    """One staged batch: ``table`` (one row per data row), and progress through the file as
    ``done`` of ``total`` (bytes for CSV and JSONL, rows for Parquet)."""

    table: pa.Table
    done: int
    total: int


class _RecordTooLong(Exception):
    """A CSV record (an open quoted field) spans more lines than allowed."""


def file_format(path: Path) -> Format:
    """Return the format named by ``path``'s suffix (case-insensitive)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix == ".jsonl":
        return "jsonl"
    if suffix == ".parquet":
        return "parquet"
    raise InputError(f"unsupported file type {path.suffix!r}", file=str(path))


class _Blocks:
    """Reads a binary file in runs of whole lines, hashing every byte it reads."""

    def __init__(self, fh: BinaryIO, block_bytes: int) -> None:
        self._fh = fh
        self._block = block_bytes
        self._buf = b""
        self._eof = False
        self.sha256 = hashlib.sha256()
        self.consumed = 0
        self._newlines = 0
        self._last = b""

    def _read(self, size: int) -> None:
        data = self._fh.read(size)
        if not data:
            self._eof = True
            return
        self.sha256.update(data)
        self._newlines += data.count(b"\n")
        self._last = data[-1:]
        self._buf += data

    def lines(self) -> int:
        """Return how many lines the bytes read so far hold (a last one may lack its newline),
        counted apart from the rows built from them."""
        return self._newlines + (1 if self._last not in (b"", b"\n") else 0)

    def _take(self, size: int) -> bytes:
        out, self._buf = self._buf[:size], self._buf[size:]
        self.consumed += len(out)
        return out

    def block(self) -> bytes:
        """Return the next run of whole lines, about ``block_bytes`` long (longer when one line
        is); the last line of the file may lack its newline. Returns b"" at the end."""
        while len(self._buf) < self._block and not self._eof:
            self._read(self._block - len(self._buf))
        cut = self._buf.rfind(b"\n", 0, self._block)
        while cut < 0 and not self._eof:
            start = len(self._buf)
            self._read(self._block)
            cut = self._buf.find(b"\n", start)
        return self._take(cut + 1 if cut >= 0 else len(self._buf))

    def line(self) -> bytes:
        """Return the next line with its newline (the last may lack one); b"" at the end."""
        cut = self._buf.find(b"\n")
        while cut < 0 and not self._eof:
            start = len(self._buf)
            self._read(self._block)
            cut = self._buf.find(b"\n", start)
        return self._take(cut + 1 if cut >= 0 else len(self._buf))

    def drain(self) -> None:
        """Read (and hash) whatever is left of the file."""
        while not self._eof:
            self._buf = b""
            self._read(self._block)


def _line_offsets(block: bytes) -> np.ndarray:
    """Return int64 offsets (n + 1 of them) of the n lines in ``block``, terminators included."""
    nl = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10)
    tail = 0 if block.endswith(b"\n") else 1
    offsets = np.empty(len(nl) + 1 + tail, dtype=np.int64)
    offsets[0] = 0
    offsets[1 : len(nl) + 1] = nl + 1
    if tail:
        offsets[-1] = len(block)
    return offsets


def _invalid_utf8_lines(block: bytes, offsets: np.ndarray) -> list[int]:
    """Return the indexes of the lines of ``block`` that are not valid UTF-8."""
    if block.isascii():
        return []
    bad: list[int] = []
    view = memoryview(block)
    pos = 0
    while pos < len(block):
        try:
            # The decoder stops at the first bad byte, so each retry costs only the bytes up to
            # the next bad line: linear in the block however many lines are broken.
            codecs.utf_8_decode(view[pos:], "strict", True)
            break
        except UnicodeDecodeError as exc:
            line = int(np.searchsorted(offsets, pos + exc.start, side="right")) - 1
            bad.append(line)
            pos = int(offsets[line + 1])
    return bad


def _text(raw: bytes) -> str:
    """Decode ``raw`` for display, showing undecodable bytes as ``\\xNN``, terminator removed."""
    return raw.decode("utf-8", "backslashreplace").rstrip("\r\n")


def _problem_table(
    rows: list[int],
    raws: list[str],
    problems: list[str | None],
    fields: list[list[str] | None],
) -> pa.Table:
    """Stage rows given as Python lists (schema :data:`LINES_SCHEMA`)."""
    return pa.table(
        [
            pa.array(rows, pa.int64()),
            pa.array(raws, pa.large_string()),
            pa.array(problems, pa.string()),
            pa.array(fields, pa.list_(pa.string())),
        ],
        schema=LINES_SCHEMA,
    )


def _quoted_lines(block: bytes, offsets: np.ndarray) -> np.ndarray:
    """Return the indexes of the lines of ``block`` holding a quote character or a carriage
    return that does not end the line: the lines a plain split on commas would get wrong."""
    if b'"' not in block and block.count(b"\r") == block.count(b"\r\n"):
        return np.empty(0, dtype=np.int64)
    data = np.frombuffer(block, dtype=np.uint8)
    quotes = np.flatnonzero(data == 34)
    cr = np.flatnonzero(data == 13)
    bare_cr = cr[(cr + 1 >= len(data)) | (data[np.minimum(cr + 1, len(data) - 1)] != 10)]
    # Marks per line from where each line's offsets fall among the (sorted) mark positions:
    # n + 1 binary searches, however many marks there are.
    marked = np.diff(np.searchsorted(quotes, offsets)) > 0
    if len(bare_cr):
        marked |= np.diff(np.searchsorted(bare_cr, offsets)) > 0
    return np.flatnonzero(marked)


def _parse_lines(
    block: bytes, offsets: np.ndarray, lines: list[int], invalid: set[int], first_row: int
) -> pa.Table | None:
    """Parse each of ``lines`` as one CSV record with the csv module; return them staged, or
    None if one opens a quoted field it does not close (a record spanning lines, which only a
    sequential read can delimit). Lines in ``invalid`` (not UTF-8) are parsed only to find
    that out, and staged as invalid UTF-8."""
    rows, raws, problems, fields = [], [], [], []
    for i in lines:
        line = block[offsets[i] : offsets[i + 1]]
        text = line.decode("utf-8", "surrogateescape").rstrip("\r\n")
        problem: str | None = None
        record: list[str] | None = None
        try:
            records = list(csv.reader([text], strict=True))
        except csv.Error as exc:
            if str(exc) == "unexpected end of data":
                return None
            problem = f"malformed CSV: {exc}"
        else:
            if len(records) != 1:  # cannot happen without a line break; never drop a row
                return None
            record = records[0]
        if i in invalid:
            problem, record, text = INVALID_UTF8, None, _text(line)
        rows.append(first_row + 1 + i)
        raws.append(text)
        problems.append(problem)
        fields.append(record)
    return _problem_table(rows, raws, problems, fields)


# A CSV line whose every field is either unquoted or quoted without quote, comma or carriage
# return inside: removing its quotes and splitting on commas gives exactly the csv module's fields.
SIMPLY_QUOTED = r'^(?:"[^",\r]*"|[^",\r]*)(?:,(?:"[^",\r]*"|[^",\r]*))*$'


def lines_table(block: bytes, first_row: int, *, csv_fields: bool = False) -> pa.Table | None:
    """Stage every line of ``block`` as one row numbered from ``first_row + 1``.

    Valid lines keep their text (line terminator removed) with no problem set; lines that are not
    valid UTF-8 get ``__problem = 'invalid UTF-8'`` and their text with bad bytes escaped. With
    ``csv_fields``, lines holding quotes (or a lone carriage return) that are not simply quoted
    (:data:`SIMPLY_QUOTED`) are parsed here by the csv module into ``__fields``; if one of them
    opens a record spanning lines, returns None (the block must then be read record by record,
    see :func:`csv_records_table`).
    """
    offsets = _line_offsets(block)
    n = len(offsets) - 1
    rows = np.arange(first_row + 1, first_row + 1 + n, dtype=np.int64)
    raw = pa.Array.from_buffers(
        pa.large_binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(block)]
    )
    bad = _invalid_utf8_lines(block, offsets)
    keep = np.ones(n, dtype=bool)
    keep[bad] = False
    parts = []
    quoted = _quoted_lines(block, offsets) if csv_fields else np.empty(0, dtype=np.int64)
    if len(quoted):
        valid = quoted[keep[quoted]]
        texts = pc.utf8_rtrim(raw.take(pa.array(valid)).view(pa.large_string()), "\r\n")
        simple = pc.match_substring_regex(texts, SIMPLY_QUOTED).to_numpy(zero_copy_only=False)
        hard = np.sort(np.concatenate([valid[~simple], quoted[~keep[quoted]]]))
        if len(hard):
            invalid = set(bad)
            parsed = _parse_lines(block, offsets, [int(i) for i in hard], invalid, first_row)
            if parsed is None:
                return None
            parts.append(parsed)
            keep[hard] = False
            bad = sorted(invalid.difference(int(i) for i in hard))
    if bad:
        parts.append(
            _problem_table(
                [first_row + 1 + i for i in bad],
                [_text(block[offsets[i] : offsets[i + 1]]) for i in bad],
                [INVALID_UTF8] * len(bad),
                [None] * len(bad),
            )
        )
    if not keep.all():
        raw = raw.filter(pa.array(keep))
        rows = rows[keep]
    text = pc.utf8_rtrim(raw.view(pa.large_string()), characters="\r\n")
    plain = pa.table(
        [
            pa.array(rows, pa.int64()),
            text,
            pa.nulls(len(rows), pa.string()),
            pa.nulls(len(rows), pa.list_(pa.string())),
        ],
        schema=LINES_SCHEMA,
    )
    return pa.concat_tables([plain, *parts]) if parts else plain


class _LineFeed:
    """Feeds decoded lines to ``csv.reader``: first the lines of one block, then, only while a
    record is still open (a quoted field spans the block end), further lines from ``more``.
    Keeps the raw lines of the record being read, so each record's raw text and its validity
    as UTF-8 are known, and lines can be pushed back to re-read after an unterminated quote."""

    def __init__(self, block: bytes, more: Callable[[], bytes], max_lines: int) -> None:
        parts = block.split(b"\n")
        lines = [p + b"\n" for p in parts[:-1]]
        if parts[-1]:
            lines.append(parts[-1])
        self._queue: deque[bytes] = deque(lines)
        self._more = more
        self._max = max_lines
        self.pending: list[bytes] = []
        self.at_eof = False

    def __iter__(self) -> _LineFeed:
        return self

    def __next__(self) -> str:
        if self._queue:
            raw = self._queue.popleft()
        elif self.pending:
            raw = self._more()
            if not raw:
                self.at_eof = True
                raise StopIteration
        else:
            raise StopIteration
        self.pending.append(raw)
        if len(self.pending) > self._max:
            raise _RecordTooLong
        # Undecodable bytes become lone surrogates; the record is quarantined when taken.
        return raw.decode("utf-8", "surrogateescape")

    def take(self) -> list[bytes]:
        """Return the raw lines of the record just read and start a new one."""
        record, self.pending = self.pending, []
        return record

    def push_back(self, lines: list[bytes]) -> None:
        """Return ``lines`` to the front of the feed, to be read again."""
        self._queue.extendleft(reversed(lines))


def _is_utf8(lines: list[bytes]) -> bool:
    try:
        for line in lines:
            line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def csv_records_table(
    block: bytes, more: Callable[[], bytes], first_row: int, max_lines: int
) -> tuple[pa.Table, int]:
    """Parse ``block`` (whole lines) with the csv module, one staged row per record numbered
    from ``first_row + 1``. A record open at the block end continues with lines from ``more``.

    Records that are not valid UTF-8, break CSV quoting, or leave a quote open are staged with a
    ``__problem``; the others carry their parsed ``__fields``. Returns the staged records and
    the number of lines they span.
    """
    feed = _LineFeed(block, more, max_lines)
    lines = 0
    rows: list[int] = []
    raws: list[str] = []
    problems: list[str | None] = []
    fields: list[list[str] | None] = []
    reader = csv.reader(feed, strict=True)
    while True:
        problem: str | None = None
        record_fields: list[str] | None = None
        try:
            record_fields = next(reader)
            record = feed.take()
        except StopIteration:
            break
        except (csv.Error, _RecordTooLong) as exc:
            record = feed.take()
            # At the end of the file the only thing csv can object to is a quote left open.
            unterminated = isinstance(exc, _RecordTooLong) or feed.at_eof
            if unterminated:
                # The open quote is on the record's first line: quarantine that line alone and
                # read the following lines again as records of their own.
                feed.push_back(record[1:])
                record = record[:1]
                feed.at_eof = False
                problem = UNTERMINATED_QUOTE
            else:
                problem = f"malformed CSV: {exc}"
            reader = csv.reader(feed, strict=True)
        if not _is_utf8(record):
            problem, record_fields = INVALID_UTF8, None
        lines += len(record)
        rows.append(first_row + 1 + len(rows))
        raws.append(_text(b"".join(record)))
        problems.append(problem)
        fields.append(record_fields if problem is None else None)
    if feed.pending:  # a line read but in no record would be a row lost
        raise AssertionError(f"csv reader left {len(feed.pending)} line(s) unassigned")
    return _problem_table(rows, raws, problems, fields), lines


def parse_header(line: bytes, path: Path) -> tuple[str, ...]:
    """Return the column names of a CSV header line (UTF-8, optional BOM, surrounding spaces
    removed); raises :class:`InputError` if it is empty, undecodable, malformed or repeats a
    name."""
    if not line.strip():
        raise InputError("empty file or empty header line: expected a header row", file=str(path))
    try:
        text = line.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError("the header row is not valid UTF-8", file=str(path)) from exc
    try:
        names = next(csv.reader([text.rstrip("\r\n")], strict=True))
    except csv.Error as exc:
        raise InputError(f"malformed header row: {exc}", file=str(path)) from exc
    columns = tuple(name.strip() for name in names)
    seen: set[str] = set()
    for name in columns:
        if name in seen:
            raise InputError(f"column {name!r} appears twice in the header", file=str(path))
        seen.add(name)
    return columns


class LinesSource:
    """A CSV or JSONL file staged in blocks of lines (see the module docstring).

    ``columns`` is the CSV header (``None`` for JSONL, whose keys are found in the data).
    ``sha256`` (hex) and ``rows`` are set once :meth:`batches` has been read to the end.
    """

    def __init__(self, path: Path, fmt: Format, settings: IngestSettings) -> None:
        self.path = path
        self.format = fmt
        self.settings = settings
        self.columns: tuple[str, ...] | None = None
        self.sha256 = ""
        self.rows = 0
        if fmt == "csv":
            with path.open("rb") as fh:
                self.columns = parse_header(_Blocks(fh, settings.block_bytes).line(), path)

    def batches(self) -> Iterator[Batch]:
        """Yield the file's rows as staged batches (schema :data:`LINES_SCHEMA`)."""
        total = self.path.stat().st_size
        row = covered = 0
        with self.path.open("rb") as fh:
            blocks = _Blocks(fh, self.settings.block_bytes)
            if self.format == "csv":
                covered += 1 if blocks.line() else 0  # the header, parsed in __init__
            while block := blocks.block():
                if row == 0 and self.format == "jsonl" and block.startswith(codecs.BOM_UTF8):
                    block = block[len(codecs.BOM_UTF8) :]  # a BOM is no part of the first line
                table = lines_table(block, row, csv_fields=self.format == "csv")
                if table is None:  # a quoted field spans lines: read record by record
                    table, spanned = csv_records_table(
                        block, blocks.line, row, self.settings.max_record_lines
                    )
                else:
                    spanned = table.num_rows
                row += table.num_rows
                covered += spanned
                yield Batch(table=table, done=blocks.consumed, total=total)
            blocks.drain()
            self.sha256 = blocks.sha256.hexdigest()
            if covered != blocks.lines():  # every line of the file belongs to exactly one row
                raise AssertionError(
                    f"{self.path}: {blocks.lines()} lines read, {covered} accounted for"
                )
        self.rows = row


def _normalize_parquet(table: pa.Table) -> pa.Table:
    """Make Parquet timestamps naive UTC microseconds (an offset-aware column keeps its instant)."""
    columns = []
    for column in table.columns:
        kind = column.type
        if pa.types.is_timestamp(kind) and (kind.tz is not None or kind.unit != "us"):
            column = column.cast(pa.timestamp("us"), safe=False)
        columns.append(column)
    return pa.table(columns, names=table.column_names)


class ParquetSource:
    """A Parquet file staged in row batches: ``__row`` plus the file's contract columns, typed as
    stored. ``columns`` lists every column of the file; ``rows`` is the row count from its
    metadata; ``sha256`` is set once :meth:`batches` has been read to the end."""

    format: Format = "parquet"

    def __init__(self, path: Path, spec: TableSpec, settings: IngestSettings) -> None:
        self.path = path
        self.spec = spec
        self.settings = settings
        try:
            self._file = pq.ParquetFile(path)
        except (pa.ArrowException, OSError) as exc:
            raise InputError(f"not a readable Parquet file: {exc}", file=str(path)) from exc
        names = tuple(self._file.schema_arrow.names)
        if len(set(names)) != len(names):
            raise InputError("a column name appears twice", file=str(path))
        self.columns: tuple[str, ...] | None = names
        self.rows = int(self._file.metadata.num_rows)
        self.sha256 = ""

    def batches(self) -> Iterator[Batch]:
        """Yield the file's rows as staged batches of at most ``parquet_batch_rows`` rows."""
        assert self.columns is not None
        used = [name for name in self.columns if name in self.spec.columns]
        row = 0
        try:
            for batch in self._file.iter_batches(
                batch_size=self.settings.parquet_batch_rows, columns=used
            ):
                table = _normalize_parquet(pa.Table.from_batches([batch]))
                n = table.num_rows
                table = table.add_column(
                    0, "__row", pa.array(np.arange(row + 1, row + 1 + n, dtype=np.int64))
                )
                row += n
                yield Batch(table=table, done=row, total=self.rows)
        except pa.ArrowException as exc:
            raise InputError(f"cannot read Parquet data: {exc}", file=str(self.path)) from exc
        digest = hashlib.sha256()
        with self.path.open("rb") as fh:
            while chunk := fh.read(1 << 24):
                digest.update(chunk)
        self.sha256 = digest.hexdigest()


Source = LinesSource | ParquetSource


def open_source(spec: TableSpec, path: Path, settings: IngestSettings) -> Source:
    """Open ``path`` for staging as table ``spec``; reads only the header (CSV) or the schema
    (Parquet), raising :class:`InputError` if either is unusable."""
    fmt = file_format(path)
    if fmt == "parquet":
        return ParquetSource(path, spec, settings)
    return LinesSource(path, fmt, settings)
