"""Read aggregated path files: ``a > b > c;conversions;value;nulls`` with a header row.

This is the common exchange form of attribution tools (ChannelAttribution's ``Data.csv``): one
row per distinct path, channels joined by ``>`` (spaces around it optional), the path's
conversions, their total value (currency) and how many times it ended without a conversion. The
value and null columns may be absent; they then count as 0 and a note says so.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from redcat.attribution.journeys import FloatArray, JourneyTable
from redcat.errors import AttributionError, InputError

DEFAULT_PATH_COL = "path"
DEFAULT_CONV_COL = "total_conversions"
DEFAULT_VALUE_COL = "total_conversion_value"
DEFAULT_NULL_COL = "total_null"


@dataclass(frozen=True, eq=False)
class PathFile:
    """A path file read into a :class:`JourneyTable` (one journey per row, in file order), with
    notes about columns that were missing and therefore taken as 0."""

    table: JourneyTable
    notes: tuple[str, ...]


def read_path_file(
    file: Path | str,
    *,
    sep: str = ";",
    path_col: str = DEFAULT_PATH_COL,
    conv_col: str = DEFAULT_CONV_COL,
    value_col: str = DEFAULT_VALUE_COL,
    null_col: str = DEFAULT_NULL_COL,
    channel_sep: str = ">",
) -> PathFile:
    """Read an aggregated path file.

    The header must name ``path_col`` and ``conv_col``; ``value_col`` (currency) and
    ``null_col`` (count) are optional. Raises :class:`InputError` naming the file, the 1-based
    data row and the field for an empty path or channel, a count or value that is not a finite
    number >= 0, or value on a row without conversions.
    """
    name = str(file)
    if len(sep) != 1:
        raise InputError(f"the column separator must be one character, not {sep!r}", file=name)
    try:
        frame = pd.read_csv(
            file,
            sep=sep,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            quoting=csv.QUOTE_MINIMAL,
            engine="c",
        )
    except FileNotFoundError:
        raise InputError("no such file", file=name) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot parse the path file: {exc}", file=name) from None
    columns = [str(c).strip() for c in frame.columns]
    frame.columns = pd.Index(columns)
    for col in (path_col, conv_col):
        if col not in columns:
            raise InputError(
                f"missing column {col!r} (header has {', '.join(columns)})",
                file=name,
                field=col,
            )
    notes: list[str] = []
    n = len(frame)
    conv = _numbers(frame, conv_col, name)
    if value_col in columns:
        value = _numbers(frame, value_col, name)
    else:
        value = np.zeros(n)
        notes.append(f"no {value_col!r} column: conversion value counts as 0")
    if null_col in columns:
        nulls = _numbers(frame, null_col, name)
    else:
        nulls = np.zeros(n)
        notes.append(
            f"no {null_col!r} column: every path counts 0 nulls (Markov and Shapley then see "
            "only converting paths)"
        )
    bad = np.flatnonzero((conv == 0) & (value != 0))
    if bad.size:
        raise InputError(
            "value on a row without conversions", file=name, row=int(bad[0]) + 1, field=value_col
        )
    touches, lengths = _split_paths(frame[path_col], channel_sep, name, path_col)
    try:
        table = JourneyTable.from_arrays(
            touches, lengths, conversions=conv, value=value, nulls=nulls
        )
    except AttributionError as exc:  # pragma: no cover - every case is checked above
        raise InputError(str(exc), file=name) from None
    return PathFile(table=table, notes=tuple(notes))


def _numbers(frame: pd.DataFrame, col: str, file: str) -> FloatArray:
    nums: FloatArray
    try:  # fast path: every cell parses; the checks below still run on the numbers
        nums = np.asarray(frame[col].astype("float64"), dtype=np.float64)
    except (TypeError, ValueError):
        nums = pd.to_numeric(frame[col].astype(str).str.strip(), errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
    bad = ~np.isfinite(nums) | (nums < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        text = str(frame[col].iloc[i]).strip()
        why = "is negative" if np.isfinite(nums[i]) else "is not a number"
        raise InputError(f"{text!r} {why}", file=file, row=i + 1, field=col)
    return nums


def _split_paths(
    paths: pd.Series, channel_sep: str, file: str, col: str
) -> tuple[np.ndarray, np.ndarray]:
    """Split every path into trimmed channel names in one vectorized pass (pyarrow); returns the
    touches back to back and the number per path. An empty path or channel name raises
    :class:`InputError` naming its row."""
    text = pa.array(paths.astype(str), type=pa.large_string())
    parts = pc.split_pattern(text, pattern=channel_sep)
    lengths = pc.list_value_length(parts).to_numpy(zero_copy_only=False).astype(np.int64)
    flat = pc.utf8_trim_whitespace(pc.list_flatten(parts))
    empty = pc.equal(pc.utf8_length(flat), 0).to_numpy(zero_copy_only=False)
    if empty.any():
        touch = int(np.flatnonzero(empty)[0])
        i = int(np.searchsorted(np.cumsum(lengths), touch, side="right"))
        raw = str(text[i])
        why = "empty path" if not raw.strip() else f"empty channel name in path {raw!r}"
        raise InputError(why, file=file, row=i + 1, field=col)
    return flat.to_numpy(zero_copy_only=False), lengths
