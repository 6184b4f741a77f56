"""``redcat privacy budget`` and ``redcat privacy release``: a brand's privacy budget and its
noisy per-note figures.

Who asks: with ``--token`` (or ``REDCAT_TOKEN``), an API token of the operational store, the
command acts for that token's user and refuses any other brand than a brand user's own; without
one it runs as the local operator (who holds the store files anyway).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import pandas as pd
import typer

from redcat.cli.common import (
    DEFAULT_STORE_PATH,
    StoreOption,
    TableFormat,
    console,
    print_frame,
    rich_table,
)
from redcat.engine import open_engine
from redcat.errors import AccessDenied, ConfigError
from redcat.match.accounts import authorize
from redcat.privacy.ledger import BudgetLedger, BudgetStatus
from redcat.privacy.notes import release_brand_totals, release_note_orders, released_rates
from redcat.privacy.thresholds import below_k_label
from redcat.settings import Settings

privacy_app = typer.Typer(
    help="Output privacy: a brand's budget and its noisy per-note figures.", no_args_is_help=True
)

BrandOption = Annotated[str, typer.Option("--brand", help="The brand (tenant) asked about.")]
OpsDbOption = Annotated[
    str,
    typer.Option(
        "--ops-db",
        envvar="REDCAT_OPS_DB",
        help="Operational store URL holding the budget ledger (sqlite:///file.db or "
        "postgresql+psycopg://...).",
    ),
]
TokenOption = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="REDCAT_TOKEN",
        help="API token of the user asking; a brand user may only ask about its own brand.",
    ),
]
PeriodOption = Annotated[
    str | None, typer.Option("--period", help="Budget period YYYY-MM (default: this month).")
]
FormatOption = Annotated[TableFormat, typer.Option("--format", help="Output format.")]
DEFAULT_OPS = Settings().web.ops_db


def require_caller(ops_db: str, brand: str, token: str | None) -> None:
    """Refuse (:class:`AccessDenied`) unless the caller may read ``brand``: no token means the
    local operator; a token must be live and belong to an operator or to ``brand``'s user."""
    if token is None:
        return
    from redcat.store import auth as store_auth
    from redcat.store.db import open_store, session_scope

    _engine, sessions = open_store(ops_db)
    try:
        with session_scope(sessions) as db:
            principal = store_auth.resolve_token(db, token)
    finally:
        _engine.dispose()
    if principal is None:
        raise AccessDenied("the API token is unknown, revoked or expired")
    if not principal.may_see(brand):
        raise AccessDenied(
            f"user {principal.username!r} may not read brand {brand!r} "
            f"(bound to {principal.brand_id!r})"
        )


def budget_frame(status: BudgetStatus) -> pd.DataFrame:
    """Return a brand's budget as a two-column table (item, value)."""
    rows: list[tuple[str, object]] = [
        ("brand", status.brand_id),
        ("period", status.period),
        ("epsilon total", status.total),
        ("epsilon spent", status.spent),
        ("epsilon remaining", status.remaining),
        ("releases made", status.releases),
    ]
    rows += [(f"{kind} releases left", n) for kind, n in status.releases_left.items()]
    return pd.DataFrame(rows, columns=["item", "value"]).astype({"value": "string"})


@privacy_app.command("budget")
def budget_cmd(
    brand: BrandOption,
    ops_db: OpsDbOption = DEFAULT_OPS,
    period: PeriodOption = None,
    history: Annotated[
        bool, typer.Option("--history", help="List the releases paid for this period instead.")
    ] = False,
    token: TokenOption = None,
    fmt: FormatOption = TableFormat.table,
) -> None:
    """A brand's privacy budget this period: ε spent and left, and how many more releases of
    each kind fit (``--history``: the releases paid for)."""
    require_caller(ops_db, brand, token)
    ledger = BudgetLedger.open(ops_db, Settings().privacy)
    try:
        status = ledger.status(brand, period)
        records = ledger.history(brand, period) if history else []
    finally:
        ledger.engine.dispose()
    if history:
        frame = pd.DataFrame(
            [(r.at, r.name, r.kind, r.epsilon, r.query_hash[:12]) for r in records],
            columns=["at", "query", "kind", "epsilon", "question"],
        )
        print_frame(frame, fmt, title=f"{brand}: releases paid for in {status.period}")
        return
    print_frame(budget_frame(status), fmt, title=f"{brand}: privacy budget {status.period}")


class ReleaseTable(StrEnum):
    """What ``redcat privacy release`` releases."""

    notes = "notes"
    brand = "brand"


@privacy_app.command("release")
def release_cmd(
    brand: BrandOption,
    table: Annotated[
        ReleaseTable,
        typer.Option(
            "--table",
            help="notes: buyers, orders, GMV per note (a table release); brand: the brand's "
            "matched reach, buyers, orders, GMV and rates from them (a kpi release).",
        ),
    ] = ReleaseTable.notes,
    store: StoreOption = DEFAULT_STORE_PATH,
    ops_db: OpsDbOption = DEFAULT_OPS,
    token: TokenOption = None,
    fmt: FormatOption = TableFormat.table,
) -> None:
    """Release a brand's figures with differential privacy: per note (buyers, orders, GMV) or
    brand totals. Spends ε from its budget once; asking again shows the same answer."""
    require_caller(ops_db, brand, token)
    settings = Settings(store=store)
    ledger = BudgetLedger.open(ops_db, settings.privacy)
    try:
        with open_engine(store, read_only=True) as engine:
            if not engine.duck.execute(
                "SELECT count(*) FROM notes WHERE brand_id = ?", [brand]
            ).fetchone()[0]:  # type: ignore[index]
                raise ConfigError(f"brand {brand!r} has no notes in {store}")
            # Three-party accounts, when the store has any, must cover the brand's shops.
            authorize(engine, brand)
            if table is ReleaseTable.brand:
                released = release_brand_totals(engine, brand, settings, ledger)
            else:
                released = release_note_orders(engine, brand, settings, ledger)
        status = ledger.status(brand)
    finally:
        ledger.engine.dispose()
    if fmt is not TableFormat.table:
        print_frame(released.public(), fmt)
        return
    k = settings.privacy.threshold()
    measures = [m.column for m in released.spec.measures]
    view = released.wide()
    for col in measures:
        shown = view[col].map(lambda v: "" if pd.isna(v) else f"{v:,.0f}")
        view[col] = shown.where(~view["suppressed"], below_k_label(k))
    bounds = released.error_bounds()
    spent = "stored answer, nothing spent" if released.cached else f"ε {released.epsilon_spent:g}"
    noise = ", ".join(f"{m} ±{bounds.get(m, 0):,.0f}" for m in measures)
    what = "brand totals" if table is ReleaseTable.brand else "buyers, orders, GMV per note"
    title = (
        f"{brand}: {what} (noisy; {noise} at {settings.privacy.confidence:.0%}; {spent}; "
        f"{status.remaining:g} ε left)"
    )
    console.print(rich_table(view.drop(columns=["suppressed"]), title=title))
    if table is ReleaseTable.brand:
        rates = released_rates(released).drop(columns=["exact"])
        console.print(rich_table(rates, title="rates from the released figures"))
