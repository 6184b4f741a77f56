import dataclasses
import json
import math
import re
from html.parser import HTMLParser

import pytest

from redcat.errors import ConfigError
from redcat.report.data import KPI_KEYS
from redcat.report.html import ASSET_FILES, render_html, render_html_bundle


class _Page(HTMLParser):
    """Collects attributes, chart JSON and element text of a rendered page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.attrs: list[tuple[str, str, str]] = []  # (tag, attr, value)
        self.charts: dict[str, str] = {}
        self.scripts = 0
        self.metrics: list[str] = []
        self._chart: str | None = None

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            self.attrs.append((tag, name, value or ""))
        a = dict(attrs)
        if tag == "script":
            self.scripts += 1
            if a.get("type") == "application/json":
                self._chart = a["data-chart"]
                self.charts[self._chart] = ""
        if "data-metric" in a:
            self.metrics.append(a["data-metric"])

    def handle_endtag(self, tag):
        if tag == "script":
            self._chart = None

    def handle_data(self, data):
        if self._chart is not None:
            self.charts[self._chart] += data


def _parse(path):
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def _option(page, key):
    return json.loads(page.charts[f"chart-{key}"])


def test_bundle_writes_both_languages_linked_and_the_local_echarts(small, tmp_path):
    paths = render_html_bundle(small, tmp_path / "out")
    assert paths == {
        "zh": tmp_path / "out" / "report.html",
        "en": tmp_path / "out" / "report.en.html",
    }
    for name in ASSET_FILES:
        assert (tmp_path / "out" / "assets" / name).stat().st_size > 0
    zh, en = _parse(paths["zh"]), _parse(paths["en"])
    assert ("a", "href", "report.en.html") in zh.attrs
    assert ("a", "href", "report.html") in en.attrs
    assert ("html", "lang", "zh-CN") in zh.attrs and ("html", "lang", "en") in en.attrs


def test_single_page_has_no_language_link(small, tmp_path):
    page = _parse(render_html(small, tmp_path / "r.html", "en"))
    assert not [v for tag, attr, v in page.attrs if tag == "a" and attr == "href"]


def test_page_references_only_the_local_echarts_file(small, tmp_path):
    path = render_html(small, tmp_path / "r.html", "zh")
    html = path.read_text(encoding="utf-8")
    assert "http://" not in html and "https://" not in html
    refs = [(tag, v) for tag, attr, v in _parse(path).attrs if attr in ("src", "href")]
    assert refs == [("script", "assets/echarts.min.js")]
    assert (path.parent / "assets" / "echarts.min.js").read_bytes().startswith(b"\n/*\n* Licensed")
    assert "@import" not in html and "url(" not in html


def test_funnel_json_equals_the_input(small, tmp_path):
    page = _parse(render_html(small, tmp_path / "r.html", "zh"))
    items = _option(page, "funnel")["series"][0]["data"]
    assert [it["users"] for it in items] == list(small.funnel["users"])
    assert [it["name"] for it in items] == ["曝光", "阅读", "互动", "回搜", "进店", "加购", "成交"]
    assert [it["rate_from_previous"] for it in items][1:] == list(
        small.funnel["rate_from_previous"]
    )[1:]
    # drawn widths are log10(1 + users), so each drop stays visible
    assert [it["value"] for it in items] == [
        round(math.log10(1 + u), 6) for u in small.funnel["users"]
    ]


def test_trend_and_notes_json_hold_the_daily_and_note_values(small, tmp_path):
    page = _parse(render_html(small, tmp_path / "r.html", "en"))
    series = {s["name"]: s["data"] for s in _option(page, "trend")["series"]}
    assert series["Back-search users"] == [70, 50, 40]
    assert series["GMV"] == [2100.25, 1500.0, 900.25]
    assert _option(page, "notes")["series"][0]["data"] == [15, 8, 2]


def test_hostile_title_is_escaped_everywhere(small, tmp_path, hostile_title):
    path = render_html(small, tmp_path / "r.html", "en")
    html = path.read_text(encoding="utf-8")
    assert hostile_title not in html
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; 回搜" in html  # table cell
    page = _parse(path)
    # only our own scripts: one JSON block per chart, the ECharts file and the init script
    assert page.scripts == len(page.charts) + 2
    for raw in page.charts.values():
        assert "<" not in raw and ">" not in raw
    labels = _option(page, "notes")["yAxis"]["data"]
    assert labels[1] == hostile_title[:13] + "…"  # survives JSON escaping intact


def test_rich_markup_and_braces_are_plain_text(make_report, parts, tmp_path):
    notes = parts["notes"]()
    notes.loc[0, "title"] = "{{ 7*7 }} {% if 1 %}x{% endif %}"
    page = render_html(make_report(notes=notes), tmp_path / "r.html", "en").read_text()
    assert "{{ 7*7 }} {% if 1 %}x{% endif %}" in page  # data is never rendered as a template


def test_kpi_cards_show_every_kpi_once(small, tmp_path):
    page = _parse(render_html(small, tmp_path / "r.html", "zh"))
    assert sorted(page.metrics) == sorted(KPI_KEYS)
    html = (tmp_path / "r.html").read_text()
    assert 'title="¥4,500.50"' in html  # exact value kept for the compact card


def test_model_comparison_names_the_lowest_wape(small, tmp_path):
    zh = render_html(small, tmp_path / "r.html", "zh").read_text()
    assert "最接近因果真值的模型：马尔可夫链（WAPE 11.8%）" in zh
    page = _parse(render_html(small, tmp_path / "e.html", "en"))
    html = (tmp_path / "e.html").read_text()
    assert "Closest to causal truth: Markov chain (WAPE 11.8%)" in html
    wape = _option(page, "wape")
    assert wape["closest"] == "markov"
    assert [s["model"] for s in _option(page, "models")["series"]][-1] == "truth"
    assert 'class="highlight"' in html


def test_missing_truth_renders_without_truth_parts_and_says_so(small_no_truth, tmp_path):
    for lang, notice in (("en", "No causal ground truth"), ("zh", "无因果真值")):
        path = render_html(small_no_truth, tmp_path / f"{lang}.html", lang)
        html = path.read_text()
        page = _parse(path)
        assert notice in html and "data-no-truth" in html
        assert "data-closest" not in html
        assert "Closest to causal truth" not in html and "最接近因果真值的模型" not in html
        assert "chart-wape" not in page.charts and "chart-model_totals" in page.charts
        assert "truth" not in [s["model"] for s in _option(page, "models")["series"]]
        header = "WAPE 误差" if lang == "zh" else "WAPE"
        assert f'scope="col">{header}</th>' not in html
        assert "WAPE = Σ" not in html


def test_truth_present_but_unscored_still_draws_truth_bars(small, parts, tmp_path):
    data = dataclasses.replace(small, model_scores=parts["scores"](with_truth=False))
    page = _parse(render_html(data, tmp_path / "r.html", "en"))
    assert [s["model"] for s in _option(page, "models")["series"]][-1] == "truth"
    assert "chart-wape" not in page.charts


def test_demo_report_renders_in_both_languages(demo, tmp_path):
    paths = render_html_bundle(demo, tmp_path)
    for path in paths.values():
        page = _parse(path)
        assert set(page.charts) == {
            f"chart-{k}" for k in ("funnel", "trend", "notes", "models", "wape")
        }
        assert len(_option(page, "notes")["note_ids"]) == 10


def test_unknown_language_is_refused(small, tmp_path):
    with pytest.raises(ConfigError):
        render_html(small, tmp_path / "r.html", "fr")  # type: ignore[arg-type]


def test_page_reports_the_header_facts(small, tmp_path):
    html = render_html(small, tmp_path / "r.html", "en").read_text()
    for needle in (
        "brand_a",
        "2025-05-01 to 2025-05-03",
        "tmall",
        "jd",
        "2025-05-04 09:30",
        "Conversion window 15 days",
        "View-through window 30 days",
        "Markov fell back to linear for 0 journeys.",
        "Funnel widths use a log scale.",
    ):
        assert needle in html
    assert re.search(r"<title>brand_a · Seeding-to-sales · 2025-05-01 to 2025-05-03</title>", html)


def test_an_empty_report_renders(empty, tmp_path):
    for lang in ("zh", "en"):
        page = _parse(render_html(empty, tmp_path / f"{lang}.html", lang))
        assert _option(page, "funnel")["series"][0]["data"] == []
        assert _option(page, "notes")["note_ids"] == []
        assert _option(page, "models")["series"] == []
        html = (tmp_path / f"{lang}.html").read_text()
        assert ("无数据" if lang == "zh" else "No data") in html
