"""Load export files into the store: stage, validate, quarantine bad rows, insert new good rows.

Per file, in one transaction: every staged batch is checked in SQL (:mod:`redcat.ingest.validate`)
into one temporary table of checked rows. Then bad rows go to ``quarantine`` with their first
failing field and reason; good rows whose key (:func:`redcat.engine.store.store_key`) is already
stored, or repeats an earlier row of the file, are counted as duplicates (the first wins); the
rest are inserted, with one anti-join against the store per file. The run is logged in
``ingest_files``. Counts reconcile for every file: rows = loaded + quarantined + duplicates,
checked apart (every line of a CSV or JSONL file belongs to exactly one row, every staged row is
checked, the store grows by the rows inserted, and stored keys are counted apart from the insert).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import duckdb
import pyarrow as pa

from redcat.engine.store import connect, ensure_schema
from redcat.errors import InputError
from redcat.ingest.contract import Party, TableSpec
from redcat.ingest.discover import check_retailer_id, discover
from redcat.ingest.readers import Batch, Source, open_source
from redcat.ingest.validate import (
    Layout,
    checked_sql,
    csv_layout,
    ident,
    jsonl_layout,
    parquet_layout,
)
from redcat.settings import IngestSettings

ProgressFn = Callable[[str, int, int], None]
"""Called as ``progress(file, done, total)`` after each batch (bytes for CSV / JSONL, rows for
Parquet)."""
NotifyFn = Callable[[str], None]
"""Called with one line of news: a skipped file, a missing optional table, ignored columns."""

_STAGE = "__redcat_stage"
_CHECKED = "__redcat_checked"
_BAD = "__redcat_bad"
_MALFORMED_JSON = "malformed JSON"
_MAX_JSON_DETAIL = 10_000  # malformed lines per file given Python's detailed parse error


@dataclass(frozen=True)
class FileReport:
    """What ingesting one file did, in rows (data rows of the file, header excluded):
    ``rows`` = ``loaded`` + ``quarantined`` + ``duplicates``. ``notes`` holds news about the
    file (ignored columns)."""

    file: str
    table: str
    rows: int
    loaded: int
    quarantined: int
    duplicates: int
    retailer_id: str | None = None
    sha256: str = ""
    notes: tuple[str, ...] = field(default=())

    def counts(self) -> dict[str, str | int]:
        """Return the report as a JSON-ready dict with keys file, rows, loaded, quarantined,
        duplicates."""
        return {
            "file": self.file,
            "rows": self.rows,
            "loaded": self.loaded,
            "quarantined": self.quarantined,
            "duplicates": self.duplicates,
        }


def _check_columns(spec: TableSpec, source: Source) -> None:
    """Raise :class:`InputError` for the first required column the file lacks (JSONL files
    are checked once their data has been read: see :meth:`_FileLoad.finish`)."""
    for f in spec.fields:
        if source.columns is not None and f.required and f.name not in source.columns:
            raise InputError(f"missing required column {f.name!r}", file=str(source.path))


def _layout(spec: TableSpec, source: Source, con: duckdb.DuckDBPyConnection) -> Layout:
    if source.format == "csv":
        assert source.columns is not None
        return csv_layout(spec, source.columns, _STAGE)
    if source.format == "jsonl":
        return jsonl_layout(spec, _STAGE)
    types = {
        str(name): str(kind) for name, kind, *_ in con.execute(f"DESCRIBE {_STAGE}").fetchall()
    }
    return parquet_layout(spec, types, _STAGE)


def _json_detail(raw: str, kept: int) -> str:
    """Return Python's account of why ``raw`` is not JSON, or the plain reason if it parses or
    was cut to ``kept`` characters (where the cut, not the line, would be to blame)."""
    if len(raw) >= kept:
        return _MALFORMED_JSON
    try:
        json.loads(raw)
    except json.JSONDecodeError as exc:
        return f"{_MALFORMED_JSON}: {exc.msg} at column {exc.colno}"
    except (ValueError, RecursionError):
        pass
    return _MALFORMED_JSON


class _FileLoad:
    """The state of loading one file: its identity, the running counts, and the SQL pieces."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        spec: TableSpec,
        source: Source,
        retailer_id: str | None,
        settings: IngestSettings,
    ) -> None:
        self.con = con
        self.spec = spec
        self.source = source
        self.retailer_id = retailer_id
        self.settings = settings
        self.file = str(source.path)
        self.now = datetime.now(UTC).replace(tzinfo=None)
        self.rows = self.loaded = self.quarantined = self.duplicates = 0
        self.checked = False  # whether the file's checked-rows table exists yet
        self.json_keys: set[str] = set()
        keys = list(spec.key)
        self.key_list = ", ".join(ident(k) for k in keys)
        match = [f"t.{ident(k)} = f.{ident(k)}" for k in keys]
        if spec.party == "retailer":
            match.append("t.retailer_id = $retailer")
        self.match = " AND ".join(match)
        self.target = ident(spec.name)
        cols = ", ".join(ident(c) for c in spec.columns)
        self.insert_cols = f"retailer_id, {cols}" if spec.party == "retailer" else cols
        self.select_cols = f"$retailer, {cols}" if spec.party == "retailer" else cols

    def _params(self, sql: str) -> dict[str, object]:
        return {"retailer": self.retailer_id} if "$retailer" in sql else {}

    def _run(self, sql: str) -> list[tuple[object, ...]]:
        return self.con.execute(sql, self._params(sql)).fetchall()

    def _count(self, sql: str) -> int:
        value = self._run(sql)[0][0]
        assert isinstance(value, int)
        return value

    def batch(self, table: pa.Table) -> None:
        """Validate one staged batch and keep the result for :meth:`finish` (which loads the
        whole file at once, so the store is scanned for known keys once per file, not per
        batch)."""
        con = self.con
        con.register(_STAGE, table)
        try:
            layout = _layout(self.spec, self.source, con)
            sql = checked_sql(self.spec, layout, self.settings.raw_max_chars)
            if self.rows == 0 and not self.checked:
                checked = self._count(f"CREATE OR REPLACE TEMP TABLE {_CHECKED} AS {sql}")
                self.checked = True
            else:
                checked = self._count(f"INSERT INTO {_CHECKED} {sql}")
            if self.source.format == "jsonl":
                self._collect_json_keys()
        finally:
            with contextlib.suppress(duckdb.Error):  # keep the original error, if any
                con.unregister(_STAGE)
        if checked != table.num_rows:
            raise AssertionError(f"{self.file}: staged {table.num_rows} rows, checked {checked}")
        self.rows += checked

    def _load_checked(self) -> None:
        """Quarantine the file's bad rows and insert its new good ones."""
        rows, bad = self._run(f"SELECT count(*), count(__err) FROM {_CHECKED}")[0]
        assert isinstance(rows, int) and isinstance(bad, int)
        if rows != self.rows:
            raise AssertionError(f"{self.file}: checked {self.rows} rows, kept {rows}")
        if bad:
            self._quarantine()
        self.loaded, self.duplicates = self._insert_good(rows - bad) if rows > bad else (0, 0)
        self.quarantined = bad
        self.con.execute(f"DROP TABLE IF EXISTS {_CHECKED}")

    def _collect_json_keys(self) -> None:
        keys = self.con.execute(
            f"SELECT DISTINCT unnest(try(json_keys(__raw))) FROM {_STAGE} WHERE __problem IS NULL"
        ).fetchall()
        self.json_keys.update(str(k) for (k,) in keys)

    def _quarantine(self) -> None:
        con = self.con
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {_BAD} AS SELECT __row, "
            "NULLIF(split_part(__err, chr(31), 1), '') AS field, "
            "substr(__err, strpos(__err, chr(31)) + 1) AS reason, __bad_raw AS raw "
            f"FROM {_CHECKED} WHERE __err IS NOT NULL"
        )
        if self.source.format == "jsonl":
            malformed = con.execute(
                f"SELECT __row, raw FROM {_BAD} WHERE reason = ? LIMIT {_MAX_JSON_DETAIL}",
                [_MALFORMED_JSON],
            ).fetchall()
            if malformed:
                detail = pa.table(
                    {
                        "row": [r for r, _ in malformed],
                        "reason": [
                            _json_detail(str(raw), self.settings.raw_max_chars)
                            for _, raw in malformed
                        ],
                    }
                )
                con.register("__redcat_detail", detail)
                con.execute(
                    f"UPDATE {_BAD} SET reason = d.reason FROM __redcat_detail d "
                    f"WHERE {_BAD}.__row = d.row"
                )
                con.unregister("__redcat_detail")
        # The same bad row of the same file is recorded once, however often it is ingested.
        con.execute(
            "INSERT INTO quarantine (file, table_name, retailer_id, row_number, field, reason, "
            "raw, ingested_at) "
            f"SELECT $file, $table, $retailer, __row, field, reason, raw, $now FROM {_BAD} b "
            "WHERE NOT EXISTS (SELECT 1 FROM quarantine q WHERE q.file = $file "
            "AND q.table_name = $table AND q.retailer_id IS NOT DISTINCT FROM $retailer "
            "AND q.row_number = b.__row AND q.field IS NOT DISTINCT FROM b.field "
            "AND q.reason = b.reason AND q.raw IS NOT DISTINCT FROM b.raw)",
            {
                "file": self.file,
                "table": self.spec.name,
                "retailer": self.retailer_id,
                "now": self.now,
            },
        )
        con.execute(f"DROP TABLE IF EXISTS {_BAD}")

    def _insert_good(self, good: int) -> tuple[int, int]:
        """Insert the good rows whose key is new; return (loaded, duplicates)."""
        distinct = self._count(
            f"SELECT count(*) FROM (SELECT DISTINCT {self.key_list} FROM {_CHECKED} "
            "WHERE __err IS NULL)"
        )
        if distinct < good:  # a key repeats within the batch: keep its first row
            first = (
                f"(SELECT * FROM {_CHECKED} WHERE __err IS NULL QUALIFY row_number() "
                f"OVER (PARTITION BY {self.key_list} ORDER BY __row) = 1)"
            )
        else:
            first = f"(SELECT * FROM {_CHECKED} WHERE __err IS NULL)"
        stored_before = self._count(f"SELECT count(*) FROM {self.target}")
        # Counted apart from the insert, so that a key the anti-join drops for any other reason
        # than being stored already fails the check below instead of passing as a duplicate.
        existing = self._count(
            f"SELECT count(*) FROM {first} f "
            f"WHERE EXISTS (SELECT 1 FROM {self.target} t WHERE {self.match})"
        )
        inserted = self._count(
            f"INSERT INTO {self.target} ({self.insert_cols}) "
            f"SELECT {self.select_cols} FROM {first} f "
            f"WHERE NOT EXISTS (SELECT 1 FROM {self.target} t WHERE {self.match})"
        )
        stored_after = self._count(f"SELECT count(*) FROM {self.target}")
        if stored_after - stored_before != inserted:
            grew = stored_after - stored_before
            raise AssertionError(f"{self.file}: inserted {inserted} rows, the store grew by {grew}")
        if inserted + existing != distinct:
            raise AssertionError(
                f"{self.file}: of {distinct} new keys {inserted} were inserted and {existing} "
                "were already stored"
            )
        return inserted, good - inserted

    def finish(self) -> FileReport:
        """Load the checked rows, check the file as a whole, log the run in ``ingest_files``
        and return the file's report."""
        if self.checked:
            self._load_checked()
        if self.source.format == "jsonl" and self.json_keys:
            for f in self.spec.fields:
                if f.required and f.name not in self.json_keys:
                    raise InputError(
                        f"missing required column {f.name!r} (no line has this key)",
                        file=self.file,
                    )
        if self.rows != self.source.rows:
            raise AssertionError(f"{self.file}: read {self.source.rows} rows, staged {self.rows}")
        if self.rows != self.loaded + self.quarantined + self.duplicates:
            raise AssertionError(f"{self.file}: counts do not reconcile")
        self.con.execute(
            "INSERT INTO ingest_files (file, sha256, table_name, retailer_id, rows, loaded, "
            "quarantined, duplicates, ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                self.file,
                self.source.sha256,
                self.spec.name,
                self.retailer_id,
                self.rows,
                self.loaded,
                self.quarantined,
                self.duplicates,
                self.now,
            ],
        )
        return FileReport(
            file=self.file,
            table=self.spec.name,
            rows=self.rows,
            loaded=self.loaded,
            quarantined=self.quarantined,
            duplicates=self.duplicates,
            retailer_id=self.retailer_id,
            sha256=self.source.sha256,
            notes=self.notes(),
        )

    def notes(self) -> tuple[str, ...]:
        """News about the file: contract-less columns (or JSON keys) that were ignored."""
        if self.source.format == "jsonl":
            extra = sorted(self.json_keys - set(self.spec.columns))
        else:
            extra = [c for c in self.source.columns or () if c not in self.spec.columns]
        if not extra:
            return ()
        return (f"{self.file}: ignored columns not in the contract: {', '.join(extra)}",)


def _check_party(spec: TableSpec, retailer_id: str | None) -> str | None:
    if spec.party == "retailer":
        if retailer_id is None:
            raise InputError(f"table {spec.name!r} belongs to a retailer: give its retailer id")
        return check_retailer_id(retailer_id)
    if retailer_id is not None:
        raise InputError(f"table {spec.name!r} belongs to the content platform: no retailer id")
    return None


def _read_ahead(batches: Iterator[Batch]) -> Iterator[Batch]:
    """Yield ``batches``, reading the next one in a worker thread while the caller loads the
    current one (DuckDB releases the GIL while it runs, so reading and loading overlap)."""
    done = object()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="redcat-read") as pool:
        pending = pool.submit(next, batches, done)
        while (batch := pending.result()) is not done:
            pending = pool.submit(next, batches, done)
            assert isinstance(batch, Batch)
            yield batch


def _load(
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    source: Source,
    retailer_id: str | None,
    progress: ProgressFn | None,
    settings: IngestSettings,
) -> FileReport:
    load = _FileLoad(con, spec, source, retailer_id, settings)
    (order,) = con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0]
    # Stored rows have no order to keep; dropping it lets DuckDB insert in parallel.
    con.execute("SET preserve_insertion_order = false")
    con.begin()
    try:
        for batch in _read_ahead(source.batches()):
            load.batch(batch.table)
            if progress is not None:
                progress(load.file, batch.done, batch.total)
        report = load.finish()
    except BaseException:
        con.rollback()
        raise
    else:
        con.commit()
    finally:
        con.execute(f"SET preserve_insertion_order = {bool(order)}")
    return report


def ingest_file(
    con: duckdb.DuckDBPyConnection,
    spec: TableSpec,
    path: Path,
    *,
    retailer_id: str | None = None,
    progress: ProgressFn | None = None,
    settings: IngestSettings | None = None,
) -> FileReport:
    """Validate and load one file as contract table ``spec`` into the open store ``con``.

    Returns the file's :class:`FileReport` (counts in rows). Raises :class:`InputError` when the
    file as a whole is unusable (a required column missing, unreadable header or Parquet
    schema); nothing of it is then stored. ``retailer_id`` is required for retailer tables.
    """
    settings = settings or IngestSettings()
    retailer_id = _check_party(spec, retailer_id)
    ensure_schema(con)
    source = open_source(spec, path, settings)
    _check_columns(spec, source)
    return _load(con, spec, source, retailer_id, progress, settings)


def ingest_party(
    con_or_store_path: duckdb.DuckDBPyConnection | str | Path,
    party: Literal["content", "retailer"],
    directory: Path,
    retailer_id: str | None = None,
    progress: ProgressFn | None = None,
    *,
    notify: NotifyFn | None = None,
    settings: IngestSettings | None = None,
) -> list[FileReport]:
    """Ingest every contract file of ``party`` found in ``directory`` (see
    :func:`redcat.ingest.discover.discover`) into the store; return one report per file, in
    contract order.

    ``con_or_store_path`` is an open DuckDB connection or the path of the store (opened, and
    created if needed, for the call). Every file's header or schema is checked before any is
    loaded; each file is then loaded in its own transaction. News (skipped files, missing
    optional tables, ignored columns) goes to ``notify``.
    """
    party_: Party = party
    settings = settings or IngestSettings()
    if party_ == "retailer":
        if retailer_id is None:
            raise InputError("a retailer ingest needs the retailer's name")
        check_retailer_id(retailer_id)
    elif retailer_id is not None:
        raise InputError("the content platform takes no retailer name")
    found = discover(Path(directory), party_)
    sources = []
    for spec, path in found.files:
        source = open_source(spec, path, settings)
        _check_columns(spec, source)
        sources.append((spec, source))
    if isinstance(con_or_store_path, duckdb.DuckDBPyConnection):
        con, owned = con_or_store_path, False
        ensure_schema(con)
    else:
        con, owned = connect(con_or_store_path), True
    try:
        if notify is not None:
            for note in found.notes:
                notify(note)
        reports = []
        for spec, source in sources:
            report = _load(con, spec, source, retailer_id, progress, settings)
            if notify is not None:
                for note in report.notes:
                    notify(note)
            reports.append(report)
        return reports
    finally:
        if owned:
            con.close()
