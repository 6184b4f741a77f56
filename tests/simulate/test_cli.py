"""``redcat simulate`` end to end on a small world."""

from __future__ import annotations

import json
from pathlib import Path

from redcat.cli.main import main


def test_simulate_command_writes_a_world(tmp_path: Path, capsys) -> None:
    out = tmp_path / "world"
    args = ["simulate", "--out", str(out), "--users", "800", "--days", "5", "--brands", "2"]
    code = main([*args, "--retailers", "3", "--seed", "5", "--format", "parquet"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "content/content_events.parquet" in printed and "retailers/vip/shops.parquet" in printed
    meta = json.loads((out / "truth" / "world.json").read_text(encoding="utf-8"))
    assert meta["config"]["seed"] == 5 and meta["config"]["history_days"] == 60
    assert meta["format"] == "parquet"
    for rid in ("tmall", "jd", "vip"):
        assert (out / "retailers" / rid / "commerce_events.parquet").is_file()


def test_history_days_option(tmp_path: Path) -> None:
    out = tmp_path / "w"
    code = main(
        ["simulate", "--out", str(out), "--users", "300", "--days", "3", "--history-days", "7"]
    )
    assert code == 0
    first = (out / "retailers" / "tmall" / "commerce_events.csv").read_text().splitlines()[1]
    assert first.split(",")[3] >= "2026-04-24T00:00:00"  # 7 days before 2026-05-01


def test_bad_option_is_one_line_error(tmp_path: Path, capsys) -> None:
    assert main(["simulate", "--out", str(tmp_path / "w"), "--users", "0"]) == 2
    err = capsys.readouterr().err
    assert "users must be at least 1" in err and "Traceback" not in err


def test_refuses_foreign_directories(tmp_path: Path, capsys) -> None:
    (tmp_path / "content").mkdir()
    (tmp_path / "content" / "mine.txt").write_text("keep me")
    assert main(["simulate", "--out", str(tmp_path), "--users", "100", "--days", "2"]) == 2
    assert (tmp_path / "content" / "mine.txt").read_text() == "keep me"
    assert "did not write" in capsys.readouterr().err
