"""Validation as SQL: each staged row's first failing field and reason, and its typed values.

A :class:`Layout` says how a staged batch exposes each contract field (CSV: the n-th
comma-separated field; JSONL: a key of the line's JSON object; Parquet: a column, typed or not).
:func:`checked_sql` turns a layout into one SELECT that yields, per staged row, ``__row``,
``__err`` (``field<US>reason`` for the first failing check, ``<US>reason`` for a whole-row problem,
NULL for a good row; US is the ASCII unit separator, chr(31)), ``__bad_raw`` (the raw text, bad
rows only) and one typed column per contract field. The checks, in order: whole-row problems;
then field by field in contract order: JSON shape, missing, empty, then the field's kind
(timestamp, date, enum choice, number and minimum, list items).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from redcat.ingest.contract import Field, TableSpec

SEP = "chr(31)"

# ISO 8601 calendar date, optionally a time (minutes, seconds, fraction) and a UTC offset or Z.
ISO_TIMESTAMP = (
    r"\d{4}-\d{2}-\d{2}"  # date
    r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?"  # time: hh:mm[:ss[.fraction]]
    r"(?:[Zz]|[+-]\d{2}(?::?\d{2})?)?)?"  # offset
)
ISO_DATE = r"\d{4}-\d{2}-\d{2}"
SHOWN_CHARS = 80  # characters of an offending value quoted in a reason


def sql_str(text: str) -> str:
    """Return ``text`` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def ident(name: str) -> str:
    """Return ``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _shown(expr: str) -> str:
    """SQL: the value of ``expr`` in single quotes, cut to SHOWN_CHARS characters."""
    return (
        f"('''' || left({expr}, {SHOWN_CHARS}) || "
        f"CASE WHEN length({expr}) > {SHOWN_CHARS} THEN '…' ELSE '' END || '''')"
    )


@dataclass(frozen=True)
class FieldSource:
    """Where one field's value comes from: ``text`` (a VARCHAR expression, NULL when the row has
    no value), ``native`` (an expression of the file's own type, when a Parquet column is already
    a timestamp, date or list), ``json_type`` (JSONL: the JSON type of the value, e.g. 'ARRAY')
    and ``json_value`` (JSONL: the value as JSON)."""

    text: str
    native: str | None = None
    json_type: str | None = None
    json_value: str | None = None


@dataclass(frozen=True)
class Layout:
    """How a staged batch exposes the contract: ``base`` is a SELECT over the stage (helper
    columns added), ``row_problem`` a SQL expression naming a whole-row problem or NULL, ``raw``
    the row's raw text, ``fields`` the source of each contract field."""

    base: str
    row_problem: str
    raw: str
    fields: Mapping[str, FieldSource] = field(default_factory=dict)


def csv_layout(spec: TableSpec, header: Sequence[str], stage: str) -> Layout:
    """Layout of a staged CSV batch whose header is ``header``: fields are the csv module's
    (quoted records) or the raw line split on commas."""
    n = len(header)
    position = {name: i + 1 for i, name in enumerate(header)}
    fields = {
        f.name: FieldSource(text=f"__f[{position[f.name]}]" if f.name in position else "NULL")
        for f in spec.fields
    }
    return Layout(
        # Lines the reader left unparsed hold no quotes, or only simple ones (see
        # redcat.ingest.readers.SIMPLY_QUOTED), so dropping quotes and splitting is exact.
        base=(
            "SELECT *, COALESCE(__fields, string_split(CASE WHEN contains(__raw, '\"') "
            f"THEN replace(__raw, '\"', '') ELSE __raw END, ',')) AS __f FROM {stage}"
        ),
        row_problem=(
            "COALESCE(__problem, CASE WHEN __raw = '' THEN 'empty line' "
            f"WHEN len(__f) <> {n} THEN 'wrong number of fields: expected {n}, got ' || len(__f) "
            "END)"
        ),
        raw="__raw",
        fields=fields,
    )


def jsonl_layout(spec: TableSpec, stage: str) -> Layout:
    """Layout of a staged JSONL batch: each line must be one JSON object; fields are its keys.

    Each line is parsed twice in all: once for the JSON types of the document and of every
    field (``try``: a malformed line yields NULL instead of an error), once for the fields'
    text. DuckDB's JSON reader also accepts a trailing comma before a closing bracket (and, like
    Python's json, NaN and Infinity); anything else malformed is quarantined."""
    paths = [sql_str(f"$.{ident(f.name)}") for f in spec.fields]
    fields = {
        f.name: FieldSource(
            text=f"__j[{i}]",
            json_type=f"__types[{i + 1}]",
            json_value=f"CAST(__j[{i}] AS JSON)",
        )
        for i, f in enumerate(spec.fields, start=1)
    }
    types = (
        "CASE WHEN __problem IS NULL THEN "
        f"try(json_type(__raw, ['$', {', '.join(paths)}])) END AS __types"
    )
    return Layout(
        base=(
            "SELECT *, CASE WHEN __types[1] = 'OBJECT' "
            f"THEN json_extract_string(__raw, [{', '.join(paths)}]) END AS __j "
            f"FROM (SELECT *, {types} FROM {stage})"
        ),
        row_problem=(
            "CASE WHEN __types[1] = 'OBJECT' THEN NULL "
            "WHEN __problem IS NOT NULL THEN __problem "
            "WHEN trim(__raw) = '' THEN 'empty line' "
            "WHEN __types IS NULL THEN 'malformed JSON' ELSE 'not a JSON object' END"
        ),
        raw="__raw",
        fields=fields,
    )


def _native_ok(f: Field, sql_type: str) -> bool:
    """Whether a Parquet column of ``sql_type`` is taken as it is for field ``f``."""
    if f.kind in ("timestamp", "date"):
        return sql_type.startswith("TIMESTAMP") or sql_type == "DATE"
    if f.kind == "list":
        return sql_type.endswith("[]")
    return False


def parquet_layout(spec: TableSpec, column_types: Mapping[str, str], stage: str) -> Layout:
    """Layout of a staged Parquet batch with the given DuckDB column types: timestamp, date and
    list columns are taken as they are, every other column is read as text."""
    fields = {}
    for f in spec.fields:
        if f.name not in column_types:
            fields[f.name] = FieldSource(text="NULL")
            continue
        col = ident(f.name)
        native = col if _native_ok(f, column_types[f.name]) else None
        fields[f.name] = FieldSource(text=f"CAST({col} AS VARCHAR)", native=native)
    present = [name for name in spec.columns if name in column_types]
    raw = (
        "CAST(to_json(struct_pack("
        + ", ".join(f"{ident(name)} := {ident(name)}" for name in present)
        + ")) AS VARCHAR)"
    )
    return Layout(base=f"SELECT * FROM {stage}", row_problem="NULL", raw=raw, fields=fields)


def _value(f: Field, src: FieldSource, t: str) -> str:
    """SQL: the typed value of field ``f`` (NULL if missing or invalid); ``t`` names its text."""
    if f.kind == "timestamp":
        if src.native is not None:
            return f"CAST({src.native} AS TIMESTAMP)"
        has_offset = (
            f"(right({t}, 1) IN ('Z', 'z') OR strpos(substr({t}, 12), '+') > 0 "
            f"OR strpos(substr({t}, 12), '-') > 0)"
        )
        return (
            f"CASE WHEN regexp_full_match({t}, {sql_str(ISO_TIMESTAMP)}) THEN "
            f"CASE WHEN {has_offset} THEN make_timestamp(epoch_us(TRY_CAST({t} AS TIMESTAMPTZ))) "
            f"ELSE TRY_CAST({t} AS TIMESTAMP) END END"
        )
    if f.kind == "date":
        if src.native is not None:
            n = src.native
            return f"CASE WHEN CAST({n} AS DATE) = {n} THEN CAST({n} AS DATE) END"
        return (
            f"CASE WHEN regexp_full_match({t}, {sql_str(ISO_DATE)}) THEN TRY_CAST({t} AS DATE) END"
        )
    if f.kind == "float":
        return f"TRY_CAST({t} AS DOUBLE)"
    if f.kind == "int":
        return f"TRY_CAST({t} AS BIGINT)"
    if f.kind == "list":
        if src.native is not None:
            items = f"CAST({src.native} AS VARCHAR[])"
        elif src.json_value is not None:
            items = (
                f"CASE WHEN {src.json_type} = 'ARRAY' THEN CAST({src.json_value} AS VARCHAR[]) END"
            )
        else:
            items = f"CASE WHEN {t} <> '' THEN string_split({t}, '|') END"
        return f"CASE WHEN len({items}) > 0 THEN {items} END"
    # str / enum: an optional field left empty is stored as NULL.
    return t if f.required else f"CASE WHEN trim({t}) <> '' THEN {t} END"


def _check(f: Field, src: FieldSource, t: str, v: str) -> str:
    """SQL: the reason field ``f`` fails (NULL if it passes); ``t`` / ``v`` name its text and
    typed value."""
    name = f.name
    whens: list[str] = []
    if src.json_type is not None:
        jt = src.json_type
        if f.kind == "list":
            whens.append(
                f"WHEN {jt} NOT IN ('ARRAY', 'NULL') "
                f"THEN {sql_str(name + ': expected a JSON list, got ')} || {_shown(t)}"
            )
        else:
            whens.append(
                f"WHEN {jt} IN ('OBJECT', 'ARRAY') "
                f"THEN {sql_str(name + ': expected a single value, got a JSON ')} || lower({jt})"
            )
    missing = sql_str(f"missing required field {name!r}") if f.required else "NULL"
    empty = sql_str(f"empty required field {name!r}") if f.required else "NULL"
    whens.append(f"WHEN {t} IS NULL THEN {missing}")
    if f.kind == "list":
        whens.append(f"WHEN {v} IS NULL THEN {empty}")
        whens.append(
            f"WHEN list_count({v}) < len({v}) OR list_contains({v}, '') "
            f"THEN {sql_str('empty item in ' + name + ': ')} || {_shown(t)}"
        )
    else:
        whens.append(f"WHEN trim({t}) = '' THEN {empty}")
    if f.kind == "timestamp":
        whens.append(f"WHEN {v} IS NULL THEN 'not an ISO 8601 timestamp: ' || {_shown(t)}")
    elif f.kind == "date":
        whens.append(f"WHEN {v} IS NULL THEN 'not a date (YYYY-MM-DD): ' || {_shown(t)}")
    elif f.kind == "enum":
        choices = ", ".join(sql_str(c) for c in f.choices)
        expected = sql_str(f" (expected one of: {', '.join(f.choices)})")
        whens.append(
            f"WHEN {t} NOT IN ({choices}) "
            f"THEN {sql_str('unknown ' + name + ' ')} || {_shown(t)} || {expected}"
        )
    elif f.kind in ("float", "int"):
        what = "a number" if f.kind == "float" else "an integer"
        whens.append(f"WHEN {v} IS NULL THEN 'not {what}: ' || {_shown(t)}")
        if f.kind == "float":
            whens.append(f"WHEN NOT isfinite({v}) THEN 'not a finite number: ' || {_shown(t)}")
        if f.minimum is not None:
            below = (
                sql_str(f"negative {name} ")
                if f.minimum == 0
                else sql_str(f"{name} below the minimum {f.minimum:g}: ")
            )
            whens.append(f"WHEN {v} < {f.minimum!r} THEN {below} || trim({t})")
    return f"({sql_str(name)} || {SEP} || (CASE {' '.join(whens)} END))"


def checked_sql(spec: TableSpec, layout: Layout, raw_max_chars: int) -> str:
    """Return a SELECT over ``layout`` yielding ``__row``, ``__err``, the contract columns typed
    as stored, and ``__bad_raw`` (the raw text of bad rows only, cut to ``raw_max_chars``)."""
    texts = ", ".join(f"{layout.fields[f.name].text} AS __t{i}" for i, f in enumerate(spec.fields))
    values = ", ".join(
        f"{_value(f, layout.fields[f.name], f'__t{i}')} AS __v{i}"
        for i, f in enumerate(spec.fields)
    )
    checks = [f"({SEP} || __row_problem)"] + [
        _check(f, layout.fields[f.name], f"__t{i}", f"__v{i}") for i, f in enumerate(spec.fields)
    ]
    typed = ", ".join(f"__v{i} AS {ident(f.name)}" for i, f in enumerate(spec.fields))
    # Each level adds columns to the stage's own, so the raw text (for Parquet, a JSON rendering
    # of the row) is built at the end and, CASE being lazy, for bad rows only.
    inner = f"SELECT *, {layout.row_problem} AS __row_problem, {texts} FROM ({layout.base})"
    middle = f"SELECT *, {values} FROM ({inner})"
    checked = f"SELECT *, COALESCE({', '.join(checks)}) AS __err FROM ({middle})"
    return (
        f"SELECT __row, __err, {typed}, "
        f"CASE WHEN __err IS NOT NULL THEN left({layout.raw}, {raw_max_chars}) END AS __bad_raw "
        f"FROM ({checked})"
    )
