"""``redcat simulate``: write a synthetic world with known causal truth."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from redcat.cli.common import console, err_console
from redcat.simulate import WorldConfig, WorldSummary, simulate_world

_DEFAULT = WorldConfig()


class WorldFormat(StrEnum):
    """File formats the simulator writes."""

    csv = "csv"
    parquet = "parquet"
    jsonl = "jsonl"


def simulate_cmd(
    out: Annotated[Path, typer.Option("--out", help="Directory to write the world into.")],
    users: Annotated[int, typer.Option("--users", help="People in the world.")] = _DEFAULT.users,
    days: Annotated[
        int, typer.Option("--days", help="Days of notes and exposure.")
    ] = _DEFAULT.days,
    brands: Annotated[
        int, typer.Option("--brands", help="Brands (B01, B02...).")
    ] = _DEFAULT.brands,
    retailers: Annotated[
        int, typer.Option("--retailers", help="Retailers (tmall, jd, vip, r4...).")
    ] = _DEFAULT.retailers,
    seed: Annotated[int, typer.Option("--seed", help="Random seed; same seed, same bytes.")] = 0,
    fmt: Annotated[WorldFormat, typer.Option("--format", help="Output file format.")] = (
        WorldFormat.csv
    ),
    history_days: Annotated[
        int,
        typer.Option("--history-days", help="Note-free days of retailer history before day 0."),
    ] = _DEFAULT.history_days,
) -> None:
    """Build a synthetic seeding-to-sales world in the data contract (truth in DIR/truth/).

    The ground truth under DIR/truth/ is never read by the pipeline."""
    config = WorldConfig(
        users=users,
        days=days,
        brands=brands,
        retailers=retailers,
        seed=seed,
        history_days=history_days,
    )
    with Progress(
        TextColumn("[bold]simulate[/]"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("starting", total=None)

        def progress(step: str, done: int, total: int) -> None:
            bar.update(task, description=step, completed=done, total=total)

        summary = simulate_world(config, out, fmt.value, progress=progress)
    console.print(summary_table(summary))


def summary_table(summary: WorldSummary) -> Table:
    """Return a Rich table of the files written, their rows and the world's truth totals."""
    table = Table(
        title=f"world written to {summary.out} in {summary.seconds:.1f} s",
        caption=(
            f"{summary.notes} notes, {summary.campaigns} campaigns; "
            f"{summary.caused_orders:,} of {summary.orders:,} orders caused by notes "
            f"(GMV {summary.caused_gmv:,.2f}); truth in truth/"
        ),
    )
    table.add_column("file")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for f in summary.files:
        table.add_row(f.path, f.table, f"{f.rows:,}")
    return table
