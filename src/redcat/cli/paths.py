"""``redcat paths``: attribution over aggregated path files (``a > b > c;conversions;value;nulls``).

``redcat paths attribute`` prints one row per channel: channel, conversions, value. Notes (a
missing column taken as 0, an automatically chosen Markov order, a fallback) go to stderr.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from redcat.attribution.models import attribute
from redcat.attribution.pathfile import (
    DEFAULT_CONV_COL,
    DEFAULT_NULL_COL,
    DEFAULT_PATH_COL,
    DEFAULT_VALUE_COL,
    read_path_file,
)
from redcat.cli.common import TableFormat, err_console, print_frame
from redcat.errors import ConfigError
from redcat.settings import AttributionSettings

paths_app = typer.Typer(
    help="Aggregated path files: one row per path with conversions, value and nulls.",
    no_args_is_help=True,
)


class Model(StrEnum):
    """Attribution models."""

    first = "first"
    last = "last"
    linear = "linear"
    position = "position"
    time_decay = "time_decay"
    markov = "markov"
    shapley = "shapley"


ModelOption = Annotated[
    Model,
    typer.Option(
        "--model",
        help="first | last | linear | position (40/20/40) | time_decay | markov (exact removal "
        "effects) | shapley (conversion-rate value function).",
        show_default=False,
    ),
]
OrderOption = Annotated[
    str | None,
    typer.Option(
        "--order",
        help="Markov order: 1, 2, 3, or auto (chosen on held-out paths). Default: settings.",
        show_default=False,
    ),
]
HalfLifeOption = Annotated[
    float | None,
    typer.Option(
        "--half-life",
        help="Time-decay half-life in days; path files have no times, so each step before the "
        "conversion counts as one day. Default: settings.",
        show_default=False,
    ),
]
FormatOption = Annotated[
    TableFormat, typer.Option("--format", help="csv (with header), json (list of objects), table.")
]


def note(message: str) -> None:
    """Print a note on stderr, unwrapped."""
    err_console.print(f"note: {message}", markup=False, highlight=False, soft_wrap=True)


@paths_app.command("attribute")
def attribute_cmd(
    input: Annotated[Path, typer.Option("--input", help="The path file.", show_default=False)],
    model: ModelOption,
    order: OrderOption = None,
    sep: Annotated[str, typer.Option("--sep", help="Column separator.")] = ";",
    path_col: Annotated[str, typer.Option("--path-col", help="Path column.")] = DEFAULT_PATH_COL,
    conv_col: Annotated[
        str, typer.Option("--conv-col", help="Conversions column.")
    ] = DEFAULT_CONV_COL,
    value_col: Annotated[
        str, typer.Option("--value-col", help="Conversion value column (optional in the file).")
    ] = DEFAULT_VALUE_COL,
    null_col: Annotated[
        str, typer.Option("--null-col", help="Null (no conversion) column (optional in the file).")
    ] = DEFAULT_NULL_COL,
    half_life: HalfLifeOption = None,
    fmt: FormatOption = TableFormat.csv,
) -> None:
    """Credit a path file's conversions and value to its channels with one model."""
    if half_life is not None and not half_life > 0:
        raise ConfigError("--half-life must be a positive number of days")
    if order is not None and model is not Model.markov:
        raise ConfigError("--order applies only to --model markov")
    paths = read_path_file(
        input,
        sep=sep,
        path_col=path_col,
        conv_col=conv_col,
        value_col=value_col,
        null_col=null_col,
    )
    result = attribute(
        paths.table,
        model.value,
        order=order,
        half_life_days=half_life,
        settings=AttributionSettings(),
        allocations=False,
    )
    for message in (*paths.notes, *result.notes):
        note(message)
    print_frame(result.credits, fmt, title=f"{model.value} attribution")
