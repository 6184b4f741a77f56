"""Write contract tables as CSV, Parquet or JSONL, chunk by chunk, byte-for-byte reproducibly.

Tables arrive as Arrow tables typed from the contract (:func:`arrow_schema`). Parquet keeps those
types (timestamps as ``timestamp[us]``, dates as ``date32``, ``product_ids`` as a list). CSV and
JSONL write timestamps as ``YYYY-MM-DDTHH:MM:SS`` (UTC, no offset) and dates as ``YYYY-MM-DD``;
CSV joins lists with ``|`` and leaves missing values empty; JSONL writes them as ``null``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from redcat.errors import ConfigError
from redcat.ingest.contract import TableSpec
from redcat.simulate.config import FORMATS

_ARROW_TYPES: dict[str, pa.DataType] = {
    "str": pa.string(),
    "enum": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "timestamp": pa.timestamp("us"),
    "date": pa.date32(),
    "list": pa.list_(pa.string()),
}
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S"


def arrow_schema(spec: TableSpec) -> pa.Schema:
    """Return the Arrow schema of a contract table: its columns in order, optional ones
    nullable."""
    return pa.schema(
        [pa.field(f.name, _ARROW_TYPES[f.kind], nullable=not f.required) for f in spec.fields]
    )


def fixed_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """Return ``prefix`` + ``numbers`` zero-padded to ``width`` digits as an Arrow string array
    (null where a number is negative). Built from raw bytes: no per-row Python."""
    n = len(numbers)
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    size = len(head) + width
    buf = np.empty((n, size), dtype=np.uint8)
    buf[:, : len(head)] = head
    rest = np.maximum(numbers, 0).astype(np.int64)
    for j in range(width - 1, -1, -1):
        buf[:, len(head) + j] = rest % 10 + 48
        rest //= 10
    arr = fixed_strings(buf)
    if (numbers < 0).any():
        arr = pc.if_else(pa.array(numbers >= 0), arr, pa.scalar(None, pa.string()))
    return arr


def fixed_strings(buf: np.ndarray) -> pa.Array:
    """Return the rows of an (n, width) uint8 array of ASCII bytes as an Arrow string array."""
    n, width = buf.shape
    offsets = np.arange(n + 1, dtype=np.int64) * width
    return pa.LargeStringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(buf))
    ).cast(pa.string())


def id_width(count: int, minimum: int = 9) -> int:
    """Digits used for ``count`` sequential ids: at least ``minimum``, so ids sort as numbers."""
    return max(minimum, len(str(count)))


def lookup(values: Iterable[str], idx: np.ndarray) -> pa.Array:
    """Return ``values[idx]`` as an Arrow string array (null where ``idx`` is negative)."""
    dictionary = pa.array(list(values), type=pa.string())
    mask = idx < 0
    indices = pa.array(np.maximum(idx, 0), type=pa.int64(), mask=mask if mask.any() else None)
    return pc.take(dictionary, indices)


def timestamps(seconds: np.ndarray) -> pa.Array:
    """Return epoch seconds as an Arrow ``timestamp[us]`` array."""
    return pa.array(seconds.astype(np.int64) * 1_000_000, type=pa.timestamp("us"))


class TableSink:
    """Writes one contract table to ``path`` in ``fmt``, one Arrow chunk at a time; counts rows.

    Use as a context manager; chunks must already have :func:`arrow_schema` ``(spec)``.
    """

    def __init__(self, path: Path, spec: TableSpec, fmt: str) -> None:
        if fmt not in FORMATS:
            raise ConfigError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
        self.path = path
        self.spec = spec
        self.fmt = fmt
        self.schema = arrow_schema(spec)
        self.rows = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._parquet: pq.ParquetWriter | None = None
        self._duck: duckdb.DuckDBPyConnection | None = None
        if fmt == "parquet":
            self._parquet = pq.ParquetWriter(path, self.schema, compression="snappy")
        else:
            with path.open("wb") as fh:
                if fmt == "csv":
                    fh.write((",".join(spec.columns) + "\n").encode())
            if fmt == "jsonl":
                self._duck = duckdb.connect()

    def __enter__(self) -> TableSink:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def write(self, table: pa.Table) -> None:
        """Append ``table`` (contract schema) to the file."""
        if not table.schema.equals(self.schema):
            raise ValueError(f"{self.spec.name}: chunk schema {table.schema} != {self.schema}")
        self.rows += table.num_rows
        if self._parquet is not None:
            self._parquet.write_table(table)
        elif self.fmt == "csv":
            self._write_csv(_as_text(table, lists_joined=True))
        else:
            self._write_jsonl(_as_text(table, lists_joined=False))

    def _write_csv(self, table: pa.Table) -> None:
        with self.path.open("ab") as fh:
            try:
                options = pcsv.WriteOptions(include_header=False, quoting_style="none")
                sink = pa.BufferOutputStream()
                pcsv.write_csv(table, sink, options)
            except pa.ArrowInvalid:  # a value holds a comma, quote or newline: quote strings
                options = pcsv.WriteOptions(include_header=False, quoting_style="needed")
                sink = pa.BufferOutputStream()
                pcsv.write_csv(table, sink, options)
            fh.write(sink.getvalue().to_pybytes())

    def _write_jsonl(self, table: pa.Table) -> None:
        assert self._duck is not None
        with tempfile.TemporaryDirectory() as tmp:
            part = Path(tmp) / "part.jsonl"
            self._duck.register("chunk", table)
            self._duck.execute(f"COPY chunk TO '{part}' (FORMAT JSON)")
            self._duck.unregister("chunk")
            with self.path.open("ab") as fh, part.open("rb") as src:
                while block := src.read(1 << 24):
                    fh.write(block)

    def close(self) -> None:
        """Finish the file."""
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None
        if self._duck is not None:
            self._duck.close()
            self._duck = None


def _as_text(table: pa.Table, *, lists_joined: bool) -> pa.Table:
    """Turn timestamps and dates into ISO strings (and, for CSV, lists into ``a|b``)."""
    columns = []
    for name in table.column_names:
        col = table[name]
        if pa.types.is_timestamp(col.type):
            col = pc.strftime(col.cast(pa.timestamp("s")), format=TIMESTAMP_FORMAT)
        elif pa.types.is_date(col.type):
            col = pc.strftime(col, format="%Y-%m-%d")
        elif pa.types.is_list(col.type) and lists_joined:
            col = pc.binary_join(col, "|")
        columns.append(col)
    return pa.table(columns, names=table.column_names)
