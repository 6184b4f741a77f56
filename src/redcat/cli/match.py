"""``redcat match``: derive the shared pseudonymous match_key and fill the clean-room tables."""

from __future__ import annotations

import dataclasses

import pandas as pd
import typer

from redcat.cli.common import DEFAULT_STORE_PATH, StoreOption, TableFormat, print_frame
from redcat.engine.store import connect
from redcat.match import run_direct_match
from redcat.settings import Settings

match_app = typer.Typer(help="Match users between the content platform and the retailers.")


@match_app.command("run")
def match_run(
    store: StoreOption = DEFAULT_STORE_PATH,
    fmt: TableFormat = typer.Option(TableFormat.table, "--format", help="table, csv or json"),
) -> None:
    """Match every ingested retailer with the content platform inside one store (the spine's
    direct protocol) and print the match report per retailer."""
    con = connect(store)
    try:
        report = run_direct_match(con, Settings().match_salt)
    finally:
        con.close()
    frame = pd.DataFrame([dataclasses.asdict(r) for r in report.retailers])
    frame["protocol"] = report.protocol
    print_frame(frame, fmt, title=f"match: {report.matched_people:,} people in the clean room")
