"""`redcat users`, `redcat tokens` and `redcat refresh` through the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.web.conftest import World

from redcat.cli.main import main
from redcat.store import auth as store_auth
from redcat.store.db import make_engine, session_factory
from redcat.web.snapshot import ALL, scopes_of


def test_users_and_tokens(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ops = f"sqlite:///{tmp_path / 'ops.db'}"
    args = ["--ops-db", ops]
    assert main(["users", "brand", "B9", "--name", "Nine", *args]) == 0
    assert main(["users", "add", "bob", "--brand", "B9", "--password", "bob-password", *args]) == 0
    assert main(["users", "add", "eve", "--brand", "B8", "--password", "eve-password", *args]) == 2
    assert main(["tokens", "create", "bob", "--name", "ci", *args]) == 0
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    assert secret.startswith(store_auth.TOKEN_PREFIX)
    with session_factory(make_engine(ops))() as db:
        principal = store_auth.resolve_token(db, secret)
        assert principal is not None and principal.brand_id == "B9"
        token_id = store_auth.list_tokens(db)[0][0].id
    assert main(["tokens", "list", *args]) == 0
    listed = capsys.readouterr().out
    assert "bob" in listed and secret not in listed
    assert main(["tokens", "revoke", str(token_id), *args]) == 0
    assert main(["tokens", "revoke", str(token_id), *args]) == 2
    assert main(["users", "list", *args]) == 0
    assert "user\tbob\tbrand_user\tB9" in capsys.readouterr().out


def test_refresh_one_brand(world: World, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    brand = world.brands[1]
    args = ["--store", str(world.config.store), "--reports", str(out), "--brand", brand]
    args += ["--ops-db", f"sqlite:///{tmp_path / 'ops.db'}"]  # the brand view's budget ledger
    assert main(["refresh", *args, "--no-per-retailer", "--view", "operator"]) == 0
    assert scopes_of(out, brand) == [ALL]
    assert scopes_of(out, world.brands[0]) == []
    # the brand view releases all retailers now and each retailer when the brand opens it
    assert main(["refresh", *args]) == 0
    assert scopes_of(out, brand) == [ALL, "jd", "tmall"]
    assert [p.name for p in (out / brand).iterdir()] == [ALL]
