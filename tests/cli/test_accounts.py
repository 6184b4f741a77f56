"""``redcat accounts`` and ``redcat match load/report`` from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.match.world_files import write_world

from redcat.cli.main import main
from redcat.match.psi import PROTOCOL
from redcat.match.ship import PartyExport, match_and_ship_in_process

SECRET = bytes(range(32))


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_accounts_add_list_show_remove(tmp_path: Path, capsys):
    store = str(tmp_path / "s.duckdb")
    code, out, _ = run(
        capsys, "accounts", "add", "B1", "--name", "Acme", "--shop", "tmall:s1",
        "--shop", "jd:s2", "--store", store,
    )  # fmt: skip
    assert code == 0 and "2 shop(s)" in out
    code, _, err = run(capsys, "accounts", "add", "B1", "--store", store)
    assert code == 2 and "already has an account" in err
    code, out, _ = run(capsys, "accounts", "list", "--format", "json", "--store", store)
    assert json.loads(out) == [
        {"brand_id": "B1", "name": "Acme", "content_account": "B1", "shops": "jd:s2 tmall:s1"}
    ]
    code, out, _ = run(capsys, "accounts", "show", "B1", "--format", "csv", "--store", store)
    assert out.splitlines() == [
        "kind,retailer_id,id",
        "content_account,,B1",
        "shop,jd,s2",
        "shop,tmall,s1",
    ]
    code, _, err = run(capsys, "accounts", "show", "B9", "--store", store)
    assert code == 2 and "'B9' has no three-party account" in err
    code, _, err = run(capsys, "accounts", "add", "B2", "--shop", "tmall", "--store", store)
    assert code == 2 and "RETAILER:SHOP_ID" in err
    assert run(capsys, "accounts", "remove", "B1", "--store", store)[0] == 0
    code, out, _ = run(capsys, "accounts", "list", "--format", "csv", "--store", store)
    assert out.splitlines() == ["brand_id,name,content_account,shops"]


def test_accounts_load_from_toml(tmp_path: Path, capsys):
    store = str(tmp_path / "s.duckdb")
    config = tmp_path / "accounts.toml"
    config.write_text('[[brand]]\nid = "B1"\nshops = { tmall = ["s1", "s3"] }\n')
    code, out, _ = run(capsys, "accounts", "load", str(config), "--store", store)
    assert code == 0 and "loaded 1 account(s)" in out
    assert run(capsys, "accounts", "load", str(config), "--store", store)[0] == 2
    assert run(capsys, "accounts", "load", str(config), "--replace", "--store", store)[0] == 0


def test_match_load_and_report(tmp_path: Path, capsys):
    content_dir, retailers = write_world(tmp_path / "in")
    with (
        PartyExport("content", content_dir) as content,
        PartyExport("retailer", retailers["tmall"], "tmall") as tmall,
    ):
        match_and_ship_in_process(
            content, tmall, tmp_path / "c", tmp_path / "r", person_secret=SECRET, workers=1
        )
    store = str(tmp_path / "cr.duckdb")
    code, out, _ = run(
        capsys, "match", "load", str(tmp_path / "c"), str(tmp_path / "r"), "--store", store
    )
    assert code == 0 and "3 people" in out
    code, out, _ = run(capsys, "match", "report", "--format", "json", "--store", store)
    (row,) = json.loads(out)
    assert {k: row[k] for k in ("retailer_id", "content_users", "retailer_users")} == {
        "retailer_id": "tmall",
        "content_users": 4,
        "retailer_users": 4,
    }
    assert (row["matched_users"], row["match_rate"], row["share_user_key"]) == (3, 0.75, 1.0)
    assert f"{row['protocol']}/{row['protocol_version']}" == PROTOCOL
    code, out, _ = run(capsys, "match", "report", "--store", store)
    assert f"match report ({PROTOCOL})" in out
    cells = [c.strip() for c in next(x for x in out.splitlines() if "tmall" in x).split("│")]
    assert cells[1:6] == ["tmall", "4", "4", "3", "75.0%"] and cells[-2] == "user_key 100%"
    code, out, _ = run(capsys, "match", "report", "--format", "csv", "--store", store)
    assert out.splitlines()[0].startswith("retailer_id,content_users,retailer_users")
    code, _, err = run(capsys, "match", "load", str(tmp_path / "c"), "--store", store)
    assert code == 2 and "retailer side's shipment is missing" in err


def test_report_export_and_lift_are_scoped_to_accounts(tmp_path: Path, capsys):
    from tests.tiny_world import build

    from redcat.match import run_direct_match

    store = tmp_path / "s.duckdb"
    engine = build(store)
    run_direct_match(engine.duck, "salt")
    engine.close()
    out = str(tmp_path / "j.csv")
    at = ("--store", str(store))
    # no account in the store: single-tenant, nothing scoped
    assert run(capsys, "paths", "export", "--brand", "B2", "--out", out, *at)[0] == 0
    assert run(capsys, "accounts", "add", "B1", "--shop", "tmall:s1", *at)[0] == 0
    for args in (
        ["report", "--brand", "B2"],
        ["paths", "export", "--brand", "B2", "--out", out],
        ["lift", "campaigns", "--brand", "B2"],
    ):
        code, _, err = run(capsys, *args, *at)
        assert code == 2 and "'B2' has no three-party account" in err, args
    code, out_text, _ = run(capsys, "paths", "export", "--brand", "B1", "--out", out, *at)
    assert code == 0 and "wrote" in out_text
