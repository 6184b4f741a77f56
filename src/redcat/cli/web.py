"""``redcat serve``, ``redcat refresh``, ``redcat users ...`` and ``redcat tokens ...``: the web
dashboard and API, its report snapshots and its accounts (operators run these)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.orm import Session, sessionmaker

from redcat.cli.common import DEFAULT_STORE_PATH, StoreOption, console
from redcat.errors import InputError
from redcat.report.assemble import load_truth
from redcat.settings import Settings
from redcat.store import auth as store_auth
from redcat.store.db import make_engine, session_factory, session_scope, upgrade

OpsDbOption = Annotated[
    str,
    typer.Option(
        "--ops-db",
        envvar="REDCAT_OPS_DB",
        help="Operational store URL (users, tokens, sessions): sqlite:///file.db or "
        "postgresql+psycopg://...",
    ),
]
ReportDirOption = Annotated[
    Path,
    typer.Option(
        "--reports",
        envvar="REDCAT_REPORTS",
        help="Folder of the precomputed report snapshots the dashboard serves.",
    ),
]
ViewOption = Annotated[
    str,
    typer.Option(
        "--view",
        envvar="REDCAT_VIEW",
        help="Whose figures the snapshots hold: brand (default: released through the privacy "
        "layer, each snapshot one release from the brand's budget in the operational store) or "
        "operator (exact figures, for a deployment only the clean-room operator uses).",
    ),
]
DEFAULT_OPS = Settings().web.ops_db
DEFAULT_VIEW = Settings().web.view
DEFAULT_REPORTS = Settings().web.report_dir

users_app = typer.Typer(help="Brands and user accounts of the dashboard.", no_args_is_help=True)
tokens_app = typer.Typer(help="API bearer tokens.", no_args_is_help=True)


def _sessions(ops_db: str) -> sessionmaker[Session]:
    engine = make_engine(ops_db)
    upgrade(ops_db, engine=engine)
    return session_factory(engine)


def serve_cmd(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="TCP port."),
    store: StoreOption = DEFAULT_STORE_PATH,
    ops_db: OpsDbOption = DEFAULT_OPS,
    reports: ReportDirOption = DEFAULT_REPORTS,
    secure_cookies: bool = typer.Option(
        False, "--secure-cookies", help="Mark cookies HTTPS-only (behind a TLS proxy)."
    ),
    workers: int = typer.Option(1, "--workers", help="Uvicorn worker processes."),
    view: ViewOption = DEFAULT_VIEW,
    refresh_every: float = typer.Option(
        Settings().web.refresh_minutes,
        "--refresh-every",
        help="Rebuild the report snapshots every this many minutes (0: not on a clock).",
    ),
    watch_seconds: float = typer.Option(
        Settings().web.watch_seconds,
        "--watch-seconds",
        help="Check this often whether an ingest or match run changed the store, and rebuild "
        "the snapshots if so (0: do not watch).",
    ),
) -> None:
    """Serve the dashboard, the JSON API (OpenAPI at /docs) and health checks under Uvicorn,
    keeping the report snapshots fresh (see --watch-seconds and --refresh-every)."""
    import uvicorn

    from redcat.web.app import create_app
    from redcat.web.config import WebConfig
    from redcat.web.scheduler import start_scheduler

    base = Settings(store=store)
    web = dataclasses.replace(
        base.web,
        refresh_minutes=refresh_every,
        watch_seconds=watch_seconds,
        ops_db=ops_db,
        view=view,
    )
    settings = dataclasses.replace(base, web=web)
    config = WebConfig(store, ops_db, reports, settings, secure_cookies)
    upgrade(ops_db)
    start_scheduler(config)
    if workers > 1:
        # Worker processes rebuild the app from the environment (uvicorn imports a factory).
        os.environ.update(
            REDCAT_STORE=str(store),
            REDCAT_OPS_DB=ops_db,
            REDCAT_REPORTS=str(reports),
            REDCAT_VIEW=view,
        )
        uvicorn.run(
            "redcat.web.app:app_from_env", factory=True, host=host, port=port, workers=workers
        )
        return
    uvicorn.run(create_app(config, migrate=False), host=host, port=port)


def refresh_cmd(
    store: StoreOption = DEFAULT_STORE_PATH,
    reports: ReportDirOption = DEFAULT_REPORTS,
    brand: list[str] = typer.Option([], "--brand", help="Only these brands (default: all)."),
    truth: Path | None = typer.Option(
        None, "--truth", help="A simulator's truth/note_truth.csv: score models against it."
    ),
    per_retailer: bool = typer.Option(
        True,
        "--per-retailer/--no-per-retailer",
        help="Also measure each retailer alone (operator view; the brand view measures a "
        "retailer when the brand first opens it).",
    ),
    funnel_days: int | None = typer.Option(None, "--funnel-days", help="Funnel window in days."),
    ops_db: OpsDbOption = DEFAULT_OPS,
    view: ViewOption = DEFAULT_VIEW,
) -> None:
    """Rebuild the dashboard's report snapshots from the store (after ingest or match). In the
    brand view each snapshot is one release from the brand's privacy budget in --ops-db."""
    from redcat.web.config import WebConfig
    from redcat.web.snapshot import refresh

    base = Settings(store=store)
    config = WebConfig(
        store,
        ops_db,
        reports,
        dataclasses.replace(base, web=dataclasses.replace(base.web, view=view)),
    )
    settings = config.report_settings
    if funnel_days is not None:
        settings = dataclasses.replace(
            settings, windows=dataclasses.replace(settings.windows, funnel_days=funnel_days)
        )
    result = refresh(
        store,
        reports,
        settings,
        brands=brand or None,
        truth=load_truth(truth) if truth else None,
        per_retailer=per_retailer,
        progress=lambda msg: console.print(f"measuring {msg}", soft_wrap=True),
    )
    console.print(
        f"refreshed {len(result.brands)} brand(s) into {reports} in {result.seconds:.1f} s "
        f"({view} view)",
        soft_wrap=True,
    )
    for brand_id, scopes in sorted(result.held.items()):
        console.print(
            f"{brand_id}: the privacy budget does not cover a new release of "
            f"{', '.join(scopes)}; the figures released before were kept (where there were any)",
            soft_wrap=True,
        )


@users_app.command("brand")
def brand_cmd(
    brand_id: str = typer.Argument(..., help="The brand_id of the data contract."),
    name: str | None = typer.Option(None, "--name", help="Display name."),
    ops_db: OpsDbOption = DEFAULT_OPS,
) -> None:
    """Create a brand account (tenant)."""
    with session_scope(_sessions(ops_db)) as db:
        store_auth.add_brand(db, brand_id, name)
    console.print(f"brand {brand_id}")


@users_app.command("add")
def add_cmd(
    username: str = typer.Argument(...),
    role: str = typer.Option(store_auth.ROLE_BRAND_USER, "--role", help="brand_user or operator"),
    brand: str | None = typer.Option(None, "--brand", help="The brand a brand_user sees."),
    password: str | None = typer.Option(
        None,
        "--password",
        envvar="REDCAT_PASSWORD",
        help="The password (default: asked for, hidden).",
    ),
    create_brand: bool = typer.Option(
        False, "--create-brand", help="Create the brand account if it does not exist."
    ),
    ops_db: OpsDbOption = DEFAULT_OPS,
) -> None:
    """Create a user."""
    if password is None:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    with session_scope(_sessions(ops_db)) as db:
        if create_brand and brand:
            store_auth.add_brand(db, brand)
        principal = store_auth.add_user(db, username, password, role, brand)
    console.print(
        f"user {principal.username} ({principal.role}, brand {principal.brand_id or '-'})"
    )


@users_app.command("passwd")
def passwd_cmd(
    username: str = typer.Argument(...),
    password: str | None = typer.Option(None, "--password", envvar="REDCAT_PASSWORD"),
    ops_db: OpsDbOption = DEFAULT_OPS,
) -> None:
    """Set a user's password."""
    if password is None:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    with session_scope(_sessions(ops_db)) as db:
        store_auth.set_password(db, username, password)
    console.print(f"password of {username} changed")


@users_app.command("list")
def list_cmd(ops_db: OpsDbOption = DEFAULT_OPS) -> None:
    """List brands and users, tab-separated."""
    with session_scope(_sessions(ops_db)) as db:
        for brand in store_auth.list_brands(db):
            typer.echo(f"brand\t{brand.id}\t{brand.name}")
        for user in store_auth.list_users(db):
            typer.echo(f"user\t{user.username}\t{user.role}\t{user.brand_id or '-'}")


@tokens_app.command("create")
def token_create_cmd(
    username: str = typer.Argument(..., help="The user the token acts as."),
    name: str = typer.Option("api", "--name", help="What the token is for."),
    days: float | None = typer.Option(None, "--days", help="Expire after this many days."),
    ops_db: OpsDbOption = DEFAULT_OPS,
) -> None:
    """Create an API token; the secret is printed once (only its hash is stored)."""
    if days is not None and days <= 0:
        raise InputError("--days must be positive")
    with session_scope(_sessions(ops_db)) as db:
        secret, row = store_auth.create_token(db, username, name, days)
        token_id = row.id
    console.print(f"token {token_id} for {username}:", soft_wrap=True)
    typer.echo(secret)


@tokens_app.command("list")
def token_list_cmd(ops_db: OpsDbOption = DEFAULT_OPS) -> None:
    """List tokens (id, prefix, owner, state); never the secrets."""
    with session_scope(_sessions(ops_db)) as db:
        for token, owner in store_auth.list_tokens(db):
            state = "revoked" if token.revoked_at else "active"
            typer.echo(f"{token.id}\t{token.prefix}…\t{owner}\t{token.name}\t{state}")


@tokens_app.command("revoke")
def token_revoke_cmd(
    token_id: int = typer.Argument(...), ops_db: OpsDbOption = DEFAULT_OPS
) -> None:
    """Revoke a token by id."""
    with session_scope(_sessions(ops_db)) as db:
        if not store_auth.revoke_token(db, token_id):
            raise InputError(f"no active token {token_id}")
    console.print(f"token {token_id} revoked")


def register_web(app: typer.Typer) -> None:
    """Add serve, refresh, users and tokens to the root app."""
    app.command("serve")(serve_cmd)
    app.command("refresh")(refresh_cmd)
    app.add_typer(users_app, name="users")
    app.add_typer(tokens_app, name="tokens")
