"""``redcat lift table``: test − control lift (增量) per arm and outcome of a CSV or Parquet file.

One row per test arm and outcome with unit counts, per-unit means, absolute lift (Welch interval),
relative lift (delta-method interval), p-value, incremental total, minimum detectable effect,
underpowered and sample-ratio-mismatch flags, and optional bootstrap intervals. See
:mod:`redcat.lift.table` for the columns and :mod:`redcat.lift.stats` for the estimators.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from redcat.cli.common import TableFormat, print_frame
from redcat.lift.table import LiftOptions, lift_table, parse_ratio, read_table
from redcat.settings import LiftSettings

lift_app = typer.Typer(
    help="Incremental lift (增量) of randomized test arms over a control arm.",
    no_args_is_help=True,
)

_DEFAULTS = LiftSettings()


@lift_app.command("table")
def table_cmd(
    input_path: Annotated[
        Path,
        typer.Option("--input", help="CSV or Parquet file, one row per unit.", show_default=False),
    ],
    arm_col: Annotated[
        str, typer.Option("--arm-col", help="Column naming each unit's arm.", show_default=False)
    ],
    control: Annotated[
        str,
        typer.Option("--control", help="Value of the arm column for control.", show_default=False),
    ],
    outcome: Annotated[
        list[str],
        typer.Option("--outcome", help="Numeric outcome column (repeatable).", show_default=False),
    ],
    test: Annotated[
        list[str] | None,
        typer.Option(
            "--test", help="Test arm value (repeatable; default every non-control value)."
        ),
    ] = None,
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", help="Bootstrap resamples for percentile CIs (0: none).")
    ] = 0,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap.")] = 0,
    alpha: Annotated[
        float, typer.Option("--alpha", help="Two-sided level: 0.05 gives 95% intervals.")
    ] = _DEFAULTS.alpha,
    expected_ratio: Annotated[
        str,
        typer.Option(
            "--expected-ratio", help="Expected test:control split of units for the SRM check."
        ),
    ] = "1:1",
    fmt: Annotated[
        TableFormat, typer.Option("--format", help="Output format.")
    ] = TableFormat.table,
) -> None:
    """Lift of each test arm over control, per outcome, with intervals, power and SRM checks."""
    options = LiftOptions(
        alpha=alpha, bootstrap=bootstrap, seed=seed, expected_ratio=parse_ratio(expected_ratio)
    )
    frame = read_table(input_path)
    result = lift_table(
        frame,
        arm_col=arm_col,
        control=control,
        outcomes=outcome,
        tests=test or None,
        options=options,
        source=str(input_path),
    )
    print_frame(result, fmt, title=f"lift over {control!r} ({1 - alpha:.0%} intervals)")
