"""The HTML report: one self-contained page per language, charts drawn by a local ECharts copy.

:func:`render_html` writes the page and copies ``echarts.min.js`` (with its LICENSE and NOTICE)
into ``assets/`` beside it; the page references that file relatively and nothing on the network,
so it opens from disk, offline. Data reach the page two ways, both escaped: text through Jinja2
autoescaping, chart options as JSON inside ``<script type="application/json">`` with ``<``, ``>``
and ``&`` written as ``\\u`` escapes (:func:`redcat.report.charts.dumps_for_script`).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined

from redcat import __version__
from redcat.report.charts import build_charts, dumps_for_script
from redcat.report.data import ReportData
from redcat.report.fmt import column_kind, fmt_compact, fmt_datetime, format_value
from redcat.report.labels import Lang, check_lang, metric_label, text, window_label
from redcat.report.tables import (
    TableView,
    campaigns_view,
    closest_sentence,
    creators_view,
    funnel_view,
    model_view,
    section_views,
    top_notes_view,
    view_caption,
    view_label,
)
from redcat.settings import ReportSettings

ECHARTS_VERSION = "6.1.0"
ASSETS_DIR = "assets"
#: Files copied from the package's static/ folder into ``<out_dir>/assets/``.
ASSET_FILES: tuple[str, ...] = ("echarts.min.js", "echarts.LICENSE", "echarts.NOTICE")
#: File names :func:`render_html_bundle` writes, per language.
BUNDLE_NAMES: dict[Lang, str] = {"zh": "report.html", "en": "report.en.html"}
HTML_LANG: dict[Lang, str] = {"zh": "zh-CN", "en": "en"}

#: Headline cards: (group text key, main metric, secondary metrics); together every KPI once.
KPI_CARDS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("kpi_group_exposure", "reach", ("impressions", "matched_reach", "reads", "ctr")),
    ("kpi_group_engagement", "interactions", ("interaction_rate",)),
    ("kpi_group_search", "back_search_users", ("back_search_rate",)),
    ("kpi_group_visit", "visitors", ("visit_rate", "cost_per_visit")),
    ("kpi_group_sales", "orders", ("carts", "new_customers")),
    ("kpi_group_return", "gmv", ("spend", "roi")),
)
# Chart heights in pixels, tuned so labels fit at the page's 1200 px content width.
CHART_HEIGHTS: dict[str, int] = {
    "funnel": 380,
    "trend": 440,
    "models": 400,
    "wape": 320,
    "model_totals": 320,
}


def _chart_height(key: str, option: dict[str, object]) -> int:
    if key == "notes":  # one bar row per note
        notes = option.get("note_ids")
        return 24 + 30 * (len(notes) if isinstance(notes, list) else 10)
    return CHART_HEIGHTS[key]


@dataclass(frozen=True)
class Metric:
    """One metric on a card: label, display value and (for compact values) the exact value."""

    key: str
    label: str
    value: str
    exact: str


@dataclass(frozen=True)
class Card:
    """A headline card: its stage group, main metric and secondary metrics."""

    group: str
    main: Metric
    secondary: tuple[Metric, ...]


@dataclass(frozen=True)
class Chart:
    """A chart placeholder on the page: element id, height (px) and its option as safe JSON."""

    id: str
    height: int
    option_json: str


@dataclass(frozen=True)
class SectionBlock:
    """A report section as the page draws it: anchor key, title, charts, tables and notes."""

    key: str
    title: str
    charts: tuple[tuple[str, Chart], ...]
    views: tuple[TableView, ...]
    notes: tuple[str, ...]


def section_blocks(data: ReportData, lang: Lang) -> tuple[SectionBlock, ...]:
    """Return every section of ``data`` ready for the template: titles and notes in ``lang``,
    chart options as safe JSON (element ids ``chart-<section>-<chart>``), tables as views."""
    return tuple(
        SectionBlock(
            section.key,
            section.title.get(lang),
            tuple(
                (
                    chart.title.get(lang),
                    Chart(
                        f"chart-{section.key}-{chart.key}",
                        chart.height,
                        dumps_for_script(chart.options[lang]),
                    ),
                )
                for chart in section.charts
            ),
            section_views(section, lang, data.currency_symbol),
            tuple(note.get(lang) for note in section.notes),
        )
        for section in data.sections
    )


def _metric(data: ReportData, key: str, lang: Lang, *, compact: bool) -> Metric:
    value = data.kpis.get(key)
    kind = column_kind(key)
    exact = format_value(value, kind, lang, data.currency_symbol)
    shown = fmt_compact(value, lang, kind, data.currency_symbol) if compact else exact
    return Metric(key, metric_label(key, lang), shown, exact)


def kpi_cards(data: ReportData, lang: Lang) -> tuple[Card, ...]:
    """Return the headline cards of :data:`KPI_CARDS`: main values compact (万/亿 or K/M/B, the
    exact value kept for a tooltip), secondary values exact."""
    lang = check_lang(lang)
    return tuple(
        Card(
            text(group, lang),
            _metric(data, main, lang, compact=True),
            tuple(_metric(data, key, lang, compact=False) for key in secondary),
        )
        for group, main, secondary in KPI_CARDS
    )


def copy_assets(out_dir: Path) -> Path:
    """Copy the vendored ECharts files into ``out_dir/assets/`` and return that folder."""
    target = out_dir / ASSETS_DIR
    target.mkdir(parents=True, exist_ok=True)
    static = resources.files("redcat.report").joinpath("static")
    for name in ASSET_FILES:
        with resources.as_file(static.joinpath(name)) as source:
            shutil.copyfile(source, target / name)
    return target


def _environment() -> Environment:
    # autoescape on for every template: all data shown is untrusted (note titles come from creators)
    env = Environment(
        loader=PackageLoader("redcat.report", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env


def page_html(
    data: ReportData,
    lang: Lang = "zh",
    *,
    switch_href: str | None = None,
    top: int = ReportSettings.top_notes,
) -> str:
    """Return the report page as an HTML string (see :func:`render_html`), without writing files.

    ``switch_href`` is the relative link to the other language's page (no link when ``None``).
    """
    lang = check_lang(lang)
    charts = build_charts(data, lang, top)
    models_withheld = "models" in data.withheld
    period = text(
        "period_range", lang, start=data.period_start.isoformat(), end=data.period_end.isoformat()
    )
    windows = [
        (window_label(key, lang), text("days", lang, n=days)) for key, days in data.windows.items()
    ]
    views: dict[str, TableView] = {
        "funnel": funnel_view(data, lang),
        "notes": top_notes_view(data, lang, top),
        "models": model_view(data, lang),
        "campaigns": campaigns_view(data, lang),
        "creators": creators_view(data, lang),
    }
    context = {
        "lang": lang,
        "html_lang": HTML_LANG[lang],
        "t": {key: text(key, lang) for key in _PLAIN_TEXT},
        "page_title": text("page_title", lang, brand=data.brand_id, period=period),
        "brand": data.brand_id,
        "period": period,
        "retailers": data.retailers,
        "generated_at": fmt_datetime(data.generated_at),
        "windows": windows,
        "switch_href": switch_href,
        "cards": kpi_cards(data, lang),
        "views": views,
        "charts": {
            key: Chart(f"chart-{key}", _chart_height(key, option), dumps_for_script(option))
            for key, option in charts.items()
        },
        "view_label": view_label(data, lang),
        "view": data.view,
        "kpis_caption": view_caption(data, "kpis", lang),
        "trend_caption": view_caption(data, "trend", lang),
        "models_withheld": view_caption(data, "models", lang) if models_withheld else None,
        "has_scores": data.has_scores,
        "has_truth": data.has_truth,
        "closest_sentence": closest_sentence(data, lang),
        "notes_title": text("section_notes", lang, n=len(views["notes"].rows)),
        "models_chart_title": text(
            "chart_credits_vs_truth" if data.has_truth else "chart_credits_per_note", lang
        ),
        "sections": section_blocks(data, lang),
        "caveats": data.notes_md,
        "footer": text("footer", lang, version=__version__, echarts=ECHARTS_VERSION),
        "echarts_src": f"{ASSETS_DIR}/echarts.min.js",
    }
    return _environment().get_template("report.html.j2").render(**context)


# Page text used without fields, handed to the template as ``t``.
_PLAIN_TEXT: tuple[str, ...] = (
    "report_title",
    "brand",
    "period",
    "retailers",
    "generated_at",
    "windows",
    "view",
    "switch_lang",
    "section_kpis",
    "section_funnel",
    "funnel_log",
    "section_trend",
    "section_models",
    "section_campaigns",
    "section_creators",
    "section_caveats",
    "chart_orders_per_note",
    "chart_wape",
    "chart_model_totals",
    "wape_explainer",
    "no_truth",
    "no_rows",
    "aggregates_only",
    "trend_exposure",
    "trend_conversion",
    "charts_unavailable",
)


def render_html(
    data: ReportData,
    out: Path,
    lang: Lang = "zh",
    *,
    switch_href: str | None = None,
    top: int = ReportSettings.top_notes,
) -> Path:
    """Write the report page for ``lang`` to the file ``out`` (parent folders created) and the
    ECharts assets to ``out.parent/assets/``; return ``out``.

    The page shows: header (brand, period, retailers, generation time, windows), headline KPI
    cards, the conversion funnel (chart and table), the daily trend, the ``top`` notes by orders
    (bar chart and table), the attribution model comparison (credited orders per note by model,
    against true incremental orders when ground truth exists; WAPE per model with the closest
    highlighted, or a notice that there is no ground truth), campaigns, creators and caveats. It
    references only ``assets/echarts.min.js``, relatively; no network.
    """
    out.parent.mkdir(parents=True, exist_ok=True)
    copy_assets(out.parent)
    out.write_text(page_html(data, lang, switch_href=switch_href, top=top), encoding="utf-8")
    return out


def render_html_bundle(
    data: ReportData, out_dir: Path, *, top: int = ReportSettings.top_notes
) -> dict[Lang, Path]:
    """Write ``report.html`` (zh-CN) and ``report.en.html`` (English) into ``out_dir``, each
    linking to the other, plus the shared ``assets/``; return their paths by language."""
    paths: dict[Lang, Path] = {}
    for lang, name in BUNDLE_NAMES.items():
        other = BUNDLE_NAMES["en" if lang == "zh" else "zh"]
        paths[lang] = render_html(data, out_dir / name, lang, switch_href=other, top=top)
    return paths
