"""``redcat assets``: the hand-made asset world through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.assets.hand_world import build_store
from tests.assets.test_measures import COMMERCE, CONTENT

from redcat.cli.main import main


@pytest.fixture
def store(tmp_path: Path) -> str:
    path = tmp_path / "s.duckdb"
    build_store(CONTENT, COMMERCE, path).close()
    return str(path)


def run(store: str, *args: str) -> list[str]:
    return ["assets", "--brand", "B1", "--store", store, "--from", "2026-05-02", "--to",
            "2026-05-06", *args]  # fmt: skip


def test_json_holds_every_view(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(run(store, "--format", "json")) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["from"], doc["to"], doc["population"]) == ("2026-05-02", "2026-05-06", 6)
    # Default windows (aware 90, interest 60, purchased 365 days): nothing decays in 5 days.
    summary = {r["stage"]: (r["users_start"], r["users_end"]) for r in doc["summary"]}
    assert summary == {
        "none": (2, 2),  # e, z
        "A": (1, 0),  # b, who then searches (I)
        "I": (2, 2),  # a, d; then b, d (d's interest lasts 60 days)
        "P": (1, 1),  # c
        "S": (0, 1),  # a wrote u1 after ordering
    }
    assert sum(r["users"] for r in doc["flows"]) == 6
    assert doc["i_to_p"] == {"interest_users": 3, "converted_users": 1, "rate": 1 / 3}
    notes = {r["note_id"]: (r["A"], r["I"], r["P"], r["S"]) for r in doc["notes"]}
    # a: I via n1's like, P credited to it, S via u1; b: A via n2; d: I via u2.
    assert notes == {"n1": (0, 1, 1, 0), "n2": (1, 0, 0, 0), "u1": (0, 0, 0, 1),
                     "u2": (0, 1, 0, 0)}  # fmt: skip


def test_table_and_csv(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(run(store)) == 0
    out = capsys.readouterr().out
    assert "I→P" in out and "流转" in out
    assert main(run(store, "--format", "csv", "--view", "flows")) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "from_stage,to_stage,users"
    assert len(lines) == 26


def test_errors_are_one_line(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(run(store, "--format", "csv")) == 2
    assert "--view" in capsys.readouterr().err
    assert main(["assets", "--brand", "B1", "--store", store, "--from", "May 2"]) == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err
    assert main(["assets", "--brand", "B9", "--store", store]) == 2
    assert "B9" in capsys.readouterr().err
