"""End to end through the CLI: `redcat demo` on a small world."""

import re

from redcat.cli.main import main


def test_demo_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    code = main(
        [
            "demo",
            "--out",
            str(out),
            "--users",
            "3000",
            "--days",
            "20",
            "--brands",
            "2",
            "--retailers",
            "2",
            "--seed",
            "3",
            "--lang",
            "en",
        ]
    )
    text = capsys.readouterr().out
    assert code == 0, text
    assert "Attribution vs causal truth across 2 brands" in text
    # the demo is the operator's and says which view it prints
    flat = " ".join(text.split())  # the terminal wraps long lines
    assert "Below: the operator view — exact figures, for the clean-room operator only" in flat
    assert "View: exact — clean-room operator only" in flat
    assert re.search(r"Closest to causal truth: \S.* \(WAPE [\d.]+%\)", text)
    for model in (
        "First touch",
        "Last touch",
        "Linear",
        "Position",
        "Time decay",
        "Markov",
        "Shapley",
    ):
        assert model in text
    for brand in ("B01", "B02"):
        assert (out / "reports" / brand / "report.html").is_file()
        assert (out / "reports" / brand / "report.en.html").is_file()
    assert re.search(r"matched [\d,]+ people .*PSI", text)
    assert (out / "clean-room" / "shipments").is_dir()  # the parties' pseudonymous shipments
    assert (out / "redcat.duckdb").is_file()


def test_demo_direct_match(tmp_path, capsys):
    out = tmp_path / "demo"
    args = ["demo", "--out", str(out), "--users", "1500", "--days", "10", "--brands", "1"]
    assert main([*args, "--retailers", "1", "--direct", "--lang", "en"]) == 0
    text = capsys.readouterr().out
    assert re.search(r"matched [\d,]+ people .*direct match on raw keys", text)
    assert not (out / "clean-room").exists()
