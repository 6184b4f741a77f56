"""Tiny worlds shared by the simulator tests (built once per session)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from redcat.ingest.contract import ALL_TABLES
from redcat.simulate import World, WorldConfig, WorldSummary, build_world, simulate_world

# Strong effects so even a tiny world has caused orders to check; three retailers so "vip" exists.
TINY = WorldConfig(
    users=3000, days=12, brands=3, retailers=3, seed=11, history_days=20, effect_scale=4.0
)


@pytest.fixture(scope="session")
def tiny() -> WorldConfig:
    return TINY


@pytest.fixture(scope="session")
def rows() -> Callable[[Path], pd.DataFrame]:
    """``rows(path)``: a written file's rows, in the same form whatever the format."""
    return canonical


@pytest.fixture(scope="session")
def raw() -> Callable[[Path], pa.Table]:
    """``raw(path)``: a written file as stored (CSV all text)."""
    return read_raw


@pytest.fixture(scope="session")
def tiny_world() -> World:
    return build_world(TINY)


@pytest.fixture(scope="session")
def written(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], WorldSummary]:
    """``written(fmt)`` writes TINY once per format and returns its summary."""
    cache: dict[str, WorldSummary] = {}

    def get(fmt: str) -> WorldSummary:
        if fmt not in cache:
            cache[fmt] = simulate_world(TINY, tmp_path_factory.mktemp(f"world-{fmt}"), fmt)
        return cache[fmt]

    return get


def read_raw(path: Path) -> pa.Table:
    """Read a written file as stored: CSV with every column as text, JSONL as JSON values."""
    table = path.stem
    columns = ALL_TABLES[table].columns if table in ALL_TABLES else None
    if path.suffix == ".parquet":
        return pq.read_table(path)
    if path.suffix == ".csv":
        opts = pcsv.ConvertOptions(
            column_types=dict.fromkeys(columns, pa.string()) if columns else None,
            strings_can_be_null=False,
        )
        return pcsv.read_csv(path, convert_options=opts)
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return pa.Table.from_pylist(rows) if rows else pa.table({c: [] for c in columns or ()})


def canonical(path: Path) -> pd.DataFrame:
    """Return a file's rows in one form for every format: text (None when missing) except
    amounts (float) and product_ids (tuple)."""
    raw = read_raw(path)
    out = {}
    for name in raw.column_names:
        col = raw[name]
        if pa.types.is_timestamp(col.type):
            col = pc.strftime(col.cast(pa.timestamp("s")), format="%Y-%m-%dT%H:%M:%S")
        elif pa.types.is_date(col.type):
            col = pc.strftime(col, format="%Y-%m-%d")
        values = col.to_pylist()
        if name == "product_ids":
            values = [
                tuple(v.split("|")) if isinstance(v, str) else (tuple(v) if v is not None else None)
                for v in values
            ]
        elif name == "amount":
            values = [None if v in (None, "") else float(v) for v in values]
        else:
            values = [None if v in (None, "") else str(v) for v in values]
        out[name] = values
    return pd.DataFrame(out, columns=raw.column_names)
