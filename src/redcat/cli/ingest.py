"""``redcat ingest``: load a party's export directory into the store, and view the quarantine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn

from redcat.cli.common import (
    DEFAULT_STORE_PATH,
    StoreOption,
    TableFormat,
    console,
    err_console,
    print_frame,
    rich_table,
)
from redcat.engine.store import connect
from redcat.ingest.load import FileReport, ProgressFn, ingest_party
from redcat.ingest.quarantine import quarantine_count, quarantine_frame

ingest_app = typer.Typer(
    help="Load a party's export files into the store: every row validated, bad rows quarantined.",
    no_args_is_help=True,
)


class ReportFormat(StrEnum):
    """Output formats of an ingest report."""

    table = "table"
    json = "json"


DirectoryArg = Annotated[
    Path,
    typer.Argument(
        help="Directory with one file per contract table (<table>.csv, .parquet or .jsonl).",
        show_default=False,
    ),
]
ReportFormatOption = Annotated[
    ReportFormat, typer.Option("--format", help="table: a summary; json: one object per file.")
]


@contextmanager
def _progress() -> Iterator[ProgressFn]:
    """Yield a progress callback drawing one bar per file on stderr (only on a terminal)."""
    bars = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        console=err_console,
        transient=True,
        disable=not err_console.is_terminal,
    )
    tasks: dict[str, TaskID] = {}

    def update(file: str, done: int, total: int) -> None:
        if file not in tasks:
            tasks[file] = bars.add_task(Path(file).name, total=total)
        bars.update(tasks[file], completed=done)

    with bars:
        yield update


def _note(message: str) -> None:
    err_console.print(f"note: {message}", markup=False, highlight=False, soft_wrap=True)


def _ingest(
    party: str, directory: Path, retailer: str | None, store: Path, fmt: ReportFormat
) -> None:
    con = connect(store)
    try:
        with _progress() as progress:
            reports = ingest_party(
                con,
                "retailer" if party == "retailer" else "content",
                directory,
                retailer,
                progress,
                notify=_note,
            )
    finally:
        con.close()
    if fmt is ReportFormat.json:
        typer.echo(json.dumps([r.counts() for r in reports], ensure_ascii=False, indent=2))
        return
    _print_reports(reports, store)


def _print_reports(reports: list[FileReport], store: Path) -> None:
    frame = pd.DataFrame([r.counts() for r in reports])
    if frame.empty:
        frame = pd.DataFrame(columns=["file", "rows", "loaded", "quarantined", "duplicates"])
    console.print(rich_table(frame, title="ingest"))
    quarantined = sum(r.quarantined for r in reports)
    if quarantined:
        files = [r.file for r in reports if r.quarantined]
        hint = f" --file {files[0]}" if len(files) == 1 else ""
        console.print(
            f"{quarantined:,} row(s) quarantined; see them with: "
            f"redcat ingest quarantine --store {store}{hint}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    else:
        console.print(
            f"No rows quarantined (the quarantine of {store} is shown by "
            f"`redcat ingest quarantine --store {store}`).",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


@ingest_app.command("content")
def content_cmd(
    directory: DirectoryArg,
    store: StoreOption = DEFAULT_STORE_PATH,
    fmt: ReportFormatOption = ReportFormat.table,
) -> None:
    """Ingest the content platform's export: notes, content_events, spend, holdouts."""
    _ingest("content", directory, None, store, fmt)


@ingest_app.command("retailer")
def retailer_cmd(
    name: Annotated[
        str,
        typer.Argument(
            help="The retailer's id: lowercase letters, digits, '_' and '-'.", show_default=False
        ),
    ],
    directory: DirectoryArg,
    store: StoreOption = DEFAULT_STORE_PATH,
    fmt: ReportFormatOption = ReportFormat.table,
) -> None:
    """Ingest one retailer's export: commerce_events, shops, brand_terms."""
    _ingest("retailer", directory, name, store, fmt)


@ingest_app.command("quarantine")
def quarantine_cmd(
    store: StoreOption = DEFAULT_STORE_PATH,
    file: Annotated[
        str | None,
        typer.Option("--file", help="Only this file (as ingested, or just its name)."),
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="Show at most this many rows.")
    ] = 100,
    fmt: Annotated[TableFormat, typer.Option("--format")] = TableFormat.table,
) -> None:
    """Show quarantined rows: file, table, retailer, row, field and reason, with the raw row."""
    con = connect(store, read_only=True)
    try:
        frame = quarantine_frame(con, file=file, limit=limit)
        total = quarantine_count(con, file=file)
    finally:
        con.close()
    if fmt is TableFormat.table:
        print_frame(_for_terminal(frame), fmt, title="quarantine")
        err_console.print(f"{len(frame):,} of {total:,} quarantined row(s) shown", highlight=False)
    else:
        print_frame(frame, fmt)


def _for_terminal(frame: pd.DataFrame) -> pd.DataFrame:
    """Narrow the quarantine for a terminal: file names without their directory, the retailer
    only when there is one, raw text cut to 60 characters (CSV and JSON keep everything)."""
    view = pd.DataFrame(
        {
            "file": frame["file"].map(lambda f: Path(f).name),
            "table": frame["table_name"],
            "retailer": frame["retailer_id"],
            "row": frame["row_number"],
            "field": frame["field"],
            "reason": frame["reason"],
            "raw": frame["raw"].str.slice(0, 60),
        }
    )
    if view["retailer"].isna().all():
        view = view.drop(columns="retailer")
    return view
