"""``redcat links``: 种草直达 ad links — create and list links, manage keys, serve the redirect
service, and report clicks and postback orders per link (:mod:`redcat.links`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from redcat.cli.common import (
    DEFAULT_STORE_PATH,
    StoreOption,
    TableFormat,
    err_console,
    print_frame,
)
from redcat.errors import InputError
from redcat.links.report import link_report, load_link_tables
from redcat.links.service import add_key, create_link, list_keys, list_links, retire_key
from redcat.settings import Settings

links_app = typer.Typer(
    help="种草直达 ad links: signed redirects under notes, clicks and order postbacks.",
    no_args_is_help=True,
)
keys_app = typer.Typer(help="Link-signing keys, retailers' postback keys, the IP salt.")
links_app.add_typer(keys_app, name="keys")

_SETTINGS = Settings()

DbOption = Annotated[
    str,
    typer.Option(
        "--db",
        envvar="REDCAT_OPS_DB",
        help="The operational store (SQLAlchemy URL: sqlite:///file.db or postgresql+psycopg://...).",
    ),
]
FormatOption = Annotated[TableFormat, typer.Option("--format", help="Output format.")]


def _sessions(db: str) -> tuple[Engine, sessionmaker[Session]]:
    from redcat.store.db import open_store

    return open_store(db)


def _authorize(store: Path, brand_id: str) -> None:
    """Refuse (:class:`~redcat.errors.AccessDenied`) a brand the analytics store's three-party
    accounts do not cover; nothing to check (single-tenant, as before) without a store file."""
    if not store.exists():
        return
    from redcat.engine import open_engine
    from redcat.match.accounts import authorize

    with open_engine(store, read_only=True) as engine:
        authorize(engine, brand_id)  # the brand's three-party account scopes what it sees


def _check_note(store: Path, brand_id: str, note_id: str) -> None:
    """Refuse a note the analytics store says belongs to another brand or does not exist; warn
    (and go on) when there is no store or notes table to check against."""
    if not store.exists():
        err_console.print(
            f"warning: no store {store}; note {note_id!r} not checked", highlight=False
        )
        return
    from redcat.engine.store import connect, has_table

    con = connect(store, read_only=True)
    try:
        if not has_table(con, "notes"):
            err_console.print("warning: the store has no notes; note not checked", highlight=False)
            return
        row = con.execute("SELECT brand_id FROM notes WHERE note_id = ?", [note_id]).fetchone()
    finally:
        con.close()
    if row is None:
        raise InputError(f"note {note_id!r} is not in the store", field="note")
    if row[0] != brand_id:
        raise InputError(
            f"note {note_id!r} is not a note of brand {brand_id!r}: it belongs to another brand",
            field="note",
        )


@links_app.command("create")
def create_cmd(
    brand: Annotated[str, typer.Option("--brand", help="Brand id.", show_default=False)],
    note: Annotated[str, typer.Option("--note", help="Note id.", show_default=False)],
    retailer: Annotated[
        str, typer.Option("--retailer", help="Retailer id (its allow-list).", show_default=False)
    ],
    url: Annotated[str, typer.Option("--url", help="Destination https URL.", show_default=False)],
    db: DbOption = _SETTINGS.web.ops_db,
    store: StoreOption = DEFAULT_STORE_PATH,
    fmt: FormatOption = TableFormat.table,
) -> None:
    """Create an ad link under a note to an allow-listed retailer page; print its URL."""
    from redcat.store.db import session_scope

    _authorize(store, brand)
    _check_note(store, brand, note)
    _engine, sessions = _sessions(db)
    with session_scope(sessions) as session:
        link = create_link(
            session,
            brand_id=brand,
            note_id=note,
            retailer_id=retailer,
            url=url,
            settings=_SETTINGS.links,
        )
    frame = pd.DataFrame(
        [
            {
                "link_id": link.link_id,
                "note_id": link.note_id,
                "url": link.url,
                "destination": link.destination,
            }
        ]
    )
    print_frame(frame, fmt, title="link")


@links_app.command("list")
def list_cmd(
    brand: Annotated[
        str | None, typer.Option("--brand", help="Only this brand's links.", show_default=False)
    ] = None,
    db: DbOption = _SETTINGS.web.ops_db,
    fmt: FormatOption = TableFormat.table,
) -> None:
    """List links (oldest first)."""
    _engine, sessions = _sessions(db)
    with sessions() as session:
        links = list_links(session, _SETTINGS.links, brand)
    frame = pd.DataFrame(
        [
            {
                "link_id": lk.link_id,
                "brand_id": lk.brand_id,
                "note_id": lk.note_id,
                "retailer_id": lk.retailer_id,
                "active": lk.active,
                "url": lk.url,
                "destination": lk.destination,
            }
            for lk in links
        ],
        columns=["link_id", "brand_id", "note_id", "retailer_id", "active", "url", "destination"],
    )
    print_frame(frame, fmt, title="links")


@links_app.command("report")
def report_cmd(
    brand: Annotated[str, typer.Option("--brand", help="Brand id.", show_default=False)],
    db: DbOption = _SETTINGS.web.ops_db,
    store: StoreOption = DEFAULT_STORE_PATH,
    fmt: FormatOption = TableFormat.table,
) -> None:
    """Clicks, unique clickers, orders, GMV and conversion rate per link of a brand (refused for
    a brand the store's three-party accounts do not cover, when the store exists)."""
    _authorize(store, brand)
    engine, _ = _sessions(db)
    frame = link_report(engine, brand, _SETTINGS.links)
    print_frame(frame.drop(columns=["destination"]), fmt, title=f"links of {brand}")


@links_app.command("load")
def load_cmd(
    brand: Annotated[
        str | None, typer.Option("--brand", help="Only this brand's links.", show_default=False)
    ] = None,
    db: DbOption = _SETTINGS.web.ops_db,
    store: StoreOption = DEFAULT_STORE_PATH,
) -> None:
    """Copy link clicks, postback conversions and link journeys into the analytics store
    (tables link_clicks, link_conversions, link_journeys)."""
    from redcat.engine import open_engine

    engine, _ = _sessions(db)
    with open_engine(store) as analytics:
        counts = load_link_tables(analytics, engine, _SETTINGS.links, brand)
    typer.echo(", ".join(f"{name}: {rows:,} rows" for name, rows in counts.items()))


@links_app.command("serve")
def serve_cmd(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8710,
    db: DbOption = _SETTINGS.web.ops_db,
) -> None:
    """Serve the redirect (GET /l/{token}) and postback (POST /postback) service."""
    from redcat.links.app import serve

    serve(db, _SETTINGS.links, host=host, port=port)


@keys_app.command("list")
def keys_list_cmd(
    db: DbOption = _SETTINGS.web.ops_db, fmt: FormatOption = TableFormat.table
) -> None:
    """List keys (ids, purpose, retailer, status; never secrets)."""
    _engine, sessions = _sessions(db)
    with sessions() as session:
        keys = list_keys(session)
    frame = pd.DataFrame(
        [vars(k) for k in keys],
        columns=["kid", "purpose", "retailer_id", "status", "created_at", "retired_at"],
    )
    print_frame(frame, fmt, title="keys")


@keys_app.command("add")
def keys_add_cmd(
    purpose: Annotated[
        str, typer.Option("--purpose", help="link, postback or ip.", show_default=False)
    ],
    retailer: Annotated[
        str | None,
        typer.Option("--retailer", help="The retailer of a postback key.", show_default=False),
    ] = None,
    db: DbOption = _SETTINGS.web.ops_db,
) -> None:
    """Add a new active key (the previous one keeps verifying until retired). A postback key's
    secret is printed once: hand it to the retailer."""
    from redcat.store.db import session_scope

    _engine, sessions = _sessions(db)
    with session_scope(sessions) as session:
        info, secret = add_key(session, purpose, retailer_id=retailer)
    typer.echo(f"added {info.purpose} key {info.kid} (active)")
    if purpose == "postback":
        typer.echo(f"secret (hex, shown once): {secret.hex()}")


@keys_app.command("retire")
def keys_retire_cmd(
    kid: Annotated[str, typer.Argument(help="The key id to retire.", show_default=False)],
    db: DbOption = _SETTINGS.web.ops_db,
) -> None:
    """Retire a key: what it signed is refused from now on."""
    from redcat.store.db import session_scope

    _engine, sessions = _sessions(db)
    with session_scope(sessions) as session:
        info = retire_key(session, kid)
    typer.echo(f"retired {info.purpose} key {info.kid}")
