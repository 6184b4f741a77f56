"""Three-party accounts: a brand (the tenant) linked to its content-platform account and to its
shop ids on each retailer, kept in the analytics store beside the data they scope.

Tables: ``accounts`` (``brand_id``, ``name``, ``content_account``, ``updated_at``) and
``account_shops`` (``brand_id``, ``retailer_id``, ``shop_id``); a shop belongs to one brand at
most. A config file (TOML) can hold every account::

    [[brand]]
    id = "B1"
    name = "Acme"
    content_account = "B1"        # optional; defaults to id
    shops = { tmall = ["s1"], jd = ["s2"] }

Scoping. :func:`brand_scope` returns what a brand owns (:class:`BrandScope`): its notes (notes of
its content account) and its linked shops, or raises :class:`AccessDenied`. :func:`authorize` is
the one call a report, export or API route makes before reading a brand's figures: in a store with
no account at all (a single-tenant store, the spine's demo) it returns None and changes nothing;
otherwise the brand needs an account, and every shop the engine would count for it (the
retailers' ``shops`` rows tagged with the brand) must be linked to that account. The engine keys
a brand by one id shared by ``notes.brand_id`` and ``shops.brand_id``, so an account whose
content account differs from its brand id is refused there too, until the engine maps ids.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from redcat.engine.core import Engine
from redcat.engine.store import has_table
from redcat.errors import AccessDenied, ConfigError, InputError
from redcat.ingest.discover import check_retailer_id

ACCOUNTS_DDL = """
CREATE TABLE IF NOT EXISTS accounts (
    brand_id VARCHAR PRIMARY KEY,
    name VARCHAR,
    content_account VARCHAR NOT NULL,
    updated_at TIMESTAMP NOT NULL
)
"""
ACCOUNT_SHOPS_DDL = """
CREATE TABLE IF NOT EXISTS account_shops (
    brand_id VARCHAR NOT NULL,
    retailer_id VARCHAR NOT NULL,
    shop_id VARCHAR NOT NULL,
    PRIMARY KEY (retailer_id, shop_id)
)
"""
_ID = re.compile(r"[^\s:]{1,128}")


@dataclass(frozen=True)
class Account:
    """A brand's three-party account: its content-platform account and (retailer, shop) links."""

    brand_id: str
    content_account: str
    name: str | None = None
    shops: frozenset[tuple[str, str]] = field(default_factory=frozenset)

    def shop_ids(self, retailer_id: str) -> frozenset[str]:
        """Return the brand's shop ids on ``retailer_id``."""
        return frozenset(s for r, s in self.shops if r == retailer_id)


@dataclass(frozen=True)
class BrandScope:
    """What a brand may see: its account and the ids of the notes (of its content account, as
    stored) and shops (as linked) it owns."""

    account: Account
    note_ids: frozenset[str]

    @property
    def brand_id(self) -> str:
        """The brand's id."""
        return self.account.brand_id

    @property
    def shops(self) -> frozenset[tuple[str, str]]:
        """The (retailer_id, shop_id) pairs linked to the brand."""
        return self.account.shops


def _con(engine_or_con: Engine | duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    return engine_or_con.duck if isinstance(engine_or_con, Engine) else engine_or_con


def check_id(value: str, what: str) -> str:
    """Return ``value`` if it is a usable id (1-128 characters, no spaces or ':'), else raise
    :class:`ConfigError`."""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise ConfigError(f"{what} {value!r} must be 1-128 characters without spaces or ':'")
    return value


def make_account(
    brand_id: str,
    *,
    content_account: str | None = None,
    name: str | None = None,
    shops: Iterable[tuple[str, str]] = (),
) -> Account:
    """Return a checked :class:`Account` (``content_account`` defaults to ``brand_id``).
    Raises :class:`ConfigError` for a malformed id."""
    links = set()
    for retailer_id, shop_id in shops:
        try:
            check_retailer_id(retailer_id)
        except InputError as exc:  # ingest's rule, a configuration problem here
            raise ConfigError(str(exc)) from None
        links.add((retailer_id, check_id(shop_id, "shop id")))
    return Account(
        brand_id=check_id(brand_id, "brand id"),
        content_account=check_id(content_account or brand_id, "content account"),
        name=name,
        shops=frozenset(links),
    )


def parse_shop(text: str) -> tuple[str, str]:
    """Parse ``retailer:shop_id`` (the CLI's form); raises :class:`ConfigError`."""
    retailer_id, sep, shop_id = text.partition(":")
    if not sep or not retailer_id or not shop_id:
        raise ConfigError(f"shop {text!r}: write it as RETAILER:SHOP_ID (e.g. tmall:s1)")
    return retailer_id, shop_id


def ensure_accounts(con: duckdb.DuckDBPyConnection) -> None:
    """Create the account tables if missing."""
    con.execute(ACCOUNTS_DDL)
    con.execute(ACCOUNT_SHOPS_DDL)


def save_accounts(
    con: duckdb.DuckDBPyConnection, accounts: Iterable[Account], *, replace: bool = False
) -> None:
    """Store ``accounts`` in one transaction. An existing brand is refused unless ``replace``
    (which swaps its name, content account and shops for the new ones); a shop already linked
    to another brand is refused. Raises :class:`ConfigError`; nothing is stored then."""
    accounts = list(accounts)
    seen: dict[tuple[str, str], str] = {}
    for acc in accounts:
        for shop in acc.shops:
            if shop in seen and seen[shop] != acc.brand_id:
                raise ConfigError(
                    f"shop {shop[1]!r} of {shop[0]} is linked to both {seen[shop]} and "
                    f"{acc.brand_id}"
                )
            seen[shop] = acc.brand_id
    ensure_accounts(con)
    now = datetime.now(UTC).replace(tzinfo=None)
    con.execute("BEGIN TRANSACTION")
    try:
        for acc in accounts:
            exists = con.execute(
                "SELECT 1 FROM accounts WHERE brand_id = ?", [acc.brand_id]
            ).fetchall()
            if exists and not replace:
                raise ConfigError(
                    f"brand {acc.brand_id!r} already has an account; remove it first or replace it"
                )
            con.execute("DELETE FROM account_shops WHERE brand_id = ?", [acc.brand_id])
            con.execute("DELETE FROM accounts WHERE brand_id = ?", [acc.brand_id])
            con.execute(
                "INSERT INTO accounts VALUES (?, ?, ?, ?)",
                [acc.brand_id, acc.name, acc.content_account, now],
            )
            for retailer_id, shop_id in sorted(acc.shops):
                owner = con.execute(
                    "SELECT brand_id FROM account_shops WHERE retailer_id = ? AND shop_id = ?",
                    [retailer_id, shop_id],
                ).fetchall()
                if owner:
                    raise ConfigError(
                        f"shop {shop_id!r} of {retailer_id} is already linked to brand "
                        f"{owner[0][0]}"
                    )
                con.execute(
                    "INSERT INTO account_shops VALUES (?, ?, ?)",
                    [acc.brand_id, retailer_id, shop_id],
                )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def remove_account(con: duckdb.DuckDBPyConnection, brand_id: str) -> None:
    """Delete a brand's account and shop links. Raises :class:`ConfigError` if it has none."""
    if get_account(con, brand_id) is None:
        raise ConfigError(f"brand {brand_id!r} has no account")
    con.execute("BEGIN TRANSACTION")
    con.execute("DELETE FROM account_shops WHERE brand_id = ?", [brand_id])
    con.execute("DELETE FROM accounts WHERE brand_id = ?", [brand_id])
    con.execute("COMMIT")


def list_accounts(engine_or_con: Engine | duckdb.DuckDBPyConnection) -> list[Account]:
    """Return every stored account, sorted by brand id (none when the store has no accounts)."""
    con = _con(engine_or_con)
    if not has_table(con, "accounts"):
        return []
    heads = con.execute(
        "SELECT brand_id, name, content_account FROM accounts ORDER BY brand_id"
    ).fetchall()
    links: dict[str, set[tuple[str, str]]] = {}
    if has_table(con, "account_shops"):
        for brand_id, retailer_id, shop_id in con.execute(
            "SELECT brand_id, retailer_id, shop_id FROM account_shops"
        ).fetchall():
            links.setdefault(str(brand_id), set()).add((str(retailer_id), str(shop_id)))
    return [
        Account(str(b), str(c), None if n is None else str(n), frozenset(links.get(str(b), ())))
        for b, n, c in heads
    ]


def get_account(engine_or_con: Engine | duckdb.DuckDBPyConnection, brand_id: str) -> Account | None:
    """Return ``brand_id``'s account, or None."""
    for acc in list_accounts(engine_or_con):
        if acc.brand_id == brand_id:
            return acc
    return None


def brand_scope(engine_or_con: Engine | duckdb.DuckDBPyConnection, brand_id: str) -> BrandScope:
    """Return what ``brand_id`` owns: its account and the stored notes of its content account.
    Raises :class:`AccessDenied` when the brand has no account."""
    con = _con(engine_or_con)
    acc = get_account(con, brand_id)
    if acc is None:
        raise AccessDenied(
            f"brand {brand_id!r} has no three-party account here; add one with "
            "`redcat accounts add` or `redcat accounts load`"
        )
    notes = (
        con.execute(
            "SELECT note_id FROM notes WHERE brand_id = ?", [acc.content_account]
        ).fetchall()
        if has_table(con, "notes")
        else []
    )
    return BrandScope(acc, frozenset(str(n) for (n,) in notes))


def authorize(
    engine_or_con: Engine | duckdb.DuckDBPyConnection, brand_id: str
) -> BrandScope | None:
    """Check that a report on ``brand_id`` reads only what the brand owns; return its scope, or
    None in a store holding no account at all (single-tenant: nothing to scope).

    Raises :class:`AccessDenied` for a brand without an account, an account whose content
    account is not the brand id the engine reports on, or a retailer shop tagged with the brand
    in the store but not linked to its account (the engine would count it).
    """
    con = _con(engine_or_con)
    if not list_accounts(con):
        return None
    scope = brand_scope(con, brand_id)
    if scope.account.content_account != brand_id:
        raise AccessDenied(
            f"brand {brand_id!r}: its content account is {scope.account.content_account!r}; "
            "reports key notes and shops by one brand id, so they must be equal"
        )
    if has_table(con, "shops"):
        tagged = con.execute(
            "SELECT retailer_id, shop_id FROM shops WHERE brand_id = ? ORDER BY 1, 2", [brand_id]
        ).fetchall()
        for retailer_id, shop_id in tagged:
            if (str(retailer_id), str(shop_id)) not in scope.shops:
                raise AccessDenied(
                    f"shop {shop_id!r} of {retailer_id} is tagged {brand_id} in the retailer's "
                    f"shops but not linked to {brand_id}'s account; link it with `redcat "
                    f"accounts add --replace` or fix the retailer's export"
                )
    return scope


def read_config(path: Path) -> list[Account]:
    """Read accounts from a TOML file (see the module docstring). Raises :class:`ConfigError`
    naming the file and the entry for anything malformed."""
    path = Path(path)
    try:
        body = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"account file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    entries = body.get("brand")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{path}: no [[brand]] entries")
    accounts = []
    ids: set[str] = set()
    for i, entry in enumerate(entries, start=1):
        where = f"{path}: [[brand]] #{i}"
        if not isinstance(entry, dict) or "id" not in entry:
            raise ConfigError(f"{where} needs an id")
        unknown = set(entry) - {"id", "name", "content_account", "shops"}
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        try:
            acc = make_account(
                str(entry["id"]),
                content_account=_opt_str(entry.get("content_account")),
                name=_opt_str(entry.get("name")),
                shops=_shop_pairs(entry.get("shops", {})),
            )
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        if acc.brand_id in ids:
            raise ConfigError(f"{where}: brand {acc.brand_id!r} appears twice")
        ids.add(acc.brand_id)
        accounts.append(acc)
    return accounts


def _opt_str(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"expected a string, got {value!r}")
    return value


def _shop_pairs(shops: Any) -> list[tuple[str, str]]:
    if not isinstance(shops, Mapping):
        raise ConfigError("shops must be a table: retailer = [shop ids]")
    pairs = []
    for retailer_id, ids in shops.items():
        if isinstance(ids, str):
            ids = [ids]
        if not isinstance(ids, list) or not all(isinstance(s, str) for s in ids):
            raise ConfigError(f"shops of {retailer_id} must be a list of shop ids")
        pairs += [(str(retailer_id), s) for s in ids]
    return pairs
