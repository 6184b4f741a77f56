"""The generic lift table: rows, columns, input errors, and the Hillstrom e-mail experiment."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from redcat.errors import ConfigError, InputError
from redcat.lift.table import (
    BOOTSTRAP_COLUMNS,
    LIFT_COLUMNS,
    LiftOptions,
    lift_table,
    parse_ratio,
    read_table,
)

HILLSTROM = (
    Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "hillstrom" / ("hillstrom.csv")
)

SMALL = "arm,y,z\nt,1,0\nt,2,1\nt,3,0\nt,4,1\nc,2,0\nc,4,0\nc,6,1\nc,8,0\nu,5,1\nu,7,1\n"


def small(tmp_path: Path, text: str = SMALL, name: str = "small.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def table(path: Path, **kw: object) -> pd.DataFrame:
    args: dict[str, object] = {"arm_col": "arm", "control": "c", "outcomes": ["y"]}
    args.update(kw)
    return lift_table(read_table(path), source=str(path), **args)  # type: ignore[arg-type]


def test_rows_and_known_answer(tmp_path: Path) -> None:
    out = table(small(tmp_path), outcomes=["y", "z"])
    assert list(out.columns) == list(LIFT_COLUMNS)
    assert list(zip(out["arm"], out["outcome"], strict=True)) == [
        ("t", "y"),
        ("t", "z"),
        ("u", "y"),
        ("u", "z"),
    ]
    ty = out.iloc[0]
    # 1,2,3,4 vs 2,4,6,8: diff −2.5, rel −0.5, total −2.5·4 (see test_stats for the df by hand)
    assert (ty.n_test, ty.n_control, ty.mean_test, ty.mean_control) == (4, 4, 2.5, 5.0)
    assert (ty.abs_lift, ty.rel_lift, ty.incremental_total) == (-2.5, -0.5, -10.0)
    assert ty.incremental_low == pytest.approx(4 * ty.abs_lift_low)
    # both arms 4 units at 1:1 → chi2 0; 2 vs 4 units: chi2 = 2·1²/3 = 2/3
    assert ty.srm_chi2 == 0.0 and ty.srm_p_value == 1.0 and not ty.srm
    assert out.iloc[2].srm_chi2 == pytest.approx(2 / 3)
    # 4 units per arm cannot detect a 10% change: CI includes 0 → underpowered
    assert bool(ty.underpowered) is True


def test_selected_tests_and_expected_ratio(tmp_path: Path) -> None:
    out = table(small(tmp_path), tests=["u"], options=LiftOptions(expected_ratio=(1.0, 2.0)))
    assert list(out["arm"]) == ["u"]
    # 2 vs 4 units at 1:2 is exactly the expected split
    assert out.iloc[0].srm_chi2 == 0.0


def test_bootstrap_columns_deterministic(tmp_path: Path) -> None:
    opts = LiftOptions(bootstrap=200, seed=5)
    one = table(small(tmp_path), options=opts)
    two = table(small(tmp_path), options=opts)
    assert list(one.columns) == [*LIFT_COLUMNS, *BOOTSTRAP_COLUMNS]
    pd.testing.assert_frame_equal(one, two)
    assert (one["abs_lift_boot_low"] <= one["abs_lift_boot_high"]).all()


def test_parquet_input(tmp_path: Path) -> None:
    frame = pd.read_csv(small(tmp_path))
    path = tmp_path / "small.parquet"
    frame.to_parquet(path)
    pd.testing.assert_frame_equal(table(path), table(small(tmp_path)))


@pytest.mark.parametrize(
    ("text", "kw", "row", "field", "words"),
    [
        (SMALL, {"arm_col": "group"}, None, "group", "arm column not found"),
        (SMALL, {"outcomes": ["spend"]}, None, "spend", "outcome column not found"),
        (SMALL.replace("c,6,1", "c,six,1"), {}, 7, "y", "'six' is not a finite number"),
        (SMALL.replace("c,6,1", "c,,1"), {}, 7, "y", "not a finite number"),
        (SMALL, {"control": "x"}, None, "arm", "control value 'x' not present"),
        (SMALL, {"tests": ["v"]}, None, "arm", "test value 'v' not present"),
        (SMALL + "w,1,1\n", {}, None, "arm", "arm 'w' has 1 unit(s)"),
        (SMALL.replace("t,2,1", ",2,1"), {}, 2, "arm", "arm value is empty"),
    ],
)
def test_bad_input_names_file_row_field(
    tmp_path: Path,
    text: str,
    kw: dict[str, object],
    row: int | None,
    field: str,
    words: str,
) -> None:
    path = small(tmp_path, text)
    with pytest.raises(InputError) as err:
        table(path, **kw)
    assert (err.value.file, err.value.row, err.value.field) == (str(path), row, field)
    assert words in str(err.value)


def test_bad_value_in_an_uncompared_arm_is_ignored(tmp_path: Path) -> None:
    out = table(small(tmp_path, SMALL.replace("u,5,1", "u,five,1")), tests=["t"])
    assert list(out["arm"]) == ["t"]


def test_missing_file_and_bad_options(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_table(tmp_path / "absent.csv")
    with pytest.raises(ConfigError):
        LiftOptions(alpha=1.5)
    with pytest.raises(ConfigError):
        LiftOptions(bootstrap=-1)
    assert parse_ratio("90:10") == (90.0, 10.0)
    for bad in ("1", "a:b", "1:0", "1:2:3", "-1:1"):
        with pytest.raises(ConfigError):
            parse_ratio(bad)


# --- Hillstrom (MineThatData e-mail experiment, 64,000 customers) ---------------------------

needs_hillstrom = pytest.mark.skipif(not HILLSTROM.is_file(), reason="hillstrom.csv not present")

# Published group figures: arm → (visit rate, conversion rate, spend per customer)
PUBLISHED = {
    "Mens E-Mail": (0.18276, 0.01253, 1.42262),
    "Womens E-Mail": (0.15140, 0.00884, 1.07720),
    "No E-Mail": (0.10617, 0.00573, 0.65279),
}
OUTCOMES = ["visit", "conversion", "spend"]


@pytest.fixture(scope="module")
def hillstrom() -> tuple[pd.DataFrame, pd.DataFrame]:
    raw = pd.read_csv(HILLSTROM)
    out = lift_table(
        read_table(HILLSTROM),
        arm_col="segment",
        control="No E-Mail",
        outcomes=OUTCOMES,
        source=str(HILLSTROM),
    )
    return raw, out


@needs_hillstrom
def test_hillstrom_published_means(hillstrom: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, out = hillstrom
    assert len(out) == 6
    counts = dict(zip(out["arm"], out["n_test"], strict=True))
    assert counts == {"Mens E-Mail": 21_307, "Womens E-Mail": 21_387}
    assert set(out["n_control"]) == {21_306}
    assert 21_307 + 21_387 + 21_306 == 64_000
    for row in out.itertuples():
        k = OUTCOMES.index(row.outcome)
        assert round(row.mean_test, 5) == PUBLISHED[row.arm][k]
        assert round(row.mean_control, 5) == PUBLISHED["No E-Mail"][k]


@needs_hillstrom
def test_hillstrom_agrees_with_scipy(hillstrom: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    raw, out = hillstrom
    control = raw[raw["segment"] == "No E-Mail"]
    for row in out.itertuples():
        xt = raw.loc[raw["segment"] == row.arm, row.outcome].to_numpy(float)
        xc = control[row.outcome].to_numpy(float)
        ref = sps.ttest_ind(xt, xc, equal_var=False)
        ci = ref.confidence_interval(0.95)
        assert row.abs_lift_low == pytest.approx(ci.low, rel=1e-10)
        assert row.abs_lift_high == pytest.approx(ci.high, rel=1e-10)
        assert row.p_value == pytest.approx(ref.pvalue, rel=1e-8, abs=1e-300)
        # statsmodels CompareMeans(...).tconfint_diff(usevar="unequal"), by hand:
        vt, vc = xt.var(ddof=1) / xt.size, xc.var(ddof=1) / xc.size
        df = (vt + vc) ** 2 / (vt**2 / (xt.size - 1) + vc**2 / (xc.size - 1))
        half = sps.t.ppf(0.975, df) * math.sqrt(vt + vc)
        d = xt.mean() - xc.mean()
        assert (row.abs_lift_low, row.abs_lift_high) == pytest.approx((d - half, d + half))
        # delta method for the ratio of two independent means
        mt, mc = xt.mean(), xc.mean()
        se_r = math.sqrt(vt / mc**2 + mt**2 * vc / mc**4)
        assert row.rel_lift_low == pytest.approx(mt / mc - 1 - 1.959963984540054 * se_r)
        assert row.incremental_total == pytest.approx(d * xt.size)
        assert not row.srm and not row.underpowered


@needs_hillstrom
def test_hillstrom_bootstrap_close_to_welch() -> None:
    out = lift_table(
        read_table(HILLSTROM),
        arm_col="segment",
        control="No E-Mail",
        tests=["Mens E-Mail"],
        outcomes=["visit"],
        options=LiftOptions(bootstrap=300, seed=11),
        source=str(HILLSTROM),
    ).iloc[0]
    assert out.abs_lift_boot_low == pytest.approx(out.abs_lift_low, abs=0.002)
    assert out.abs_lift_boot_high == pytest.approx(out.abs_lift_high, abs=0.002)
    assert np.isfinite(out.rel_lift_boot_low)
