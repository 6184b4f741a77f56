"""``redcat match serve/connect --input DIR``: the refusals that come before any network I/O
(the whole loopback run is in tests/match/test_leaks.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.match.world_files import write_world

from redcat.cli.main import main


@pytest.fixture
def argv(tmp_path: Path) -> list[str]:
    pem = tmp_path / "x.pem"
    pem.write_text("not used: every case fails before TLS")
    return [
        *("--peer", "127.0.0.1:9", "--cert", str(pem), "--key", str(pem), "--ca", str(pem)),
        *("--idle-timeout", "1"),
    ]


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("neither", "give either --ids FILE or --input DIR"),
        ("both", "give either --ids FILE or --input DIR"),
        ("no-secret", "--person-secret FILE"),
        ("bad-retailer", "--party names the retailer"),
        ("not-empty", "must be a new or empty folder"),
        ("not-an-export", "must hold one party's export"),
        ("id-type", "--id-type is for --ids"),
    ],
)
def test_input_mode_refusals(tmp_path: Path, capsys, argv, case, message):
    content, retailers = write_world(tmp_path / "in")
    out = tmp_path / "ship"
    party, source = "content", ["--input", str(content)]
    extra: list[str] = ["--person-secret", str(tmp_path / "k")]
    if case == "neither":
        source = []
    elif case == "both":
        source += ["--ids", str(content / "holdouts.csv")]
    elif case == "no-secret":
        extra = []
    elif case == "bad-retailer":
        party, source = "Tmall!", ["--input", str(retailers["tmall"])]
    elif case == "not-empty":
        out.mkdir()
        (out / "old").write_text("x")
    elif case == "not-an-export":
        source = ["--input", str(tmp_path)]
    elif case == "id-type":
        extra += ["--id-type", "phone"]
    code = main(["match", "connect", "--party", party, *source, "--out", str(out), *argv, *extra])
    err = capsys.readouterr().err
    assert code == 2 and message in " ".join(err.split()), err
    assert not (tmp_path / "k").exists()  # no secret made for a run that never started
    if case != "not-empty":
        assert not out.exists()
