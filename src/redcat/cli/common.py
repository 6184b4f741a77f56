"""What every command shares: the store option, output formats and error reporting."""

from __future__ import annotations

import json
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from redcat.settings import DEFAULT_STORE


def _stdout_console() -> Console:
    # Rich assumes 80 columns when stdout is not a terminal (a pipe, a file, CI); reports have up
    # to ten numeric columns, so use 120 there unless COLUMNS says otherwise.
    plain = Console()
    if plain.is_terminal or "COLUMNS" in os.environ:
        return plain
    return Console(width=120)


console = _stdout_console()
err_console = Console(stderr=True)

StoreOption = Annotated[
    Path,
    typer.Option(
        "--store",
        envvar="REDCAT_STORE",
        help="The analytics store (a DuckDB file), shared by every command.",
    ),
]
DEFAULT_STORE_PATH = DEFAULT_STORE


class TableFormat(StrEnum):
    """Output formats for tabular answers."""

    table = "table"
    csv = "csv"
    json = "json"


def print_frame(frame: pd.DataFrame, fmt: TableFormat, *, title: str | None = None) -> None:
    """Print ``frame`` as a Rich table, CSV or JSON (a list of row objects) on stdout."""
    if fmt is TableFormat.csv:
        typer.echo(frame.to_csv(index=False), nl=False)
    elif fmt is TableFormat.json:
        typer.echo(json.dumps(frame_records(frame), ensure_ascii=False, indent=2))
    else:
        console.print(rich_table(frame, title=title))


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Return the rows of ``frame`` as JSON-ready dicts (NaN becomes null)."""
    records: list[dict[str, Any]] = json.loads(frame.to_json(orient="records", date_format="iso"))
    return records


def rich_table(frame: pd.DataFrame, *, title: str | None = None) -> Table:
    """Return a Rich table of ``frame`` with numbers right-aligned and floats rounded."""
    table = Table(title=title, show_lines=False)
    for col in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[col])
        table.add_column(str(col), justify="right" if numeric else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*(format_cell(v) for v in row))
    return table


def format_cell(value: Any) -> str:
    """Format one value for a terminal table."""
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    if isinstance(value, float):
        return f"{value:,.4f}" if abs(value) < 1 else f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
