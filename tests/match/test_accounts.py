"""Three-party accounts: storage, the TOML config, brand scope and the authorize check."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from redcat.engine.store import ensure_schema
from redcat.errors import AccessDenied, ConfigError
from redcat.match.accounts import (
    Account,
    authorize,
    brand_scope,
    get_account,
    list_accounts,
    make_account,
    parse_shop,
    read_config,
    remove_account,
    save_accounts,
)


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    ensure_schema(con)
    con.execute(
        "INSERT INTO notes VALUES ('n1','B1','c1','ad',NULL,'2026-05-01','t1'),"
        "('n2','B1','c2','organic',NULL,'2026-05-01','t2'),"
        "('n9','B2','c9','organic',NULL,'2026-05-01','t9')"
    )
    con.execute("INSERT INTO shops VALUES ('tmall','s1','B1'),('tmall','s9','B2'),('jd','s2','B1')")
    return con


def test_accounts_round_trip_and_scope(con):
    b1 = make_account("B1", name="Acme", shops=[("tmall", "s1"), ("jd", "s2")])
    save_accounts(con, [b1, make_account("B2", shops=[parse_shop("tmall:s9")])])
    assert [a.brand_id for a in list_accounts(con)] == ["B1", "B2"]
    assert get_account(con, "B1") == Account("B1", "B1", "Acme", frozenset(b1.shops))
    scope = brand_scope(con, "B1")
    assert scope.note_ids == {"n1", "n2"}
    assert scope.shops == {("tmall", "s1"), ("jd", "s2")}
    assert scope.account.shop_ids("tmall") == {"s1"}
    assert authorize(con, "B1") == scope
    remove_account(con, "B2")
    assert [a.brand_id for a in list_accounts(con)] == ["B1"]
    with pytest.raises(ConfigError, match="no account"):
        remove_account(con, "B2")


def test_a_store_without_accounts_is_not_scoped(con):
    assert authorize(con, "B1") is None
    with pytest.raises(AccessDenied, match="no three-party account"):
        brand_scope(con, "B1")


def test_authorize_refuses_unknown_brands_and_unlinked_shops(con):
    save_accounts(con, [make_account("B1", shops=[("tmall", "s1")])])
    with pytest.raises(AccessDenied, match="'B2' has no three-party account"):
        authorize(con, "B2")
    # jd's shops table tags s2 with B1, but B1's account does not link it
    with pytest.raises(AccessDenied, match="shop 's2' of jd"):
        authorize(con, "B1")
    save_accounts(con, [make_account("B1", shops=[("tmall", "s1"), ("jd", "s2")])], replace=True)
    assert authorize(con, "B1") is not None
    save_accounts(con, [make_account("B3", content_account="acct-9")])
    with pytest.raises(AccessDenied, match="content account is 'acct-9'"):
        authorize(con, "B3")


def test_save_refuses_duplicates_and_stores_nothing_then(con):
    save_accounts(con, [make_account("B1", shops=[("tmall", "s1")])])
    with pytest.raises(ConfigError, match="already has an account"):
        save_accounts(con, [make_account("B1")])
    with pytest.raises(ConfigError, match="already linked to brand B1"):
        save_accounts(con, [make_account("B4"), make_account("B2", shops=[("tmall", "s1")])])
    assert [a.brand_id for a in list_accounts(con)] == ["B1"]  # B4 rolled back with B2
    with pytest.raises(ConfigError, match="linked to both"):
        save_accounts(
            con,
            [make_account("B5", shops=[("jd", "x")]), make_account("B6", shops=[("jd", "x")])],
        )


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (lambda: make_account("has space"), "brand id"),
        (lambda: make_account("B1", shops=[("Tmall!", "s1")]), "invalid retailer name"),
        (lambda: parse_shop("tmall"), "RETAILER:SHOP_ID"),
        (lambda: parse_shop(":s1"), "RETAILER:SHOP_ID"),
    ],
)
def test_malformed_ids_are_config_errors(bad, message):
    with pytest.raises(ConfigError, match=message):
        bad()


def test_config_file(tmp_path: Path, con):
    path = tmp_path / "accounts.toml"
    path.write_text(
        """
[[brand]]
id = "B1"
name = "Acme"
shops = { tmall = ["s1"], jd = "s2" }

[[brand]]
id = "B2"
content_account = "B2"
shops = { tmall = ["s9"] }
""",
        encoding="utf-8",
    )
    accounts = read_config(path)
    assert [(a.brand_id, a.name, sorted(a.shops)) for a in accounts] == [
        ("B1", "Acme", [("jd", "s2"), ("tmall", "s1")]),
        ("B2", None, [("tmall", "s9")]),
    ]
    save_accounts(con, accounts)
    assert authorize(con, "B2") is not None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x = 1", "no \\[\\[brand\\]\\] entries"),
        ("[[brand]]\nname = 'n'", "#1 needs an id"),
        ("[[brand]]\nid = 'B1'\ncolour = 'red'", "unknown key\\(s\\) colour"),
        ("[[brand]]\nid = 'B1'\n[[brand]]\nid = 'B1'", "#2: brand 'B1' appears twice"),
        ("[[brand]]\nid = 'B1'\nshops = { tmall = [1] }", "list of shop ids"),
        ("[[brand", "not valid TOML"),
    ],
)
def test_config_errors_name_the_entry(tmp_path: Path, text, message):
    path = tmp_path / "a.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        read_config(path)
    with pytest.raises(ConfigError, match="does not exist"):
        read_config(tmp_path / "missing.toml")
