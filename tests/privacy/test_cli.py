"""``redcat privacy budget`` and ``redcat privacy release`` on a small simulated world."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from redcat.cli.main import main
from redcat.store import auth as store_auth
from redcat.store.db import open_store, session_scope


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def _budget(capsys: pytest.CaptureFixture[str], ops: str, brand: str) -> dict[str, str]:
    code, out, err = run(capsys, "privacy", "budget", "--brand", brand, "--ops-db", ops,
                         "--format", "json")  # fmt: skip
    assert code == 0, err
    return {row["item"]: row["value"] for row in json.loads(out)}


def test_release_spends_once_and_budget_shows_it(
    world_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ops = f"sqlite:///{tmp_path / 'ops.db'}"
    before = _budget(capsys, ops, "B01")
    assert before["epsilon remaining"] == "10.0" and before["table releases left"] == "10"
    args = ("privacy", "release", "--brand", "B01", "--store", str(world_store), "--ops-db", ops)
    code, out, err = run(capsys, *args, "--format", "json")
    assert code == 0, err
    first = json.loads(out)
    assert first and "value" not in first[0]  # exact values never leave
    assert {r["measure"] for r in first} == {"buyers", "orders", "gmv"}
    assert all(r["mode"] == "noisy" for r in first)
    after = _budget(capsys, ops, "B01")
    assert after["epsilon spent"] == "1.0" and after["table releases left"] == "9"
    code, out, _ = run(capsys, *args, "--format", "json")
    assert json.loads(out) == first  # the stored answer, nothing spent
    assert _budget(capsys, ops, "B01")["epsilon spent"] == "1.0"
    assert _budget(capsys, ops, "B02")["epsilon spent"] == "0.0"
    code, out, _ = run(capsys, "privacy", "budget", "--brand", "B01", "--ops-db", ops,
                       "--history", "--format", "json")  # fmt: skip
    (record,) = json.loads(out)
    assert (record["query"], record["kind"], record["epsilon"]) == ("notes.orders", "table", 1.0)
    code, out, _ = run(capsys, *args)
    text = " ".join(out.split())
    assert code == 0 and "<50" in text and "stored answer, nothing spent" in text


def test_exhausted_budget_is_one_line_refusal(
    world_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ops = f"sqlite:///{tmp_path / 'ops.db'}"
    from redcat.privacy.ledger import BudgetLedger

    BudgetLedger.open(ops).set_budget("B01", 0.5)
    code, _, err = run(capsys, "privacy", "release", "--brand", "B01", "--store",
                       str(world_store), "--ops-db", ops)  # fmt: skip
    assert code == 2
    assert "privacy budget of brand 'B01'" in err and "nothing was spent" in err
    assert "Traceback" not in err


def test_token_of_another_brand_is_refused(
    world_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ops = f"sqlite:///{tmp_path / 'ops.db'}"
    engine, sessions = open_store(ops)
    with session_scope(sessions) as db:
        store_auth.add_brand(db, "B01")
        store_auth.add_user(db, "acme", "pw-123456789", store_auth.ROLE_BRAND_USER, "B01")
        token = store_auth.create_token(db, "acme", "cli")[0]
    engine.dispose()
    code, _, err = run(capsys, "privacy", "budget", "--brand", "B02", "--ops-db", ops,
                       "--token", token)  # fmt: skip
    assert code == 2 and "may not read brand 'B02'" in err
    code, _, _ = run(capsys, "privacy", "budget", "--brand", "B01", "--ops-db", ops,
                     "--token", token)  # fmt: skip
    assert code == 0
    code, _, err = run(capsys, "privacy", "budget", "--brand", "B01", "--ops-db", ops,
                       "--token", "rct_nope")  # fmt: skip
    assert code == 2 and "unknown, revoked or expired" in err


def test_release_brand_totals(
    world_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ops = f"sqlite:///{tmp_path / 'ops.db'}"
    code, out, err = run(capsys, "privacy", "release", "--brand", "B02", "--table", "brand",
                         "--store", str(world_store), "--ops-db", ops)  # fmt: skip
    assert code == 0, err
    text = " ".join(out.split())
    assert "brand totals" in text and "purchase_rate" in text and "ε 0.5" in text
    assert _budget(capsys, ops, "B02")["kpi releases left"] == "19"
