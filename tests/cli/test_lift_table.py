"""``redcat lift table``: JSON/CSV output, options, one-line errors, the Hillstrom experiment."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest

from redcat.cli.lift import compact
from redcat.cli.main import main
from redcat.lift.table import LiftOptions, lift_table, read_table

HILLSTROM = (
    Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "hillstrom" / ("hillstrom.csv")
)
SMALL = "arm,y\nt,1\nt,2\nt,3\nt,4\nc,2\nc,4\nc,6\nc,8\nu,5\nu,7\n"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["lift", "table", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def small(tmp_path: Path, text: str = SMALL) -> str:
    path = tmp_path / "small.csv"
    path.write_text(text)
    return str(path)


def test_json_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--input", small(tmp_path), "--arm-col", "arm", "--control", "c", "--outcome", "y"]
    code, out, err = run(capsys, *args, "--format", "json")
    assert code == 0, err
    rows = json.loads(out)
    assert [(r["arm"], r["outcome"]) for r in rows] == [("t", "y"), ("u", "y")]
    t = rows[0]
    assert (t["n_test"], t["n_control"], t["abs_lift"], t["rel_lift"]) == (4, 4, -2.5, -0.5)
    assert t["incremental_total"] == -10.0
    assert t["underpowered"] is True and t["srm"] is False
    assert "abs_lift_boot_low" not in t


def test_options_test_bootstrap_ratio_alpha_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--input", small(tmp_path), "--arm-col", "arm", "--control", "c", "--outcome", "y"]
    extra = ["--test", "u", "--bootstrap", "100", "--seed", "3", "--expected-ratio", "1:2"]
    code, out, err = run(capsys, *args, *extra, "--alpha", "0.1", "--format", "csv")
    assert code == 0, err
    frame = pd.read_csv(io.StringIO(out))
    assert list(frame["arm"]) == ["u"]
    assert frame.loc[0, "srm_chi2"] == 0.0
    assert frame.loc[0, "abs_lift_boot_low"] <= frame.loc[0, "abs_lift_boot_high"]
    code2, out2, _ = run(capsys, *args, *extra, "--alpha", "0.1", "--format", "csv")
    assert (code2, out2) == (0, out)  # seeded bootstrap: same output
    code3, default_alpha, _ = run(capsys, *args, "--test", "u", "--format", "csv")
    at95 = pd.read_csv(io.StringIO(default_alpha))
    width90 = frame.loc[0, "abs_lift_high"] - frame.loc[0, "abs_lift_low"]
    width95 = at95.loc[0, "abs_lift_high"] - at95.loc[0, "abs_lift_low"]
    assert code3 == 0 and 0 < width90 < width95


def test_table_format_prints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--input", small(tmp_path), "--arm-col", "arm", "--control", "c", "--outcome", "y"]
    code, out, _ = run(capsys, *args)
    assert code == 0 and "lift over 'c'" in out


def test_compact_view(tmp_path: Path) -> None:
    path = Path(small(tmp_path))
    result = lift_table(
        read_table(path), arm_col="arm", control="c", outcomes=["y"], options=LiftOptions()
    )
    view = compact(result).iloc[0]
    assert (view["mean_test"], view["abs_lift"], view["rel_lift"]) == ("2.5", "-2.5", "-50.0%")
    assert view["flags"] == "underpowered"
    low, high = result.loc[0, ["abs_lift_low", "abs_lift_high"]]
    assert view["abs_lift CI"] == f"{low:.5g} … {high:.5g}"


@pytest.mark.parametrize(
    ("text", "extra", "words"),
    [
        (SMALL.replace("c,6", "c,six"), [], "row 7, field 'y': outcome value 'six'"),
        (SMALL, ["--control", "x"], "field 'arm': control value 'x' not present"),
        (SMALL + "w,1\n", [], "arm 'w' has 1 unit(s)"),
        (SMALL, ["--outcome", "nope"], "field 'nope': outcome column not found"),
        (SMALL, ["--expected-ratio", "1"], "expected ratio must look like test:control"),
    ],
)
def test_errors_are_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    text: str,
    extra: list[str],
    words: str,
) -> None:
    path = small(tmp_path, text)
    base = {"--arm-col": "arm", "--control": "c", "--outcome": "y"}
    for i in range(0, len(extra), 2):
        base[extra[i]] = extra[i + 1]
    args = [x for kv in base.items() for x in kv]
    code, out, err = run(capsys, "--input", path, *args, "--format", "json")
    assert code == 2 and out == ""
    assert words in " ".join(err.split())
    assert "Traceback" not in err


@pytest.mark.skipif(not HILLSTROM.is_file(), reason="hillstrom.csv not present")
def test_hillstrom_json(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--input", str(HILLSTROM), "--arm-col", "segment", "--control", "No E-Mail"]
    outs = ["--outcome", "visit", "--outcome", "conversion", "--outcome", "spend"]
    code, out, err = run(capsys, *args, *outs, "--format", "json")
    assert code == 0, err
    got = {(r["arm"], r["outcome"]): r for r in json.loads(out)}
    assert round(got["Mens E-Mail", "visit"]["mean_test"], 5) == 0.18276
    assert round(got["Womens E-Mail", "spend"]["mean_test"], 5) == 1.07720
    assert round(got["Mens E-Mail", "conversion"]["mean_control"], 5) == 0.00573
    assert got["Mens E-Mail", "visit"]["abs_lift_low"] > 0
