"""The clean room's side of private matching, and the parties' export-folder mode.

``match serve/connect --input DIR`` validate a party's export folder, run PSI over the network
and write its shipment (:func:`run_input_party`); ``match load`` rebuilds the clean-room tables
from the shipments (one content and one retailer shipment per retailer); ``match report`` prints
the per-retailer match report kept in ``match_runs``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from redcat.cli.common import DEFAULT_STORE_PATH, StoreOption, TableFormat, console, print_frame
from redcat.engine.store import connect
from redcat.errors import ConfigError, InputError, MatchError
from redcat.ingest.contract import Party
from redcat.ingest.discover import check_retailer_id
from redcat.match.alliance import load_person_secret
from redcat.match.idfile import IdFile
from redcat.match.psi import MatchParty, PartyFactory, PsiParty, Role
from redcat.match.report import match_report_frame
from redcat.match.ship import USER_TABLES, PartyExport, ShipReport, load_shipments, ship
from redcat.match.transport import NetMatch

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
    print_report(
        frame.reset_index(drop=True),
        fmt,
        (
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
    print_report(frame, fmt, "match report")


def print_report(frame: pd.DataFrame, fmt: TableFormat, title: str) -> None:
    """Print a match report frame: every column as CSV or JSON, :func:`report_view` as a
    terminal table (the protocol in the title when all runs share it)."""
    if fmt is TableFormat.table:
        frame = report_view(frame)
        if frame["protocol"].nunique() == 1:  # one protocol: say it once (the table fits)
            title += f" ({frame['protocol'].iloc[0]})"
            frame = frame.drop(columns="protocol")
    print_frame(frame, fmt, title=title)


def report_view(frame: pd.DataFrame) -> pd.DataFrame:
    """Narrow the match report for a terminal: short headers, the rate in percent, protocol and
    version in one column, the waterfall shares in one (CSV and JSON keep every column)."""
    share_cols = [c for c in frame.columns if c.startswith("share_")]
    shares = [
        " ".join(f"{c[6:]} {row[c]:.0%}" for c in share_cols if pd.notna(row[c]))
        for _, row in frame.iterrows()
    ]
    return pd.DataFrame(
        {
            "retailer": frame["retailer_id"],
            "content users": frame["content_users"],
            "retailer users": frame["retailer_users"],
            "shared": frame["matched_users"],
            "rate": [f"{r:.1%}" for r in frame["match_rate"]],
            "ran at (UTC)": [str(t)[:16] for t in frame["ran_at"]],
            "protocol": [
                f"{p}/{v}" if v else str(p)
                for p, v in zip(frame["protocol"], frame["protocol_version"], strict=True)
            ],
            "seconds": frame["seconds"],
            "matched on": shares,
        }
    )


def export_kind(directory: Path) -> Party:
    """Return which party's export ``directory`` holds: ``content`` (content_events.*) or
    ``retailer`` (commerce_events.*). Raises :class:`ConfigError` for neither or both."""
    if not directory.is_dir():
        raise ConfigError(f"--input {directory} is not a folder")
    found = {
        party
        for party, table in (("content", "content_events"), ("retailer", "commerce_events"))
        if any(directory.glob(f"{table}.*"))
    }
    if len(found) != 1:
        raise ConfigError(
            f"--input {directory} must hold one party's export: content_events.* (content "
            "platform) or commerce_events.* (retailer)"
        )
    return "content" if "content" in found else "retailer"


@dataclass(frozen=True)
class ShippedRun:
    """A network PSI run on an export folder: the transport's figures, the party's shipping
    report, the user-table rows read and the seconds spent validating the export."""

    net: NetMatch
    shipment: ShipReport
    rows: int
    prepare_s: float


def run_input_party(
    role: Role,
    party_name: str,
    directory: Path,
    out: Path,
    *,
    workers: int | None,
    person_secret: Path | None,
    run: Callable[[MatchParty, Callable[[str], None]], NetMatch],
    ids: IdFile | None = None,
    progress: Callable[[str], None] = lambda _text: None,
    make_party: PartyFactory | None = None,
) -> ShippedRun:
    """Validate the export ``directory``, run PSI over its users with ``run`` (the transport)
    and write the shipment folder ``out`` for the clean room (``redcat match load``).

    A retailer's ``party_name`` is its retailer id; the content platform names the run's
    retailer after the peer, whose certificate must carry that name, and keys its people with
    the secret in ``person_secret`` (created on first use; the same file for every retailer).
    With ``ids`` the users are matched on its identifier types (a waterfall) instead of their
    ``user_key``. ``make_party`` builds the PSI party (default: the built-in protocol with
    ``workers``). Nothing is written unless the run succeeds. Raises :class:`ConfigError` or
    :class:`MatchError`."""
    kind = export_kind(directory)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"--out {out} must be a new or empty folder for the shipment")
    secret = None
    if kind == "content":
        if person_secret is None:
            raise ConfigError(
                "the content platform ships with --person-secret FILE (created on first use; "
                "use the same file for every retailer)"
            )
        secret = load_person_secret(person_secret)
    else:
        try:
            check_retailer_id(party_name)
        except InputError as exc:
            raise ConfigError(f"--party names the retailer in its shipment: {exc}") from None
    t0 = time.monotonic()
    progress(f"validating the {kind} export in {directory}")
    with PartyExport(kind, directory, party_name if kind == "retailer" else None) as export:
        if ids is None:
            people, types = export.people()
        else:
            people, types = export.people(ids.people, ids.types)
        if make_party is None:
            party: MatchParty = PsiParty(role, people, types=types, workers=workers)
        else:
            party = make_party(role, people, types)
        prepared = time.monotonic() - t0
        net = run(party, progress)
        peer = None
        if kind == "content":
            peer = net.peer_party
            if peer not in net.peer_certificate:
                raise MatchError(
                    f"the peer calls itself {peer!r} but its certificate names "
                    f"{', '.join(net.peer_certificate) or 'nobody'}; no shipment written"
                )
            try:
                check_retailer_id(peer)
            except InputError as exc:
                raise MatchError(f"the peer's name is no retailer id: {exc}") from None
        started = datetime.now(UTC) - timedelta(seconds=net.seconds)
        shipment = ship(
            export,
            net.result,
            out,
            ran_at=started,
            seconds=net.seconds,
            peer_retailer_id=peer,
            person_secret=secret,
        )
        rows = sum(f.rows for f in export.files if f.table in USER_TABLES[kind])
    return ShippedRun(net, shipment, rows, prepared)


def shipment_table(report: ShipReport) -> Table:
    """Return the party's row accounting of a shipment (rows read, quarantined, duplicates,
    unmatched and shipped per table)."""
    m = report.manifest
    table = Table(
        title=f"shipment for the clean room: {report.directory} ({m.party}, {m.retailer_id})"
    )
    for col in ("table", "rows", "quarantined", "duplicates", "unmatched", "shipped"):
        table.add_column(col, justify="left" if col == "table" else "right")
    for t in report.tables:
        table.add_row(
            t.table,
            *(f"{v:,}" for v in (t.rows, t.quarantined, t.duplicates, t.unmatched, t.shipped)),
        )
    for name in ("links", "platform_metrics", "holdout_design"):
        if name in m.shipped:
            table.add_row(name, "", "", "", "", f"{m.shipped[name]:,}")
    return table
