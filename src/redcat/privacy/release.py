"""One entry point for releasing a table: :func:`release_table`.

Two modes, and the released frame says which produced each figure:

- ``exact`` — only for a **single data owner looking at its own data**: every figure of the table
  comes from one party and that party asks (e.g. the content platform reading impressions and
  reach of its own notes, ``owners=("content",)``, ``requester="content"``). Nothing is
  suppressed, noised or spent: the owner holds the rows anyway. Anyone else asking for exact
  figures is refused with :class:`~redcat.errors.AccessDenied`. A brand owns no rows (its figures
  join the content platform's and the retailers' data), so a brand never gets exact mode.
- ``noisy`` — everyone else. The aggregation threshold suppresses rows below ``k`` distinct
  matched users and releases them together as the other row (:mod:`redcat.privacy.thresholds`);
  every released figure gets OpenDP Laplace noise scaled to its L1 sensitivity
  (:mod:`redcat.privacy.bounds`, :mod:`redcat.privacy.noise`), ε split evenly over the measures;
  the release is paid from the brand's budget, and the identical question asked again gets the
  stored answer (:mod:`redcat.privacy.ledger`).

The released long frame keeps the exact ``value`` beside the ``released`` one for the clean-room
operator's own checks and the report's privacy section; anything handed to a brand goes through
:meth:`ReleasedTable.public`, which drops it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import pandas as pd

from redcat.errors import AccessDenied, ConfigError
from redcat.privacy.ledger import BudgetLedger, query_hash
from redcat.privacy.noise import clamp_amount, clamp_count, laplace_column
from redcat.privacy.thresholds import OTHER, UnionUsers, suppress_small_cells

Mode = Literal["exact", "noisy"]
MODES: tuple[str, ...] = ("exact", "noisy")

#: Columns of :attr:`ReleasedTable.long` after the key columns.
LONG_COLUMNS: tuple[str, ...] = (
    "measure",
    "value",
    "released",
    "mode",
    "scale",
    "error_bound",
    "suppressed",
    "is_other",
)


@dataclass(frozen=True)
class Measure:
    """A released column: its name, L1 ``sensitivity`` (one user's largest effect on the whole
    column, in its units) and whether it is a count (``integer``: users, events) or money."""

    column: str
    sensitivity: float
    integer: bool = True


@dataclass(frozen=True)
class ReleaseSpec:
    """What is released and under which rules.

    ``name``: the query's name (e.g. ``notes.orders``); ``keys``: the row keys; ``users``: the
    column of distinct matched users per row (the threshold's count); ``measures``: the additive
    columns released; ``owners``: the parties the figures come from (``content``,
    ``retailer:<id>``); ``kind``: the release kind budgets count (``table``, ``kpi``, ``cell``);
    ``epsilon``: ε the whole release spends; ``k``: the aggregation threshold; ``params``: the
    question's parameters (brand filter, period...), part of its canonical hash; ``confidence``:
    level of the error bounds.
    """

    name: str
    keys: tuple[str, ...]
    users: str
    measures: tuple[Measure, ...]
    owners: tuple[str, ...]
    epsilon: float = 1.0
    k: int = 50
    kind: str = "table"
    params: Mapping[str, Any] = field(default_factory=dict)
    confidence: float = 0.95

    def __post_init__(self) -> None:
        if not self.keys:
            raise ConfigError("a release needs at least one key column")
        if not self.measures:
            raise ConfigError("a release needs at least one measure")
        if self.epsilon <= 0:
            raise ConfigError(f"a release's ε must be positive, not {self.epsilon}")
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    def question(self, brand_id: str) -> str:
        """Return the canonical hash of this question asked by ``brand_id``."""
        params = {
            "params": dict(self.params),
            "keys": list(self.keys),
            "users": self.users,
            "measures": [[m.column, m.sensitivity, m.integer] for m in self.measures],
            "k": self.k,
            "kind": self.kind,
            "confidence": self.confidence,
        }
        return query_hash(brand_id, self.name, params, self.epsilon)


@dataclass(frozen=True, eq=False)
class ReleasedTable:
    """A released table. ``long``: one row per (row, measure) with the key columns and
    :data:`LONG_COLUMNS` — ``value`` exact, ``released`` what the brand sees (NaN when
    suppressed), ``mode``, the Laplace ``scale`` and ``error_bound`` (absolute, at ``confidence``;
    0 in exact mode), ``suppressed``, ``is_other``. ``epsilon_spent`` is 0 for exact mode and for
    an answer the ledger had stored (``cached``). ``errors`` maps each measure to its per-cell
    error bound (the noise every released cell of that measure got, suppressed or not)."""

    spec: ReleaseSpec
    mode: str
    long: pd.DataFrame
    epsilon_spent: float
    cached: bool
    query_hash: str | None
    errors: Mapping[str, float] = field(default_factory=dict)

    def public(self) -> pd.DataFrame:
        """Return :attr:`long` without the exact values (what may leave the clean room)."""
        return self.long.drop(columns=["value"])

    def wide(self) -> pd.DataFrame:
        """Return one row per released row: keys, each measure's released value, ``suppressed``
        and ``is_other``."""
        keys = list(self.spec.keys)
        flags = self.long.groupby(keys, dropna=False, sort=False)[
            ["suppressed", "is_other"]
        ].first()
        values = self.long.pivot_table(
            index=keys, columns="measure", values="released", dropna=False, sort=False
        )
        out = flags.join(values).reset_index()
        return out[[*keys, *[m.column for m in self.spec.measures], "suppressed", "is_other"]]

    def error_bounds(self) -> Mapping[str, float]:
        """Return each measure's per-cell error bound (how far noise may have moved a figure, at
        the spec's confidence; 0 in exact mode)."""
        return MappingProxyType(dict(self.errors))


def release_table(
    frame: pd.DataFrame,
    spec: ReleaseSpec,
    mode: str,
    ledger: BudgetLedger | None,
    brand: str,
    *,
    requester: str | None = None,
    period: str | None = None,
    union_users: UnionUsers | None = None,
) -> ReleasedTable:
    """Release ``frame`` (one row per cell of ``spec.keys`` with ``spec.users`` and every
    measure column) to ``requester`` (default ``brand:<brand>``) under ``mode``.

    ``exact`` requires ``spec.owners == (requester,)`` and spends nothing; ``noisy`` thresholds,
    adds noise and spends ``spec.epsilon`` from ``brand``'s budget in ``ledger`` (current period
    unless ``period``). Raises :class:`AccessDenied` for exact figures asked by a non-owner,
    :class:`~redcat.errors.PrivacyBudgetExceeded` when the budget does not cover the release
    (nothing spent), :class:`ConfigError` for an unknown mode or missing columns.
    ``union_users`` counts the distinct users of several rows together for the other row (see
    :func:`~redcat.privacy.thresholds.suppress_small_cells`; default: a safe lower bound).
    """
    if mode not in MODES:
        raise ConfigError(f"unknown release mode {mode!r} (exact or noisy)")
    requester = requester or f"brand:{brand}"
    columns = [m.column for m in spec.measures]
    missing = [c for c in (*spec.keys, spec.users, *columns) if c not in frame.columns]
    if missing:
        raise ConfigError(f"release {spec.name!r} lacks column(s) {', '.join(missing)}")
    if mode == "exact":
        if tuple(spec.owners) != (requester,):
            owners = ", ".join(spec.owners)
            raise AccessDenied(
                f"exact figures of {spec.name!r} are only for their single owner; they come from "
                f"{owners} and {requester} asked: use noisy mode"
            )
        zero = {m.column: 0.0 for m in spec.measures}
        return ReleasedTable(spec, mode, _exact_long(frame, spec), 0.0, False, None, zero)
    if ledger is None:
        raise ConfigError("a noisy release needs a budget ledger")
    table = _thresholded(frame, spec, union_users)
    qhash = spec.question(brand)
    spent = ledger.release(
        brand,
        qhash,
        name=spec.name,
        kind=spec.kind,
        epsilon=spec.epsilon,
        compute=lambda: _noisy_answer(table, spec),
        period=period,
    )
    answer = json.loads(spent.answer)
    long = _answer_long(answer, table, spec)
    errors = {str(m): float(e) for m, e in answer["error"].items()}
    return ReleasedTable(spec, mode, long, spent.epsilon, spent.cached, qhash, errors)


def _exact_long(frame: pd.DataFrame, spec: ReleaseSpec) -> pd.DataFrame:
    keys = list(spec.keys)
    parts = []
    for m in spec.measures:
        part = frame[keys].copy()
        part["measure"] = m.column
        part["value"] = frame[m.column].astype("float64").to_numpy()
        part["released"] = part["value"]
        part["mode"] = "exact"
        part["scale"] = 0.0
        part["error_bound"] = 0.0
        part["suppressed"] = False
        part["is_other"] = False
        parts.append(part)
    return pd.concat(parts, ignore_index=True)[[*keys, *LONG_COLUMNS]]


def _thresholded(
    frame: pd.DataFrame, spec: ReleaseSpec, union_users: UnionUsers | None
) -> pd.DataFrame:
    """Return the thresholded table with the exact value of every measure kept in
    ``exact_<measure>`` (the other row's exact values are its members' sums)."""
    measures = [m.column for m in spec.measures if m.column != spec.users]
    base = frame.reset_index(drop=True)
    out = suppress_small_cells(
        base,
        keys=spec.keys,
        users=spec.users,
        measures=measures,
        k=spec.k,
        union_users=union_users,
    )
    # The other row releases the sum of its members for every measure, user counts included (a
    # person in two suppressed notes counts in both, as in the rows), so that the rows add up
    # to the table's total; its threshold was judged on distinct people.
    members = out["suppressed"].to_numpy()[: len(base)]
    for m in spec.measures:
        exact = base[m.column].astype("float64").to_numpy()
        if len(out) > len(base):
            exact = np.append(exact, exact[members].sum())
        out[f"exact_{m.column}"] = exact
    return out


def _key_of(row: Mapping[Any, Any], keys: Sequence[str]) -> list[str | None]:
    return [None if _missing(row[k]) else str(row[k]) for k in keys]


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _noisy_answer(table: pd.DataFrame, spec: ReleaseSpec) -> str:
    """Draw the noise for every released cell and return the answer as JSON (keys as text)."""
    keys = list(spec.keys)
    live = ~table["suppressed"].to_numpy()
    eps = spec.epsilon / len(spec.measures)
    noisy: dict[str, np.ndarray] = {}
    scale: dict[str, float] = {}
    error: dict[str, float] = {}
    for m in spec.measures:
        exact = table[f"exact_{m.column}"].to_numpy()[live]
        col = laplace_column(
            exact,
            sensitivity=m.sensitivity,
            epsilon=eps,
            integer=m.integer,
            confidence=spec.confidence,
        )
        post = clamp_count(col.values) if m.integer else clamp_amount(col.values)
        full = np.full(len(table), np.nan)
        full[live] = post
        noisy[m.column] = full
        scale[m.column] = col.scale
        error[m.column] = col.error_bound
    rows = []
    for i, row in enumerate(table.to_dict("records")):
        rows.append(
            {
                "key": _key_of(row, keys),
                "suppressed": bool(row["suppressed"]),
                "is_other": bool(row["is_other"]),
                "values": {
                    m.column: None if math.isnan(noisy[m.column][i]) else float(noisy[m.column][i])
                    for m in spec.measures
                },
            }
        )
    answer = {"k": spec.k, "epsilon": spec.epsilon, "scale": scale, "error": error, "rows": rows}
    return json.dumps(answer, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _answer_long(answer: Mapping[str, Any], table: pd.DataFrame, spec: ReleaseSpec) -> pd.DataFrame:
    """Turn a stored answer into the long frame, with today's exact values beside it (matched by
    key; NaN for a row the current data no longer has)."""
    keys = list(spec.keys)
    exact_by_key = {tuple(_key_of(row, keys)): row for row in table.to_dict("records")}
    records = []
    for row in answer["rows"]:
        now = exact_by_key.get(tuple(row["key"]))
        for m in spec.measures:
            released = row["values"].get(m.column)
            record: dict[str, Any] = dict(zip(keys, row["key"], strict=True))
            record.update(
                measure=m.column,
                value=float(now[f"exact_{m.column}"]) if now is not None else math.nan,
                released=math.nan if released is None else float(released),
                mode="noisy",
                scale=math.nan if row["suppressed"] else float(answer["scale"][m.column]),
                error_bound=math.nan if row["suppressed"] else float(answer["error"][m.column]),
                suppressed=bool(row["suppressed"]),
                is_other=bool(row["is_other"]),
            )
            records.append(record)
    # Keys come back as text (JSON): the answer a brand was given is what is shown.
    return pd.DataFrame.from_records(records, columns=[*keys, *LONG_COLUMNS])


__all__ = [
    "LONG_COLUMNS",
    "MODES",
    "OTHER",
    "Measure",
    "ReleaseSpec",
    "ReleasedTable",
    "release_table",
]
