"""``redcat paths attribute``: path files in, one row per channel out; checked against
ChannelAttribution (GPL, a test-only reference)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import ChannelAttribution as ca
import numpy as np
import pandas as pd
import pytest

from redcat.attribution.pathfile import read_path_file
from redcat.cli.main import main
from redcat.errors import InputError

HEADER = "path;total_conversions;total_conversion_value;total_null\n"
SMALL = HEADER + "A > B > C;2;20;1\nB>A;1;30;0\nC;0;0;4\n"


def unwrapped(text: str) -> str:
    """Rich wraps stderr at 80 columns when it is not a terminal; compare without spaces."""
    return "".join(text.split())


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["paths", "attribute", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def write(tmp_path: Path, text: str, name: str = "paths.csv") -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_csv_output_has_a_header_and_one_row_per_channel(tmp_path, capsys):
    code, out, _ = run(capsys, "--input", write(tmp_path, SMALL), "--model", "first")
    assert code == 0
    assert out.splitlines() == [
        "channel,conversions,value",
        "A,2.0,20.0",
        "B,1.0,30.0",
        "C,0.0,0.0",
    ]


def test_json_output_is_a_list_of_objects(tmp_path, capsys):
    code, out, _ = run(
        capsys, "--input", write(tmp_path, SMALL), "--model", "position", "--format", "json"
    )
    assert code == 0
    rows = json.loads(out)
    assert [r["channel"] for r in rows] == ["A", "B", "C"]
    # A>B>C (2 conv, 20) gives 0.4/0.2/0.4; B>A (1 conv, 30) 0.5/0.5.
    assert [r["conversions"] for r in rows] == pytest.approx([1.3, 0.9, 0.8])
    assert [r["value"] for r in rows] == pytest.approx([23.0, 19.0, 8.0])


def test_markov_matches_the_hand_solution(tmp_path, capsys):
    # Chain of SMALL: start→A 3/8, →B 1/8, →C 1/2; A→B 3/4, A→conv 1/4; B→C 3/4, B→A 1/4;
    # C→conv 2/7, C→null 5/7. x_A = 46/91, x_B = 31/91, x_C = 2/7, x_start = 3/8.
    # Removing A: x_start = 19/112 → RE 23/42; B: 53/224 → RE 31/84; C: 1/8 → RE 2/3.
    code, out, _ = run(capsys, "--input", write(tmp_path, SMALL), "--model", "markov")
    assert code == 0
    got = pd.read_csv(io.StringIO(out))
    re = np.array([23 / 42, 31 / 84, 2 / 3])
    assert got["conversions"].to_numpy() == pytest.approx(3 * re / re.sum(), rel=1e-12)


@pytest.mark.parametrize("model", ["time_decay", "shapley", "linear", "last"])
def test_every_model_credits_all_conversions(tmp_path, capsys, model):
    code, out, _ = run(capsys, "--input", write(tmp_path, SMALL), "--model", model)
    assert code == 0
    got = pd.read_csv(io.StringIO(out))
    assert got["conversions"].sum() == pytest.approx(3.0)
    assert got["value"].sum() == pytest.approx(50.0)


def test_half_life_in_steps(tmp_path, capsys):
    text = HEADER + "A > B > C;7;70;0\n"
    args = ["--input", write(tmp_path, text), "--model", "time_decay", "--half-life", "1"]
    code, out, err = run(capsys, *args)
    assert code == 0
    assert pd.read_csv(io.StringIO(out))["conversions"].tolist() == pytest.approx([1, 2, 4])
    assert "half-life(1)countssteps" in unwrapped(err)


def test_order_auto_is_noted(tmp_path, capsys):
    args = ["--input", write(tmp_path, SMALL), "--model", "markov", "--order", "auto"]
    code, _, err = run(capsys, *args)
    assert code == 0
    assert "order auto chose" in err


def test_order_needs_markov(tmp_path, capsys):
    args = ["--input", write(tmp_path, SMALL), "--model", "linear", "--order", "2"]
    code, _, err = run(capsys, *args)
    assert code == 2
    assert "--order applies only" in err


def test_custom_separator_columns_and_missing_optional_columns(tmp_path, capsys):
    text = "journey,orders\nA>B,2\nB,1\n"
    args = [
        "--input", write(tmp_path, text), "--model", "linear", "--sep", ",",
        "--path-col", "journey", "--conv-col", "orders",
    ]  # fmt: skip
    code, out, err = run(capsys, *args)
    assert code == 0
    assert out.splitlines() == ["channel,conversions,value", "A,1.0,0.0", "B,2.0,0.0"]
    assert "'total_conversion_value'" in err and "'total_null'" in err


@pytest.mark.parametrize(
    ("body", "row", "field", "message"),
    [
        ("A > B;-1;0;0\n", 1, "total_conversions", "is negative"),
        ("A;1;5;0\n;1;0;0\n", 2, "path", "empty path"),
        ("A;1;5;0\nA > > B;1;0;0\n", 2, "path", "empty channel name"),
        ("A;one;5;0\n", 1, "total_conversions", "not a number"),
        ("A;1;5;\n", 1, "total_null", "not a number"),
        ("A;1;inf;0\n", 1, "total_conversion_value", "not a number"),
        ("A;0;5;1\n", 1, "total_conversion_value", "without conversions"),
    ],
)
def test_bad_rows_name_file_row_and_field(tmp_path, capsys, body, row, field, message):
    path = write(tmp_path, HEADER + body)
    with pytest.raises(InputError) as info:
        read_path_file(path)
    assert (info.value.file, info.value.row, info.value.field) == (path, row, field)
    assert message in str(info.value)
    code, _, err = run(capsys, "--input", path, "--model", "first")
    assert code == 2
    assert f"row{row},field'{field}'" in unwrapped(err)


def test_missing_column_and_file(tmp_path, capsys):
    path = write(tmp_path, "route;total_conversions\nA;1\n")
    with pytest.raises(InputError, match="missing column 'path'"):
        read_path_file(path)
    code, _, err = run(capsys, "--input", str(tmp_path / "nope.csv"), "--model", "first")
    assert code == 2
    assert "nosuchfile" in unwrapped(err)


# ---- Cross-checks against ChannelAttribution -------------------------------------------------


def generated_paths(seed: int = 1, n: int = 4000) -> pd.DataFrame:
    """A few thousand journeys over 8 channels with different lifts, aggregated by path.
    No consecutive repeats, so ChannelAttribution's order-k states equal ours."""
    rng = np.random.default_rng(seed)
    channels = list("ABCDEFGH")
    lift = dict(zip(channels, [0.02, 0.05, 0.08, 0.03, 0.12, 0.04, 0.06, 0.1], strict=True))
    rows = []
    for _ in range(n):
        length = int(rng.integers(1, 6))
        path = [str(rng.choice(channels))]
        while len(path) < length:
            c = str(rng.choice(channels))
            if c != path[-1]:
                path.append(c)
        rate = min(0.9, 0.02 + sum(lift[c] for c in set(path)))
        people = int(rng.integers(1, 20))
        conv = int(rng.binomial(people, rate))
        value = round(conv * float(rng.uniform(20, 80)), 2)
        rows.append((" > ".join(path), conv, value, people - conv))
    frame = pd.DataFrame(
        rows, columns=["path", "total_conversions", "total_conversion_value", "total_null"]
    )
    return frame.groupby("path", as_index=False).sum()


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[pd.DataFrame, str]:
    frame = generated_paths()
    path = tmp_path_factory.mktemp("ca") / "paths.csv"
    frame.to_csv(path, sep=";", index=False)
    return frame, str(path)


def ours(capsys, path: str, *args: str) -> pd.DataFrame:
    code, out, _ = run(capsys, "--input", path, *args)
    assert code == 0
    return pd.read_csv(io.StringIO(out)).set_index("channel")


@pytest.mark.parametrize(
    ("model", "column"),
    [("first", "first_touch"), ("last", "last_touch"), ("linear", "linear_touch")],
)
def test_heuristics_equal_channelattribution(generated, capsys, model, column):
    frame, path = generated
    ref = ca.heuristic_models(
        frame, "path", "total_conversions", var_value="total_conversion_value", flg_pro=False
    ).set_index("channel_name")
    got = ours(capsys, path, "--model", model)
    ref = ref.loc[got.index]
    # Equal up to floating-point round-off (the two add in different orders).
    np.testing.assert_allclose(got["conversions"], ref[f"{column}_conversions"], rtol=1e-12)
    np.testing.assert_allclose(got["value"], ref[f"{column}_value"], rtol=1e-12)


@pytest.mark.parametrize("order", [1, 2])
def test_markov_within_a_few_percent_of_channelattribution(generated, capsys, order):
    frame, path = generated
    # ChannelAttribution simulates; max_step well above the longest path keeps loops from
    # being cut off (its default, the longest observed path, biases removal effects).
    ref = ca.markov_model(
        frame,
        "path",
        "total_conversions",
        var_value="total_conversion_value",
        var_null="total_null",
        order=order,
        seed=1,
        nsim_start=1e6,
        max_step=100,
        verbose=False,
        flg_pro=False,
    ).set_index("channel_name")
    got = ours(capsys, path, "--model", "markov", "--order", str(order))
    ref = ref.loc[got.index]
    assert got["conversions"].sum() == pytest.approx(frame["total_conversions"].sum())
    np.testing.assert_allclose(got["conversions"], ref["total_conversions"], rtol=0.03)
    np.testing.assert_allclose(got["value"], ref["total_conversion_value"], rtol=0.03)
