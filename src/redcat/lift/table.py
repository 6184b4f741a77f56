"""The generic lift table: one row per test arm and outcome, for any file with an arm column.

Each row compares the units (rows of the file) of one test arm with those of the control arm on one
outcome column: per-unit means, absolute lift with its Welch interval, relative lift with its
delta-method interval, Welch p-value, incremental total (abs_lift × n_test), the minimum detectable
effect, an underpowered flag, a sample-ratio-mismatch check of the two arms' unit counts, and
optionally percentile bootstrap intervals. The estimators live in :mod:`redcat.lift.stats`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from redcat.errors import ConfigError, InputError
from redcat.lift import stats
from redcat.settings import LiftSettings

LIFT_COLUMNS: tuple[str, ...] = (
    "arm",
    "outcome",
    "n_test",
    "n_control",
    "mean_test",
    "mean_control",
    "abs_lift",
    "abs_lift_low",
    "abs_lift_high",
    "rel_lift",
    "rel_lift_low",
    "rel_lift_high",
    "p_value",
    "incremental_total",
    "incremental_low",
    "incremental_high",
    "mde",
    "underpowered",
    "srm_chi2",
    "srm_p_value",
    "srm",
)
BOOTSTRAP_COLUMNS: tuple[str, ...] = (
    "abs_lift_boot_low",
    "abs_lift_boot_high",
    "rel_lift_boot_low",
    "rel_lift_boot_high",
)


@dataclass(frozen=True)
class LiftOptions:
    """How to compute the table: two-sided ``alpha`` for every interval and test (0.05 → 95%),
    ``bootstrap`` resamples (0: none) with ``seed``, and the expected test:control split of units
    for the SRM check (weights, any positive scale)."""

    alpha: float = LiftSettings().alpha
    bootstrap: int = 0
    seed: int = 0
    expected_ratio: tuple[float, float] = (1.0, 1.0)
    settings: LiftSettings = field(default_factory=LiftSettings)

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0:
            raise ConfigError(f"alpha must lie strictly between 0 and 1, got {self.alpha}")
        if self.bootstrap < 0:
            raise ConfigError(f"bootstrap resamples must be 0 or more, got {self.bootstrap}")
        if len(self.expected_ratio) != 2 or not all(w > 0 for w in self.expected_ratio):
            raise ConfigError("expected ratio needs two positive weights, test:control")


def parse_ratio(text: str) -> tuple[float, float]:
    """Parse ``"test:control"`` weights such as ``"1:1"`` or ``"90:10"`` into (test, control)."""
    parts = text.split(":")
    try:
        if len(parts) != 2:
            raise ValueError
        test, control = float(parts[0]), float(parts[1])
    except ValueError:
        raise ConfigError(
            f"expected ratio must look like test:control (e.g. 1:1), got {text!r}"
        ) from None
    if not (test > 0 and control > 0 and np.isfinite(test) and np.isfinite(control)):
        raise ConfigError(f"expected ratio weights must be positive numbers, got {text!r}")
    return test, control


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV (every column as text, empty cells kept as "") or Parquet file
    (``.parquet`` / ``.pq``) into a frame; one row per unit."""
    if not path.is_file():
        raise InputError("no such file", file=str(path))
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise InputError(f"cannot read the file: {exc}", file=str(path)) from exc


def _arm_labels(frame: pd.DataFrame, arm_col: str, source: str | None) -> pd.Series:
    if arm_col not in frame.columns:
        raise InputError("arm column not found in the file", file=source, field=arm_col)
    col = frame[arm_col]
    missing = col.isna().to_numpy() | (col.astype(str).str.strip() == "").to_numpy()
    if missing.any():
        row = int(np.flatnonzero(missing)[0]) + 1
        raise InputError("arm value is empty", file=source, row=row, field=arm_col)
    return col.astype(str)


def _outcome_values(
    frame: pd.DataFrame, outcome: str, used: np.ndarray, source: str | None
) -> np.ndarray:
    """The outcome as float per row; raises on the first used row that is not a finite number."""
    if outcome not in frame.columns:
        raise InputError("outcome column not found in the file", file=source, field=outcome)
    raw = frame[outcome]
    if pd.api.types.is_bool_dtype(raw):
        values = raw.astype(np.float64).to_numpy()
    else:
        text = raw.astype(str).str.strip() if raw.dtype == object else raw
        values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    bad = used & ~np.isfinite(values)
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"outcome value {raw.iloc[pos]!r} is not a finite number",
            file=source,
            row=pos + 1,
            field=outcome,
        )
    return values


def lift_table(
    frame: pd.DataFrame,
    *,
    arm_col: str,
    control: str,
    outcomes: Sequence[str],
    tests: Sequence[str] | None = None,
    options: LiftOptions | None = None,
    source: str | None = None,
) -> pd.DataFrame:
    """Return the lift table (columns :data:`LIFT_COLUMNS`, plus :data:`BOOTSTRAP_COLUMNS` when
    ``options.bootstrap`` > 0): one row per test arm (``tests``, default every non-control value of
    ``arm_col`` in sorted order) and outcome, in that order.

    Each row of ``frame`` is one unit. Counts are units; means are per-unit means in the outcome's
    units; ``rel_lift*`` are fractions (0.25 = +25%); ``incremental_*`` are outcome units summed
    over the test arm. ``underpowered`` and ``srm`` are as in :func:`stats.is_underpowered` and
    :func:`stats.sample_ratio_mismatch` (SRM of the test and control unit counts against
    ``options.expected_ratio``). ``source`` names the file in errors (:class:`InputError` for a
    missing column, an empty arm value, a non-numeric outcome, an arm not present or with fewer
    than 2 units)."""
    opts = options or LiftOptions()
    if not outcomes:
        raise ConfigError("give at least one outcome column")
    labels = _arm_labels(frame, arm_col, source)
    present = sorted(set(labels))
    if control not in present:
        raise InputError(
            f"control value {control!r} not present (values: {', '.join(present[:10])})",
            file=source,
            field=arm_col,
        )
    arms = list(tests) if tests else [v for v in present if v != control]
    if not arms:
        raise InputError("no test arm: every row is in the control arm", file=source, field=arm_col)
    for arm in arms:
        if arm not in present:
            raise InputError(f"test value {arm!r} not present", file=source, field=arm_col)
        if arm == control:
            raise ConfigError(f"test value {arm!r} is also the control value")
    label_arr = labels.to_numpy()
    masks = {arm: label_arr == arm for arm in [control, *arms]}
    for arm, mask in masks.items():
        if int(mask.sum()) < 2:
            raise InputError(
                f"arm {arm!r} has {int(mask.sum())} unit(s); at least 2 are needed",
                file=source,
                field=arm_col,
            )
    used = np.logical_or.reduce(list(masks.values()))
    values = {o: _outcome_values(frame, o, used, source) for o in outcomes}

    records: list[dict[str, object]] = []
    for arm in arms:
        for outcome in outcomes:
            xt = values[outcome][masks[arm]]
            xc = values[outcome][masks[control]]
            records.append(_row(arm, outcome, xt, xc, opts))
    columns = list(LIFT_COLUMNS) + (list(BOOTSTRAP_COLUMNS) if opts.bootstrap else [])
    return pd.DataFrame.from_records(records, columns=columns)


def _row(
    arm: str, outcome: str, xt: np.ndarray, xc: np.ndarray, opts: LiftOptions
) -> dict[str, object]:
    st, sc = stats.summarize(xt), stats.summarize(xc)
    welch = stats.welch_test(st, sc, alpha=opts.alpha)
    rel = stats.relative_lift(st, sc, alpha=opts.alpha)
    total = stats.incremental_total(welch.lift, st.n)
    mde = stats.minimum_detectable_effect(st, sc, alpha=opts.alpha, power=opts.settings.power)
    srm = stats.sample_ratio_mismatch(
        [st.n, sc.n], opts.expected_ratio, srm_alpha=opts.settings.srm_alpha
    )
    row: dict[str, object] = {
        "arm": arm,
        "outcome": outcome,
        "n_test": st.n,
        "n_control": sc.n,
        "mean_test": st.mean,
        "mean_control": sc.mean,
        "abs_lift": welch.lift.estimate,
        "abs_lift_low": welch.lift.low,
        "abs_lift_high": welch.lift.high,
        "rel_lift": rel.estimate,
        "rel_lift_low": rel.low,
        "rel_lift_high": rel.high,
        "p_value": welch.p_value,
        "incremental_total": total.estimate,
        "incremental_low": total.low,
        "incremental_high": total.high,
        "mde": mde,
        "underpowered": stats.is_underpowered(
            welch.lift, mde, sc.mean, mde_share=opts.settings.underpowered_mde_share
        ),
        "srm_chi2": srm.chi2,
        "srm_p_value": srm.p_value,
        "srm": srm.flagged,
    }
    if opts.bootstrap:
        boot = stats.bootstrap_lift(
            xt,
            xc,
            resamples=opts.bootstrap,
            seed=opts.seed,
            alpha=opts.alpha,
            max_cells=opts.settings.bootstrap_cells,
        )
        row.update(
            abs_lift_boot_low=boot.abs_low,
            abs_lift_boot_high=boot.abs_high,
            rel_lift_boot_low=boot.rel_low,
            rel_lift_boot_high=boot.rel_high,
        )
    return row
