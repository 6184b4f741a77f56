"""``redcat match``: derive the shared pseudonymous match_key.

``match run`` joins inside one store (the spine's direct protocol); ``match serve`` and
``match connect`` run private set intersection between two party processes over mutual TLS
(:mod:`redcat.match.transport`), with the built-in protocol (:mod:`redcat.match.psi`) or, with
``--backend spu``, SecretFlow SPU's RR22 (:mod:`redcat.match.spu`); ``match certs`` writes
throwaway certificates for trials.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from redcat.cli.clean_room import run_input_party, shipment_table
from redcat.cli.common import (
    DEFAULT_STORE_PATH,
    StoreOption,
    TableFormat,
    console,
    err_console,
    print_frame,
)
from redcat.engine.store import connect
from redcat.errors import ConfigError
from redcat.match import run_direct_match
from redcat.match.certs import make_certs
from redcat.match.idfile import (
    check_output,
    discard_output,
    parse_id_types,
    read_ids,
    write_matches,
)
from redcat.match.psi import MatchParty, PartyFactory, PsiParty, Role
from redcat.match.spu import PROTOCOL as SPU_PROTOCOL
from redcat.match.spu import SpuParty
from redcat.match.transport import (
    NetMatch,
    TlsFiles,
    connect_psi,
    parse_address,
    serve_psi,
)
from redcat.settings import MatchSettings, Settings

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


PartyOpt = Annotated[str, typer.Option("--party", help="This party's name (told to the peer).")]
IdsOpt = Annotated[
    Path | None,
    typer.Option("--ids", help="CSV or Parquet file of this party's people, one row each."),
]
InputOpt = Annotated[
    Path | None,
    typer.Option(
        "--input",
        help="The party's export folder (ingest's files): its users are matched (on user_key, "
        "or on --ids's identifier types when --ids is given too) and --out becomes the shipment "
        "folder for `redcat match load`.",
    ),
]
PersonSecretOpt = Annotated[
    Path | None,
    typer.Option(
        "--person-secret",
        help="--input, content platform: file of its person-key secret (created on first use; "
        "the same for every retailer).",
    ),
]
IdColOpt = Annotated[
    str, typer.Option("--id-col", help="Column holding the party's own user_key (as given).")
]
IdTypeOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--id-type",
        help="Identifier type matched on: phone, email, device or raw (trim only); repeat for a "
        "waterfall in priority order, as TYPE=COLUMN (a lone type reads --id-col). Both sides "
        "must give the same types in the same order. Default: raw.",
    ),
]
CertOpt = Annotated[Path, typer.Option("--cert", help="This party's TLS certificate (PEM).")]
KeyOpt = Annotated[Path, typer.Option("--key", help="This party's TLS private key (PEM).")]
CaOpt = Annotated[
    Path, typer.Option("--ca", help="CA certificate (PEM) the peer must be signed by.")
]
OutOpt = Annotated[
    Path,
    typer.Option(
        "--out",
        help="CSV written after a successful run: user_key,match_key per shared person. A failed "
        "run leaves no file here.",
    ),
]
PeerNameOpt = Annotated[
    str | None,
    typer.Option(
        "--peer-name",
        help="Name the peer's certificate must carry (connect: default the --peer host).",
    ),
]
WorkersOpt = Annotated[
    int | None,
    typer.Option("--workers", help="Processes for the curve operations (default: all CPUs)."),
]
TimeoutOpt = Annotated[
    float | None,
    typer.Option(
        "--idle-timeout",
        help="Seconds of silence from the peer before giving up (default "
        f"{MatchSettings().idle_timeout_s:g}).",
    ),
]


class Backend(StrEnum):
    """Which protocol computes the intersections."""

    builtin = "builtin"
    spu = "spu"


BackendOpt = Annotated[
    Backend,
    typer.Option(
        "--backend",
        help="builtin: redcat's ECDH-PSI over X25519; spu: SecretFlow SPU's RR22 (faster; needs "
        "SPU in its own environment, named by REDCAT_SPU_PYTHON). Both sides must give the same.",
    ),
]
SpuPortOpt = Annotated[
    int,
    typer.Option(
        "--spu-port",
        help="--backend spu: this side's port for SPU's own link (the peer must reach it at the "
        "address it sees this side at; 0 picks a free one).",
        min=0,
        max=65535,
    ),
]


def party_factory(
    backend: Backend, workers: int | None, spu_port: int, settings: MatchSettings, tls: TlsFiles
) -> PartyFactory:
    """Return how to build this side's PSI party for ``backend`` (SPU's link runs mutual TLS
    with the same certificates as redcat's channel)."""
    if backend is Backend.spu:
        return lambda role, people, types: SpuParty(
            role, people, types=types, link_port=spu_port, link_tls=tls, settings=settings
        )
    return lambda role, people, types: PsiParty(role, people, types=types, workers=workers)


def _settings(idle_timeout: float | None) -> MatchSettings:
    base = Settings().match
    if idle_timeout is None:
        return base
    if idle_timeout <= 0:
        raise ConfigError("--idle-timeout must be a positive number of seconds")
    return dataclasses.replace(
        base, idle_timeout_s=idle_timeout, keepalive_s=min(base.keepalive_s, idle_timeout / 4)
    )


@contextmanager
def _status(text: str) -> Iterator[Callable[[str], None]]:
    """A Rich spinner on a terminal's stderr, updated through the yielded function; nothing
    when stderr is a file or pipe (logs want the summary, not spinner frames)."""
    if not err_console.is_terminal:
        yield lambda _text: None
        return
    with err_console.status(text) as status:
        yield status.update


def _run_party(
    role: Role,
    party_name: str,
    ids: Path,
    id_col: str,
    id_types: list[str] | None,
    out: Path,
    make_party: PartyFactory,
    run: Callable[[MatchParty, Callable[[str], None]], NetMatch],
) -> None:
    """Read ``ids``, run the PSI with ``run``, write ``out`` after the closing ack (or remove
    it and any partial file when the run fails) and print the summary."""
    check_output(out)
    discard_output(out)  # a stale result or partial must not pass for this run's
    columns = parse_id_types(id_types or [], id_col)
    t0 = time.monotonic()
    with _status(f"reading {ids}") as say:
        data = read_ids(ids, id_col, columns)
        party = make_party(role, data.people, data.types)
        prepared = time.monotonic() - t0

        def progress(text: str) -> None:
            say(f"[bold]{party_name}[/]: {text}")

        try:
            net = run(party, progress)
            write_matches(net.result, out)
        except BaseException:
            discard_output(out)
            raise
    console.print(summary_table(net, data.rows, prepared, out))


def _dispatch(
    role: Role,
    party_name: str,
    ids: Path | None,
    input_dir: Path | None,
    id_col: str,
    id_types: list[str] | None,
    out: Path,
    workers: int | None,
    person_secret: Path | None,
    make_party: PartyFactory,
    run: Callable[[MatchParty, Callable[[str], None]], NetMatch],
) -> None:
    """Run with --ids (a match file out) or --input (a shipment folder out; an --ids file
    beside it gives the export's users' identifiers for a waterfall)."""
    if ids is None and input_dir is None:
        raise ConfigError("give --ids FILE, --input DIR, or both (--ids then names identifiers)")
    if input_dir is None:
        assert ids is not None
        _run_party(role, party_name, ids, id_col, id_types, out, make_party, run)
        return
    if id_types and ids is None:
        raise ConfigError("--id-type needs --ids: the file holding those identifiers")
    # With both, --ids holds identifiers (a waterfall) of the export's users, by --id-col.
    id_file = read_ids(ids, id_col, parse_id_types(id_types or [], id_col)) if ids else None
    with _status(f"reading {input_dir}") as say:
        done = run_input_party(
            role,
            party_name,
            input_dir,
            out,
            workers=workers,
            person_secret=person_secret,
            run=run,
            ids=id_file,
            progress=lambda text: say(f"[bold]{party_name}[/]: {text}"),
            make_party=make_party,
        )
    console.print(summary_table(done.net, done.rows, done.prepare_s, out))
    console.print(shipment_table(done.shipment))


def summary_table(net: NetMatch, rows: int, prepare_s: float, out: Path) -> Table:
    """Return the match summary of one party: sizes, intersection, rate, per-type shares,
    protocol, seconds, bytes sent and received, where the matches went."""
    r = net.result
    matched = len(r.matches)
    table = Table(title=f"match {net.party} ↔ {net.peer_party}: {matched:,} shared people")
    table.add_column("", style="bold")
    table.add_column("value", justify="right")
    add = table.add_row
    add("rows read", f"{rows:,}")
    add("people (distinct user_key)", f"{r.people:,}")
    add("identifiers rejected / duplicate", f"{len(r.rejected):,} / {r.duplicates:,}")
    for s in r.stages:
        add(
            f"{s.id_type}: sent / peer sent / shared",
            f"{s.own_identifiers:,} / {s.peer_identifiers:,} / {s.shared_identifiers:,}",
        )
    add("shared people (intersection)", f"{matched:,}")
    add("match rate (of own people)", f"{matched / r.people:.2%}" if r.people else "–")
    if len(r.stages) > 1:
        for id_type, share in r.shares().items():
            add(f"share matched on {id_type}", f"{share:.1%}")
    add("role / protocol", f"{r.role} / {r.protocol}")
    add("transport / peer", f"{net.transport} / {net.peer_address}")
    add("peer certificate", ", ".join(net.peer_certificate))
    add("seconds (read ids + network run)", f"{prepare_s:.2f} + {net.seconds:.2f}")
    add("bytes sent / received", f"{net.bytes_sent:,} / {net.bytes_received:,}")
    if r.protocol == SPU_PROTOCOL:
        add("bytes on SPU's link", "not counted (its own connection)")
    add("written", f"{out} ({matched:,} rows)")
    return table


@match_app.command("serve")
def match_serve(
    party: PartyOpt,
    listen: Annotated[
        str, typer.Option("--listen", help="HOST:PORT to accept the peer's one connection on.")
    ],
    cert: CertOpt,
    key: KeyOpt,
    ca: CaOpt,
    out: OutOpt,
    ids: IdsOpt = None,
    input_dir: InputOpt = None,
    person_secret: PersonSecretOpt = None,
    id_col: IdColOpt = "user_key",
    id_type: IdTypeOpt = None,
    peer_name: PeerNameOpt = None,
    workers: WorkersOpt = None,
    idle_timeout: TimeoutOpt = None,
    backend: BackendOpt = Backend.builtin,
    spu_port: SpuPortOpt = 0,
) -> None:
    """Wait for one peer on --listen and run private set intersection with it (this side is
    the PSI responder); write the shared people's match_keys to --out."""
    address = parse_address(listen, what="--listen")
    settings = _settings(idle_timeout)
    tls = TlsFiles(cert, key, ca)

    def run(p: MatchParty, progress: Callable[[str], None]) -> NetMatch:
        return serve_psi(
            p,
            address,
            tls,
            name=party,
            settings=settings,
            expect_peer=peer_name,
            on_listening=lambda a: err_console.print(f"listening on {a[0]}:{a[1]}"),
            progress=progress,
        )

    make = party_factory(backend, workers, spu_port, settings, tls)
    _dispatch(
        "responder", party, ids, input_dir, id_col, id_type, out, workers, person_secret, make, run
    )


@match_app.command("connect")
def match_connect(
    party: PartyOpt,
    peer: Annotated[str, typer.Option("--peer", help="HOST:PORT of the serving peer.")],
    cert: CertOpt,
    key: KeyOpt,
    ca: CaOpt,
    out: OutOpt,
    ids: IdsOpt = None,
    input_dir: InputOpt = None,
    person_secret: PersonSecretOpt = None,
    id_col: IdColOpt = "user_key",
    id_type: IdTypeOpt = None,
    peer_name: PeerNameOpt = None,
    workers: WorkersOpt = None,
    idle_timeout: TimeoutOpt = None,
    backend: BackendOpt = Backend.builtin,
    spu_port: SpuPortOpt = 0,
) -> None:
    """Connect to a serving peer and run private set intersection with it (this side is the
    PSI initiator); write the shared people's match_keys to --out."""
    address = parse_address(peer, what="--peer")
    settings = _settings(idle_timeout)
    tls = TlsFiles(cert, key, ca)

    def run(p: MatchParty, progress: Callable[[str], None]) -> NetMatch:
        return connect_psi(
            p,
            address,
            tls,
            name=party,
            settings=settings,
            expect_peer=peer_name,
            progress=progress,
        )

    make = party_factory(backend, workers, spu_port, settings, tls)
    _dispatch(
        "initiator", party, ids, input_dir, id_col, id_type, out, workers, person_secret, make, run
    )


@match_app.command("certs")
def match_certs(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the PEM files into.")],
    names: Annotated[
        str, typer.Option("--names", help="Comma-separated party names, e.g. content,tmall.")
    ],
    host: Annotated[
        list[str] | None,
        typer.Option("--host", help="Extra host name or IP every certificate names (repeatable)."),
    ] = None,
    days: Annotated[int, typer.Option("--days", help="Days the certificates stay valid.")] = 30,
) -> None:
    """Write a throwaway CA and one certificate per party (for tests and trials; real parties
    use certificates from their own PKI)."""
    parties = [n.strip() for n in names.split(",") if n.strip()]
    certs = make_certs(out, parties, hosts=host or (), days=days)
    table = Table(title=f"certificates in {out} (valid {days} days)")
    table.add_column("party")
    table.add_column("certificate")
    table.add_column("key")
    table.add_row("CA", str(certs.ca), str(certs.ca_key))
    for p in certs.parties.values():
        table.add_row(p.name, str(p.cert), str(p.key))
    console.print(table)
