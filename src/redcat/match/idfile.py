"""A party's identifier file in (``--ids``: CSV or Parquet) and its match file out (``--out``).

The input holds one row per person: ``user_key`` (the party's own key, kept exactly as given and
written back as given) and one column per identifier type matched on. The output is a CSV with
columns ``user_key`` and ``match_key``, one row per shared person only, written atomically: to
``<out>.partial`` first, then renamed, so a reader never sees half a file and a failed run leaves
none (:func:`discard_output`).
"""

from __future__ import annotations

import contextlib
import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from redcat.errors import ConfigError, InputError
from redcat.match.psi import PsiResult

# Command-line names of identifier types → the PSI's names (redcat.match.normalize.ID_TYPES).
ID_TYPE_NAMES: dict[str, str] = {
    "phone": "phone",
    "email": "email",
    "device": "device_id",
    "device_id": "device_id",
    "raw": "user_key",
    "user_key": "user_key",
}


@dataclass(frozen=True)
class IdColumn:
    """One identifier type of the waterfall (PSI name) and the input column holding it."""

    id_type: str
    column: str


@dataclass(frozen=True)
class IdFile:
    """What :func:`read_ids` read: ``people`` maps each user_key (as given) to its identifiers
    by type (None = absent); ``rows`` counts data rows, ``blank_keys`` rows without a user_key
    (skipped), ``repeated_keys`` rows whose user_key appeared before (the first row wins)."""

    people: dict[str, dict[str, str | None]]
    types: tuple[str, ...]
    rows: int
    blank_keys: int
    repeated_keys: int


def parse_id_types(specs: Sequence[str], id_col: str) -> tuple[IdColumn, ...]:
    """Turn ``--id-type`` values (``TYPE`` or ``TYPE=COLUMN``, in waterfall order) into columns.
    With one type and no column, the type's values are in ``id_col`` itself; with several, a type
    without a column reads the column named like the type (``phone``, ``email``, ``device_id``,
    ``user_key``). Raises :class:`ConfigError` for an unknown or repeated type."""
    specs = list(specs) or ["raw"]
    out: list[IdColumn] = []
    for spec in specs:
        name, _, column = spec.partition("=")
        id_type = ID_TYPE_NAMES.get(name.strip().lower())
        if id_type is None:
            known = ", ".join(ID_TYPE_NAMES)
            raise ConfigError(f"unknown identifier type {name!r} (known: {known})")
        if any(c.id_type == id_type for c in out):
            raise ConfigError(f"identifier type {name!r} given twice")
        column = column.strip() or (id_col if len(specs) == 1 else id_type)
        out.append(IdColumn(id_type, column))
    return tuple(out)


def _is_parquet(path: Path) -> bool:
    if path.suffix.lower() in (".parquet", ".pq"):
        return True
    if path.suffix.lower() in (".csv", ".txt", ".gz"):
        return False
    with path.open("rb") as fh:
        return fh.read(4) == b"PAR1"


def _read_table(path: Path, columns: list[str]) -> pa.Table:
    if _is_parquet(path):
        try:
            present = pq.read_schema(path).names
        except (pa.ArrowException, OSError) as exc:
            raise InputError(f"not a readable Parquet file: {exc}", file=str(path)) from None
        _check_columns(path, present, columns)
        return pq.read_table(path, columns=columns)
    try:
        with pacsv.open_csv(path) as reader:
            present = reader.schema.names
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"not a readable CSV file: {exc}", file=str(path)) from None
    _check_columns(path, present, columns)
    try:
        return pacsv.read_csv(
            path,
            convert_options=pacsv.ConvertOptions(
                include_columns=columns,
                column_types={c: pa.string() for c in columns},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"cannot read CSV: {exc}", file=str(path)) from None


def _check_columns(path: Path, present: Sequence[str], wanted: Sequence[str]) -> None:
    for column in wanted:
        if column not in present:
            raise InputError(
                f"column missing (columns: {', '.join(present)})", file=str(path), field=column
            )


def _strings(table: pa.Table, column: str) -> list[str | None]:
    values = table.column(column)
    if not pa.types.is_string(values.type) and not pa.types.is_large_string(values.type):
        values = values.cast(pa.string())
    return [v if v else None for v in values.to_pylist()]


def read_ids(path: Path, id_col: str, columns: Sequence[IdColumn]) -> IdFile:
    """Read a party's identifiers from a CSV or Parquet file (every value as text, exactly as
    written). Rows with an empty ``id_col`` are skipped, a repeated ``id_col`` keeps its first
    row; empty identifier cells count as absent. Raises :class:`InputError` for a missing file or
    column or an unreadable file."""
    if not path.is_file():
        raise InputError("file not found", file=str(path))
    wanted = list(dict.fromkeys([id_col, *(c.column for c in columns)]))
    table = _read_table(path, wanted)
    keys = _strings(table, id_col)
    by_column = {c: (keys if c == id_col else _strings(table, c)) for c in wanted}
    people: dict[str, dict[str, str | None]] = {}
    blank = repeated = 0
    for i, key in enumerate(keys):
        if key is None:
            blank += 1
            continue
        if key in people:
            repeated += 1
            continue
        people[key] = {c.id_type: by_column[c.column][i] for c in columns}
    return IdFile(people, tuple(c.id_type for c in columns), len(keys), blank, repeated)


def partial_path(out: Path) -> Path:
    """The temporary file a match output is written to before it is renamed to ``out``."""
    return out.with_name(out.name + ".partial")


def check_output(out: Path) -> None:
    """Fail early (before any matching) if ``out`` cannot be written: its folder is missing or it
    names a folder. Raises :class:`ConfigError`."""
    if out.is_dir():
        raise ConfigError(f"--out {out} is a folder; give a file name")
    if not out.parent.is_dir():
        raise ConfigError(f"--out folder {out.parent} does not exist")


def discard_output(out: Path) -> None:
    """Remove ``out`` and its partial file, if present: what a failed run leaves behind."""
    for path in (partial_path(out), out):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def write_matches(result: PsiResult, out: Path) -> int:
    """Write ``user_key,match_key`` for each shared person (sorted by user_key) to ``out``
    atomically (partial file, fsync, rename); return the rows written."""
    tmp = partial_path(out)
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(("user_key", "match_key"))
        writer.writerows((m.user_key, m.match_key) for m in result.matches)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, out)
    return len(result.matches)
