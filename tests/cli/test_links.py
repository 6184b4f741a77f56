"""``redcat links``: create (note checked against the store), list, keys, report."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from redcat.cli.main import main


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("REDCAT_OPS_DB", f"sqlite:///{tmp_path / 'ops.db'}")
    store = tmp_path / "store.duckdb"
    con = duckdb.connect(str(store))
    con.execute("CREATE TABLE notes (note_id VARCHAR, brand_id VARCHAR)")
    con.execute("INSERT INTO notes VALUES ('n1', 'b1'), ('n2', 'b2')")
    con.close()
    monkeypatch.setenv("REDCAT_STORE", str(store))
    return tmp_path


def test_create_list_keys_report(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = "https://detail.tmall.com/item.htm?id=1"
    args = ["links", "create", "--brand", "b1", "--note", "n1", "--retailer", "tmall"]
    assert main([*args, "--url", url, "--format", "json"]) == 0
    [created] = json.loads(capsys.readouterr().out)
    assert created["destination"] == url and "/l/" in created["url"]
    # A note of another brand, an unknown note, a foreign host: one-line errors, status 2.
    assert main([*args[:3], "b2", *args[4:], "--url", url]) == 2
    assert "another brand" in capsys.readouterr().err
    assert main([*args[:5], "n9", *args[6:], "--url", url]) == 2
    assert "not in the store" in capsys.readouterr().err
    assert main([*args, "--url", "https://evil.example/"]) == 2
    assert "not allow-listed" in capsys.readouterr().err
    assert main(["links", "list", "--format", "json"]) == 0
    assert [r["link_id"] for r in json.loads(capsys.readouterr().out)] == [created["link_id"]]
    assert main(["links", "keys", "add", "--purpose", "postback", "--retailer", "tmall"]) == 0
    assert "secret (hex, shown once)" in capsys.readouterr().out
    assert main(["links", "keys", "list", "--format", "json"]) == 0
    keys = json.loads(capsys.readouterr().out)
    assert {(k["purpose"], k["status"]) for k in keys} == {
        ("ip", "active"),
        ("link", "active"),
        ("postback", "active"),
    }
    assert all("secret" not in k for k in keys)
    assert main(["links", "keys", "retire", "lk1"]) == 2  # the active key
    assert main(["links", "report", "--brand", "b1", "--format", "json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert (row["clicks"], row["orders"]) == (0, 0)


def test_brand_without_an_account_is_refused(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Once the store holds three-party accounts, only a brand with one gets links or figures.
    store = str(env / "store.duckdb")
    assert main(["accounts", "add", "b1", "--store", store]) == 0
    capsys.readouterr()
    url = "https://detail.tmall.com/item.htm?id=1"
    create = ["links", "create", "--retailer", "tmall", "--url", url, "--format", "json"]
    assert main([*create, "--brand", "b2", "--note", "n2"]) == 2
    assert "b2" in capsys.readouterr().err
    assert main(["links", "report", "--brand", "b2", "--format", "json"]) == 2
    assert "b2" in capsys.readouterr().err
    assert main([*create, "--brand", "b1", "--note", "n1"]) == 0
    [created] = json.loads(capsys.readouterr().out)
    assert main(["links", "report", "--brand", "b1", "--format", "json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert (row["link_id"], row["clicks"], row["orders"]) == (created["link_id"], 0, 0)
