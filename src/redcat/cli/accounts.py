"""``redcat accounts``: three-party accounts linking a brand to its content account and shops."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from redcat.cli.common import DEFAULT_STORE_PATH, StoreOption, TableFormat, console, print_frame
from redcat.engine.store import connect
from redcat.match.accounts import (
    Account,
    brand_scope,
    list_accounts,
    make_account,
    parse_shop,
    read_config,
    remove_account,
    save_accounts,
)

accounts_app = typer.Typer(
    help="Three-party accounts: which content account and shops belong to each brand.",
    no_args_is_help=True,
)

BrandArg = Annotated[str, typer.Argument(help="The brand id (the data's brand_id).")]
FormatOption = Annotated[TableFormat, typer.Option("--format", help="table, csv or json")]


def _frame(accounts: list[Account]) -> pd.DataFrame:
    rows = [
        {
            "brand_id": a.brand_id,
            "name": a.name,
            "content_account": a.content_account,
            "shops": " ".join(f"{r}:{s}" for r, s in sorted(a.shops)),
        }
        for a in accounts
    ]
    return pd.DataFrame(rows, columns=["brand_id", "name", "content_account", "shops"])


@accounts_app.command("add")
def add_cmd(
    brand: BrandArg,
    shop: Annotated[
        list[str] | None,
        typer.Option("--shop", help="A shop as RETAILER:SHOP_ID; repeat for several."),
    ] = None,
    content_account: Annotated[
        str | None,
        typer.Option("--content-account", help="Its content-platform account (default: BRAND)."),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="A display name.")] = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace the brand's existing account.")
    ] = False,
    store: StoreOption = DEFAULT_STORE_PATH,
) -> None:
    """Link a brand to its content-platform account and its shops on each retailer."""
    account = make_account(
        brand,
        content_account=content_account,
        name=name,
        shops=[parse_shop(s) for s in shop or []],
    )
    con = connect(store)
    try:
        save_accounts(con, [account], replace=replace)
    finally:
        con.close()
    console.print(
        f"account {brand}: content account {account.content_account}, {len(account.shops)} shop(s)",
        markup=False,
        highlight=False,
    )


@accounts_app.command("load")
def load_cmd(
    file: Annotated[Path, typer.Argument(help="A TOML file of [[brand]] entries.")],
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace accounts that already exist.")
    ] = False,
    store: StoreOption = DEFAULT_STORE_PATH,
) -> None:
    """Load accounts from a TOML config file (all or none)."""
    accounts = read_config(file)
    con = connect(store)
    try:
        save_accounts(con, accounts, replace=replace)
    finally:
        con.close()
    console.print(f"loaded {len(accounts)} account(s) from {file}", markup=False, highlight=False)


@accounts_app.command("list")
def list_cmd(
    store: StoreOption = DEFAULT_STORE_PATH, fmt: FormatOption = TableFormat.table
) -> None:
    """List every brand's account."""
    con = connect(store, read_only=True)
    try:
        accounts = list_accounts(con)
    finally:
        con.close()
    print_frame(_frame(accounts), fmt, title="accounts")


@accounts_app.command("show")
def show_cmd(
    brand: BrandArg, store: StoreOption = DEFAULT_STORE_PATH, fmt: FormatOption = TableFormat.table
) -> None:
    """Show a brand's account with the notes and shops it owns in the store."""
    con = connect(store, read_only=True)
    try:
        scope = brand_scope(con, brand)
    finally:
        con.close()
    rows = [{"kind": "content_account", "retailer_id": None, "id": scope.account.content_account}]
    rows += [{"kind": "shop", "retailer_id": r, "id": s} for r, s in sorted(scope.shops)]
    rows += [{"kind": "note", "retailer_id": None, "id": n} for n in sorted(scope.note_ids)]
    print_frame(pd.DataFrame(rows), fmt, title=f"account {brand}")


@accounts_app.command("remove")
def remove_cmd(brand: BrandArg, store: StoreOption = DEFAULT_STORE_PATH) -> None:
    """Delete a brand's account and its shop links."""
    con = connect(store)
    try:
        remove_account(con, brand)
    finally:
        con.close()
    console.print(f"removed the account of {brand}", markup=False, highlight=False)
