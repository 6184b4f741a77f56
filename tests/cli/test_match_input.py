"""``redcat match serve/connect --input DIR``: the refusals that come before any network I/O
(the whole loopback run is in tests/match/test_leaks.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.match.world_files import loopback_alliance, write_world

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
        ("neither", "give --ids FILE, --input DIR, or both"),
        ("no-secret", "--person-secret FILE"),
        ("bad-retailer", "--party names the retailer"),
        ("not-empty", "must be a new or empty folder"),
        ("not-an-export", "must hold one party's export"),
        ("id-type", "--id-type needs --ids"),
    ],
)
def test_input_mode_refusals(tmp_path: Path, capsys, argv, case, message):
    content, retailers = write_world(tmp_path / "in")
    out = tmp_path / "ship"
    party, source = "content", ["--input", str(content)]
    extra: list[str] = ["--person-secret", str(tmp_path / "k")]
    if case == "neither":
        source = []
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


def test_input_with_an_ids_file_matches_on_a_waterfall(tmp_path: Path, capsys):
    """Over loopback TLS: each side's --ids file names its export users' phones and e-mails;
    u1 matches on phone, u2 on e-mail (its phone differs), u4 has no identifier on tmall."""
    content, retailers = write_world(tmp_path / "in")
    (tmp_path / "content-ids.csv").write_text(
        "user_key,phone,email\nu1,13800138001,\nu2,13800138002,two@example.com\nu4,13800138004,\n"
    )
    (tmp_path / "tmall-ids.csv").write_text(
        "user_key,phone,email\nu1,+86 138 0013 8001,\nu2,13900000002,TWO@example.com\n"
    )
    waterfall = ["--id-type", "phone=phone", "--id-type", "email=email"]
    extra = {
        name: ["--ids", str(tmp_path / f"{name}-ids.csv"), *waterfall]
        for name in ("content", "tmall")
    }
    clean_room = loopback_alliance(tmp_path, content, {"tmall": retailers["tmall"]}, extra)
    capsys.readouterr()
    store = str(clean_room / "clean_room.duckdb")
    assert main(["match", "report", "--format", "json", "--store", store]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["content_users"], row["retailer_users"], row["matched_users"]) == (4, 4, 2)
    assert (row["share_phone"], row["share_email"]) == (0.5, 0.5)
