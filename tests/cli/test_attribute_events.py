"""``redcat attribute events``: user-level touches and conversions, windows, two output tables."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest

from redcat.cli.main import main

# u1: view a at 1000, click b at 2000, converts at 3000 (50); view c at 5000, converts at 6000
#     (20); view d at 9000 after the last conversion (null journey).
# u2: click a at 100 and converts at exactly 100: not eligible → unattributed (9).
# u3: view b at 10, never converts (null journey).
TOUCHES = (
    "user_id,ts,ad_id,is_click\n"
    "u1,1000,a,0\nu1,2000,b,true\nu1,5000,c,false\nu1,9000,d,0\nu2,100,a,1\nu3,10,b,0\n"
)
CONVERSIONS = "user_id,ts,value\nu1,3000,50\nu1,6000,20\nu2,100,9\n"


def unwrapped(text: str) -> str:
    return "".join(text.split())


def files(tmp_path: Path, touches: str = TOUCHES, conversions: str = CONVERSIONS) -> list[str]:
    t = tmp_path / "touches.csv"
    c = tmp_path / "conversions.csv"
    t.write_text(touches)
    c.write_text(conversions)
    return ["--touches", str(t), "--conversions", str(c)]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["attribute", "events", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def tables(out: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    first, second = out.strip("\n").split("\n\n")
    return pd.read_csv(io.StringIO(first)), pd.read_csv(io.StringIO(second))


def test_last_touch_csv_prints_both_tables(tmp_path, capsys):
    args = [*files(tmp_path), "--model", "last", "--click-window", "1h", "--view-window", "1h"]
    code, out, _ = run(capsys, *args)
    assert code == 0
    first, second = out.strip("\n").split("\n\n")
    assert first.splitlines() == [
        "user_id,conversion_ts,ad_id,touch_ts,is_click,credit,value",
        "u1,3000,a,1000,False,0.0,0.0",
        "u1,3000,b,2000,True,1.0,50.0",
        "u1,6000,c,5000,False,1.0,20.0",
        "u2,100,(unattributed),,,1.0,9.0",
    ]
    assert second.splitlines() == [
        "ad_id,conversions,value",
        "a,0.0,0.0",
        "b,1.0,50.0",
        "c,1.0,20.0",
        "d,0.0,0.0",
        "(unattributed),1.0,9.0",
    ]


def test_view_window_shorter_than_the_gap_drops_the_view(tmp_path, capsys):
    # With a 30-minute view window the view of a (2000 s before) no longer counts; the click
    # of b (1000 s before) still does under a 1-day click window.
    args = [*files(tmp_path), "--model", "linear", "--click-window", "1d", "--view-window", "30m"]
    code, out, _ = run(capsys, *args)
    assert code == 0
    per_conv, totals = tables(out)
    u1_first = per_conv[per_conv["conversion_ts"] == 3000]
    assert u1_first["ad_id"].tolist() == ["b"]
    assert u1_first["credit"].tolist() == [1.0]
    assert totals.set_index("ad_id")["conversions"].to_dict() == {
        "a": 0.0, "b": 1.0, "c": 1.0, "d": 0.0, "(unattributed)": 1.0,
    }  # fmt: skip


def test_exact_window_edge_is_eligible(tmp_path, capsys):
    touches = "user_id,ts,ad_id,is_click\nu,0,early,0\nu,1,edge,0\n"
    conversions = "user_id,ts,value\nu,3601,5\n"
    args = [*files(tmp_path, touches, conversions), "--model", "first", "--view-window", "1h"]
    code, out, _ = run(capsys, *args)
    assert code == 0
    per_conv, _ = tables(out)
    assert per_conv["ad_id"].tolist() == ["edge"]


@pytest.mark.parametrize("model", ["position", "time_decay", "markov", "shapley", "first"])
def test_every_model_credits_every_conversion(tmp_path, capsys, model):
    code, out, err = run(capsys, *files(tmp_path), "--model", model)
    assert code == 0
    per_conv, totals = tables(out)
    assert totals["conversions"].sum() == pytest.approx(3.0)
    assert totals["value"].sum() == pytest.approx(79.0)
    assert per_conv.groupby(["user_id", "conversion_ts"])["credit"].sum().tolist() == (
        pytest.approx([1.0, 1.0, 1.0])
    )
    if model == "markov":
        assert "removal effects" in err


def test_json_output(tmp_path, capsys):
    code, out, _ = run(capsys, *files(tmp_path), "--model", "last", "--format", "json")
    assert code == 0
    payload = json.loads(out)
    assert set(payload) == {"conversions", "totals"}
    assert payload["conversions"][-1] == {
        "user_id": "u2",
        "conversion_ts": 100,
        "ad_id": "(unattributed)",
        "touch_ts": None,
        "is_click": None,
        "credit": 1.0,
        "value": 9.0,
    }
    assert payload["totals"][-1] == {"ad_id": "(unattributed)", "conversions": 1.0, "value": 9.0}


def test_output_dir_writes_two_files(tmp_path, capsys):
    out_dir = tmp_path / "out"
    args = [*files(tmp_path), "--model", "linear", "--output-dir", str(out_dir)]
    code, out, err = run(capsys, *args)
    assert code == 0
    assert out == ""
    assert pd.read_csv(out_dir / "totals.csv")["conversions"].sum() == pytest.approx(3.0)
    assert list(pd.read_csv(out_dir / "conversions.csv").columns) == [
        "user_id", "conversion_ts", "ad_id", "touch_ts", "is_click", "credit", "value",
    ]  # fmt: skip
    assert "totals.csv" in unwrapped(err)


@pytest.mark.parametrize(
    ("touches", "conversions", "extra", "message"),
    [
        ("user_id,ts,ad_id,is_click\nu,1,a,yes\n", CONVERSIONS, [], "row1,field'is_click'"),
        ("user_id,ts,ad_id,is_click\nu,x,a,1\n", CONVERSIONS, [], "row1,field'ts'"),
        (TOUCHES, "user_id,ts,value\nu,1,-3\n", [], "row1,field'value'"),
        ("user_id,ts,is_click\nu,1,1\n", CONVERSIONS, [], "field'ad_id'"),
        (TOUCHES, CONVERSIONS, ["--click-window", "2w"], "notaduration"),
        (TOUCHES, CONVERSIONS, ["--order", "2"], "--orderappliesonly"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, touches, conversions, extra, message):
    args = [*files(tmp_path, touches, conversions), "--model", "last", *extra]
    code, _, err = run(capsys, *args)
    assert code == 2
    assert message in unwrapped(err)
