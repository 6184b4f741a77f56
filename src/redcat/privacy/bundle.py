"""One paid release of several tables at once: :func:`release_bundle`.

A brand's report is one question with many tables (totals, daily trend, notes, creators,
campaigns...). Paying for each table apart would let a dashboard refresh spend again for every
table; instead the whole report is one release:

- the caller thresholds each table first (withheld cells are NaN: they get no noise and are
  released as withheld), with per-person contribution bounds so every measure's L1 sensitivity
  is known;
- the bundle's ε is split over its parts by ``weight`` and, within a part, evenly over its
  measures (basic composition: the same person may sit in every table);
- every released cell gets OpenDP Laplace noise (:func:`~redcat.privacy.noise.laplace_column`),
  counts are rounded and floored at 0, money floored at 0;
- the whole answer is paid once from the brand's budget and stored under the question's hash
  (:meth:`~redcat.privacy.ledger.BudgetLedger.release`): the identical question asked again gets
  the stored answer, and a refusal spends nothing.

The released frames come from the stored answer (keys as text), never from today's exact data.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from redcat.errors import ConfigError
from redcat.privacy.ledger import BudgetLedger, query_hash
from redcat.privacy.noise import clamp_amount, clamp_count, laplace_column
from redcat.privacy.release import Measure


@dataclass(frozen=True, eq=False)
class BundlePart:
    """One table of a bundle: its ``name``, ``key`` column, the thresholded ``frame`` (one row
    per key value; a measure's withheld cells are NaN), the ``measures`` released from it and its
    ``weight`` (its share of the bundle's ε is weight ÷ the sum of weights)."""

    name: str
    key: str
    frame: pd.DataFrame
    measures: tuple[Measure, ...]
    weight: float = 1.0

    def __post_init__(self) -> None:
        if self.weight <= 0:
            raise ConfigError(f"bundle part {self.name!r} needs a positive weight")
        missing = [c for c in (self.key, *(m.column for m in self.measures)) if c not in self.frame]
        if missing:
            raise ConfigError(f"bundle part {self.name!r} lacks column(s) {', '.join(missing)}")

    def signature(self) -> list[Any]:
        """Return what defines this part in the question's hash (name, key, measures, weight)."""
        return [
            self.name,
            self.key,
            [[m.column, m.sensitivity, m.integer] for m in self.measures],
            self.weight,
        ]


@dataclass(frozen=True, eq=False)
class ReleasedPart:
    """A released table: ``frame`` has the key column as text and each measure's released value
    (NaN where withheld); ``epsilon`` is the ε this part spent (split evenly over its measures),
    ``scale`` and ``error`` map each measure to its Laplace scale and its per-cell error bound
    (absolute, at the bundle's confidence), ``withheld`` counts the withheld cells."""

    name: str
    key: str
    frame: pd.DataFrame
    epsilon: float
    scale: Mapping[str, float]
    error: Mapping[str, float]
    withheld: int


@dataclass(frozen=True, eq=False)
class BundleRelease:
    """The outcome of :func:`release_bundle`: its ``parts`` by name, the bundle's ``epsilon``,
    the ε ``spent`` now (0 when the answer was ``cached``), the question's hash and the level of
    the error bounds."""

    parts: Mapping[str, ReleasedPart]
    epsilon: float
    spent: float
    cached: bool
    query_hash: str
    confidence: float
    period: str
    kind: str
    name: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)


def _text_key(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def _shares(parts: Sequence[BundlePart], epsilon: float) -> dict[str, float]:
    total = sum(p.weight for p in parts)
    return {p.name: epsilon * p.weight / total for p in parts}


def _draw(parts: Sequence[BundlePart], epsilon: float, confidence: float) -> str:
    """Draw the noise of every released cell of every part and return the answer as JSON."""
    shares = _shares(parts, epsilon)
    answer: dict[str, Any] = {}
    for part in parts:
        eps = shares[part.name] / max(len(part.measures), 1)
        values: dict[str, list[float | None]] = {}
        scale: dict[str, float] = {}
        error: dict[str, float] = {}
        for m in part.measures:
            exact = part.frame[m.column].to_numpy(dtype="float64")
            live = ~np.isnan(exact)
            col = laplace_column(
                exact[live],
                sensitivity=m.sensitivity,
                epsilon=eps,
                integer=m.integer,
                confidence=confidence,
            )
            full = np.full(len(exact), np.nan)
            full[live] = clamp_count(col.values) if m.integer else clamp_amount(col.values)
            values[m.column] = [None if math.isnan(v) else float(v) for v in full]
            scale[m.column] = col.scale
            error[m.column] = col.error_bound
        answer[part.name] = {
            "key": part.key,
            "keys": [_text_key(v) for v in part.frame[part.key]],
            "epsilon": shares[part.name],
            "values": values,
            "scale": scale,
            "error": error,
        }
    return json.dumps(answer, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _parts_of(answer: Mapping[str, Any]) -> dict[str, ReleasedPart]:
    out: dict[str, ReleasedPart] = {}
    for name, part in answer.items():
        frame = pd.DataFrame({part["key"]: pd.Series(part["keys"], dtype="object")})
        withheld = 0
        for column, values in part["values"].items():
            col = np.array([np.nan if v is None else float(v) for v in values], dtype="float64")
            frame[column] = col
            withheld += int(np.isnan(col).sum())
        out[name] = ReleasedPart(
            name=name,
            key=part["key"],
            frame=frame,
            epsilon=float(part["epsilon"]),
            scale=MappingProxyType({k: float(v) for k, v in part["scale"].items()}),
            error=MappingProxyType({k: float(v) for k, v in part["error"].items()}),
            withheld=withheld,
        )
    return out


def release_bundle(
    parts: Sequence[BundlePart],
    *,
    ledger: BudgetLedger,
    brand: str,
    name: str,
    epsilon: float,
    params: Mapping[str, Any],
    kind: str = "report",
    confidence: float = 0.95,
    period: str | None = None,
) -> BundleRelease:
    """Release every part of ``parts`` to ``brand`` as one question ``name`` spending
    ``epsilon`` from ``brand``'s budget in ``ledger`` (current period unless ``period``).

    The question's hash covers the brand, ``name``, ``params`` (scope, data version, windows,
    threshold, bounds...), every part's signature, ``kind``, ``confidence`` and ε: asking it again
    in the same period returns the stored answer and spends nothing. Raises
    :class:`~redcat.errors.PrivacyBudgetExceeded` when the budget does not cover it (nothing
    spent) and :class:`ConfigError` for an empty bundle or repeated part names."""
    if not parts:
        raise ConfigError("a release bundle needs at least one table")
    names = [p.name for p in parts]
    if len(set(names)) != len(names):
        raise ConfigError(f"bundle part names repeat: {', '.join(names)}")
    question = {
        "params": dict(params),
        "parts": [p.signature() for p in parts],
        "kind": kind,
        "confidence": confidence,
    }
    qhash = query_hash(brand, name, question, epsilon)
    period = period or ledger.period()
    spent = ledger.release(
        brand,
        qhash,
        name=name,
        kind=kind,
        epsilon=epsilon,
        compute=lambda: _draw(parts, epsilon, confidence),
        period=period,
    )
    return BundleRelease(
        parts=MappingProxyType(_parts_of(json.loads(spent.answer))),
        epsilon=epsilon,
        spent=spent.epsilon,
        cached=spent.cached,
        query_hash=qhash,
        confidence=confidence,
        period=period,
        kind=kind,
        name=name,
        params=MappingProxyType(dict(params)),
    )


__all__ = ["BundlePart", "BundleRelease", "ReleasedPart", "release_bundle"]
