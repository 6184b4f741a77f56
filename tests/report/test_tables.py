import io

import pandas as pd
import pytest
from rich.console import Console

from redcat.errors import ConfigError
from redcat.report.data import KPI_KEYS
from redcat.report.tables import (
    closest_sentence,
    export_csv,
    frames_for_csv,
    funnel_view,
    kpi_view,
    model_view,
    print_report,
    top_notes_view,
)


def _printed(data, lang, width=220):
    buf = io.StringIO()
    print_report(data, Console(file=buf, width=width, color_system=None), lang)
    return buf.getvalue()


def test_kpi_view_exact_cells(small):
    rows = dict(kpi_view(small, "zh").rows)
    assert len(rows) == len(KPI_KEYS)
    assert rows["花费"] == "¥1,500.00"
    assert rows["曝光人数"] == "8,000"
    assert rows["点击率"] == "8.00%"
    assert rows["回搜率"] == "2.00%"
    assert rows["进店成本"] == "¥15.00"
    assert rows["成交金额 GMV"] == "¥4,500.50"
    assert rows["ROI"] == "3.00"
    en = dict(kpi_view(small, "en").rows)
    assert en["Reach"] == "8,000" and en["Visit rate"] == "1.25%" and en["GMV"] == "¥4,500.50"


def test_missing_kpi_shows_a_dash(small):
    import dataclasses

    data = dataclasses.replace(small, kpis={**small.kpis, "roi": None, "cost_per_visit": None})
    rows = dict(kpi_view(data, "en").rows)
    assert rows["ROI"] == "—" and rows["Cost per visit"] == "—"


def test_funnel_view_rows(small):
    view = funnel_view(small, "zh")
    assert [c.header for c in view.columns] == ["环节", "人数", "环节转化率", "占曝光人数"]
    assert view.rows[0] == ("曝光", "8,000", "—", "100.00%")
    assert view.rows[3] == ("回搜", "160", "80.00%", "2.00%")
    assert view.rows[6] == ("成交", "25", "62.50%", "0.31%")
    assert funnel_view(small, "en").rows[4][0] == "Store visit"


def test_top_notes_are_ordered_by_orders_and_labelled(small, hostile_title):
    view = top_notes_view(small, "en", top=2)
    assert [r[0] for r in view.rows] == ["春季新品测评", hostile_title]
    assert view.rows[0][2] == "Partnership"
    assert view.rows[1][-1] == "2.50"  # ROI 1500.5 / 600
    assert view.caption == "2 of 3 notes shown"
    assert top_notes_view(small, "zh").title == "笔记表现 Top 3（按成交订单）"


def test_model_view_names_and_highlights_the_lowest_wape(small):
    view = model_view(small, "zh")
    assert [r[0] for r in view.rows] == ["首次触点", "末次触点", "线性", "马尔可夫链"]
    assert view.rows[3] == ("马尔可夫链", "19.0", "11.8%", "1")
    assert view.highlight == frozenset({3})
    assert view.caption == "最接近因果真值的模型：马尔可夫链（WAPE 11.8%）"
    assert closest_sentence(small, "en") == "Closest to causal truth: Markov chain (WAPE 11.8%)"


def test_model_view_without_truth_drops_wape_and_says_why(small_no_truth):
    view = model_view(small_no_truth, "en")
    assert [c.key for c in view.columns] == ["model", "credited_orders"]
    assert view.highlight == frozenset()
    assert view.caption.startswith("No causal ground truth")
    assert "Closest" not in _printed(small_no_truth, "en")
    assert "无因果真值" in _printed(small_no_truth, "zh")


def test_print_report_in_both_languages(small):
    zh = _printed(small, "zh")
    for needle in (
        "核心指标",
        "转化漏斗",
        "回搜",
        "¥4,500.50",
        "最接近因果真值的模型：马尔可夫链（WAPE 11.8%）",
        "Markov fell back",
    ):
        assert needle in zh
    en = _printed(small, "en")
    assert "Closest to causal truth: Markov chain (WAPE 11.8%)" in en
    assert "Brand: brand_a · Period: 2025-05-01 to 2025-05-03 · Retailers: tmall, jd" in en


def test_rich_markup_in_titles_prints_literally(small):
    assert "[red]日常分享[/red]" in _printed(small, "zh")


def test_unknown_language_is_a_config_error(small):
    with pytest.raises(ConfigError):
        _printed(small, "fr")


def test_frames_for_csv_names_and_kpis(small, small_no_truth):
    frames = frames_for_csv(small)
    assert list(frames) == [
        "kpis",
        "funnel",
        "daily",
        "notes",
        "creators",
        "campaigns",
        "credits",
        "model_scores",
        "truth",
    ]
    assert list(frames["kpis"]["metric"]) == list(KPI_KEYS)
    assert frames["kpis"].set_index("metric")["value"]["gmv"] == 4500.5
    assert "truth" not in frames_for_csv(small_no_truth)


def _read_back(path, like):
    back = pd.read_csv(path, encoding="utf-8-sig", keep_default_na=True)
    if "date" in like.columns:
        back["date"] = pd.to_datetime(back["date"]).dt.date
    return back


def test_export_csv_round_trips_every_frame_exactly(small, tmp_path, hostile_title):
    paths = export_csv(small, tmp_path / "out")
    assert [p.name for p in paths] == [
        "kpis.csv",
        "funnel.csv",
        "daily.csv",
        "notes.csv",
        "creators.csv",
        "campaigns.csv",
        "credits.csv",
        "model_scores.csv",
        "truth.csv",
    ]
    assert paths[0].read_bytes().startswith(b"\xef\xbb\xbfmetric,value")
    for path, (name, frame) in zip(paths, frames_for_csv(small).items(), strict=True):
        back = _read_back(path, frame)
        assert list(back.columns) == list(frame.columns), name
        pd.testing.assert_frame_equal(
            back, frame.reset_index(drop=True), check_dtype=False, check_exact=True, obj=name
        )
    notes = pd.read_csv(tmp_path / "out" / "notes.csv", encoding="utf-8-sig")
    assert notes.loc[1, "title"] == hostile_title
    assert notes.loc[0, "ctr"] == 500 / 6000  # full float precision survives


def test_export_csv_excel_safe_neutralizes_formulas(small, tmp_path):
    import dataclasses

    notes = small.notes.copy()
    notes.loc[0, "title"] = '=HYPERLINK("x")'
    data = dataclasses.replace(small, notes=notes)
    export_csv(data, tmp_path, excel_safe=True)
    back = pd.read_csv(tmp_path / "notes.csv", encoding="utf-8-sig")
    assert back.loc[0, "title"] == '\'=HYPERLINK("x")'
    assert back.loc[0, "gmv"] == 2700.0
    export_csv(data, tmp_path)
    assert (
        pd.read_csv(tmp_path / "notes.csv", encoding="utf-8-sig").loc[0, "title"]
        == '=HYPERLINK("x")'
    )


def test_an_empty_report_prints_and_exports(empty, tmp_path):
    out = _printed(empty, "en")
    assert "No causal ground truth" in out
    paths = export_csv(empty, tmp_path)
    assert [p.name for p in paths][-1] == "model_scores.csv"
    back = pd.read_csv(tmp_path / "kpis.csv", encoding="utf-8-sig")
    assert list(back["metric"]) == list(KPI_KEYS) and back["value"].isna().all()
