"""``redcat match load`` and ``redcat match report``: the clean room's side of private matching.

``load`` rebuilds the clean-room tables from the shipments the parties wrote after PSI (one
content and one retailer shipment per retailer); ``report`` prints the per-retailer match report
kept in ``match_runs``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from redcat.cli.common import DEFAULT_STORE_PATH, StoreOption, TableFormat, console, print_frame
from redcat.engine.store import connect
from redcat.match.report import match_report_frame
from redcat.match.ship import load_shipments

FormatOption = Annotated[TableFormat, typer.Option("--format", help="table, csv or json")]


def match_load_cmd(
    shipments: Annotated[
        list[Path],
        typer.Argument(help="Shipment folders (each holds a manifest.json).", show_default=False),
    ],
    store: StoreOption = DEFAULT_STORE_PATH,
    fmt: FormatOption = TableFormat.table,
) -> None:
    """Load the parties' shipments into the clean-room store (replacing its clean-room tables)
    and print the match report of the loaded runs."""
    con = connect(store)
    try:
        report = load_shipments(con, shipments)
        frame = match_report_frame(con)
    finally:
        con.close()
    retailers = {str(r["retailer_id"]) for r in report.runs}
    frame = frame[frame["retailer_id"].isin(retailers)]
    print_frame(
        frame.reset_index(drop=True),
        fmt,
        title=(
            f"clean room: {report.people:,} people, {report.content_rows:,} content / "
            f"{report.commerce_rows:,} commerce / {report.holdout_rows:,} holdout rows "
            f"from {len(report.runs)} run(s)"
        ),
    )


def match_report_cmd(
    store: StoreOption = DEFAULT_STORE_PATH,
    fmt: FormatOption = TableFormat.table,
    history: Annotated[
        bool, typer.Option("--history", help="Every recorded run, not only each retailer's last.")
    ] = False,
) -> None:
    """Print the match report: per retailer, both sides' users, the shared users, match rate,
    each identifier type's share, when, protocol and version, and seconds."""
    con = connect(store, read_only=True)
    try:
        frame = match_report_frame(con, history=history)
    finally:
        con.close()
    if frame.empty and fmt is TableFormat.table:
        console.print(f"no match run is recorded in {store}", markup=False, highlight=False)
        return
    print_frame(frame, fmt, title="match report")
