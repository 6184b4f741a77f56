"""A large, deterministic aggregated path file for the attribution benchmarks.

The file has the common exchange form ``path;total_conversions;total_conversion_value;total_null``
(ChannelAttribution's ``Data.csv``): one row per *distinct* path, channels joined by `` > ``.

How it is drawn (every draw from one seeded generator, so the same arguments give the same bytes):

- channels ``ch001`` … have Zipf-like popularity (weight ``1 / rank ** zipf``, ranks shuffled over
  the names), so a few channels sit in most paths and a long tail appears rarely;
- a journey has 1-8 touches, P(length = l) ∝ ``length_decay ** (l - 1)``; each touch is drawn by
  popularity and never repeats the touch before it (consecutive repeats are where the tools'
  conventions differ: ChannelAttribution and redcat collapse them for Markov, mam drops the
  self-transition, and the heuristics would then disagree for reasons that are not speed);
- candidate journeys are drawn until ``rows`` distinct paths exist; a path's journey count is how
  often it was drawn times a small heavy-tailed multiplier, so short popular paths carry
  thousands of journeys and most long paths one to a few;
- each channel has a lift; a path converts each journey with probability base + the lifts of its
  distinct channels (capped), conversions ~ Binomial(journeys, rate), nulls are the rest, and the
  value is conversions × a log-normal order value (yuan, two decimals).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

MAX_LENGTH = 8
SEPARATOR = " > "
COLUMNS: tuple[str, ...] = ("path", "total_conversions", "total_conversion_value", "total_null")


@dataclass(frozen=True)
class PathSpec:
    """What to draw: ``rows`` distinct paths over ``channels`` channels (see the module doc)."""

    rows: int = 1_000_000
    channels: int = 300
    seed: int = 20260501
    zipf: float = 1.05
    length_decay: float = 0.62
    base_rate: float = 0.01
    max_rate: float = 0.6
    mean_order_value: float = 150.0


def channel_names(n: int) -> list[str]:
    """Return ``n`` channel names ``ch001``, ``ch002``… (zero-padded to equal width)."""
    width = max(3, len(str(n)))
    return [f"ch{i + 1:0{width}d}" for i in range(n)]


def _no_repeats(codes: np.ndarray, p: np.ndarray, rng: np.random.Generator) -> None:
    """Redraw, in place, every touch equal to the touch before it."""
    n = p.size
    for j in range(1, codes.shape[1]):
        same = codes[:, j] == codes[:, j - 1]
        for _ in range(8):
            if not same.any():
                break
            codes[same, j] = rng.choice(n, size=int(same.sum()), p=p)
            same = codes[:, j] == codes[:, j - 1]
        # Whatever still repeats after a few redraws moves to the next channel (rare).
        codes[same, j] = (codes[same, j] + 1) % n


def _candidates(
    spec: PathSpec, m: int, p: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    length_p = spec.length_decay ** np.arange(MAX_LENGTH)
    lengths = rng.choice(np.arange(1, MAX_LENGTH + 1), size=m, p=length_p / length_p.sum())
    codes = rng.choice(p.size, size=(m, MAX_LENGTH), p=p).astype(np.int16)
    _no_repeats(codes, p, rng)
    codes[np.arange(MAX_LENGTH)[None, :] >= lengths[:, None]] = -1
    return codes, lengths


def _path_ids(codes: np.ndarray) -> np.ndarray:
    """Number each distinct row of ``codes`` (-1 padded) in order of first appearance."""
    # Nine bits per touch: four touches fit one int64 exactly, so two factorizations and one
    # more over their pair give exact ids (no hashing, no collisions).
    shift = np.arange(4, dtype=np.int64) * 9
    halves = [((codes[:, k : k + 4].astype(np.int64) + 1) << shift).sum(axis=1) for k in (0, 4)]
    a, _ = pd.factorize(halves[0])
    b, _ = pd.factorize(halves[1])
    ids, _ = pd.factorize(a.astype(np.int64) * (int(b.max()) + 1) + b)
    return ids.astype(np.int64)


def draw_paths(spec: PathSpec) -> pd.DataFrame:
    """Return the path table (columns ``COLUMNS``), ``spec.rows`` distinct paths, in the order
    they were first drawn. Counts are journeys (int), value is yuan (float, 2 decimals)."""
    rng = np.random.default_rng(spec.seed)
    names = np.asarray(channel_names(spec.channels), dtype=object)
    weights = 1.0 / np.arange(1, spec.channels + 1) ** spec.zipf
    p = rng.permutation(weights / weights.sum())
    lift = rng.lognormal(np.log(0.004), 1.0, size=spec.channels)

    # Draw batches until enough distinct paths exist; the multiplicity of a path (how many
    # candidates drew it) is its popularity.
    batches: list[np.ndarray] = []
    m = max(1000, spec.rows * 2)
    while True:
        codes, _ = _candidates(spec, m, p, rng)
        batches.append(codes)
        every = np.concatenate(batches)
        ids = _path_ids(every)
        distinct = int(ids.max()) + 1
        if distinct >= spec.rows:
            break
        m = max(1000, (spec.rows - distinct) * 4)
    # Factorized ids number paths in order of first appearance.
    first = np.full(distinct, every.shape[0], dtype=np.int64)
    np.minimum.at(first, ids, np.arange(every.shape[0]))
    codes = every[first[: spec.rows]].astype(np.int64)
    popularity = np.bincount(ids, minlength=distinct)[: spec.rows]
    lengths = (codes >= 0).sum(axis=1)

    journeys = popularity * rng.integers(1, 4, size=spec.rows) + np.floor(
        rng.pareto(1.3, size=spec.rows)
    ).astype(np.int64)
    lifts = np.where(codes >= 0, lift[np.maximum(codes, 0)], 0.0)
    # A channel that appears twice in a path (a > b > a) lifts it once.
    dup = np.zeros_like(codes, dtype=bool)
    for j in range(1, MAX_LENGTH):
        dup[:, j] = (codes[:, :j] == codes[:, j : j + 1]).any(axis=1) & (codes[:, j] >= 0)
    rate = np.minimum(spec.base_rate + np.where(dup, 0.0, lifts).sum(axis=1), spec.max_rate)
    conversions = rng.binomial(journeys, rate)
    order_value = rng.lognormal(np.log(spec.mean_order_value) - 0.125, 0.5, size=spec.rows)
    value = np.round(conversions * order_value, 2)

    text = pd.Series(names[codes[:, 0]], dtype=object)
    for j in range(1, MAX_LENGTH):
        more = lengths > j
        text[more] = text[more] + SEPARATOR + names[codes[more, j]]
    return pd.DataFrame(
        {
            "path": text,
            "total_conversions": conversions.astype(np.int64),
            "total_conversion_value": value,
            "total_null": (journeys - conversions).astype(np.int64),
        }
    )


def write_path_file(spec: PathSpec, out: Path) -> pd.DataFrame:
    """Draw the paths of ``spec``, write them to ``out`` (``;``-separated, header row) and return
    the table."""
    frame = draw_paths(spec)
    out.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(out, sep=";", index=False, float_format="%.2f")
    return frame


def subsample(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """Return ``rows`` rows of ``frame`` drawn without replacement (seeded), in file order."""
    if rows >= len(frame):
        return frame
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(frame), size=rows, replace=False))
    return frame.iloc[pick].reset_index(drop=True)
