"""``redcat lift campaigns``: the hand-built holdout store through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.lift.test_campaign import hand_store

from redcat.cli.main import main


@pytest.fixture
def store(tmp_path: Path) -> str:
    path = tmp_path / "s.duckdb"
    hand_store(path).close()
    return str(path)


def test_json_matches_the_hand_figures(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["lift", "campaigns", "--brand", "B1", "--days", "2", "--store", store, "--format", "json"]
    )
    out = capsys.readouterr()
    assert code == 0, out.err
    rows = json.loads(out.out)
    assert [r["campaign_id"] for r in rows] == ["C1"]
    r = rows[0]
    assert (r["n_test"], r["n_control"], r["orders_test"], r["gmv_test"]) == (4, 3, 3, 60.0)
    assert r["incremental_gmv"] == pytest.approx((15 - 10 / 3) * 4)


def test_table_and_csv(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lift", "campaigns", "--brand", "B1", "--days", "2", "--store", store]) == 0
    out = capsys.readouterr().out
    assert "C1" in out and "iROAS" in out
    assert (
        main(
            [
                "lift",
                "campaigns",
                "--brand",
                "B1",
                "--days",
                "3",
                "--store",
                store,
                "--format",
                "csv",
            ]
        )
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("campaign_id,")
    assert len(lines) == 2


def test_bad_control_share_is_one_line_error(
    store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["lift", "campaigns", "--brand", "B1", "--store", store, "--control-share", "1.5"])
    assert code == 2
    assert "control-share" in capsys.readouterr().err
