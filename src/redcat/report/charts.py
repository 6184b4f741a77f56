"""ECharts options for the report, built in Python as plain JSON-ready dicts.

Each builder returns an `Apache ECharts <https://echarts.apache.org/>`_ option (``chart.setOption``
input) holding only JSON values: no JavaScript functions, so labels and tooltips are precomputed
strings and the page embeds options with :func:`dumps_for_script`. Numbers stay raw (users, orders,
currency units); missing values become ``null``. Names come from :mod:`labels`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from redcat.report.data import MODELS, ReportData, closest_model, is_missing
from redcat.report.fmt import fmt_date, format_value
from redcat.report.labels import Lang, check_lang, metric_label, model_label, stage_label, text
from redcat.report.tables import ordered_scores, top_notes
from redcat.settings import ReportSettings

Option = dict[str, Any]

FONT_FAMILY = (
    'system-ui, -apple-system, "PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", '
    '"Noto Sans CJK SC", "Noto Sans SC", "Helvetica Neue", Arial, sans-serif'
)
#: Series colours: a 小红书-like red first, then colours that stay apart for colour-blind readers.
PALETTE: tuple[str, ...] = (
    "#E8364F",
    "#F59E0B",
    "#3B82F6",
    "#10B981",
    "#8B5CF6",
    "#EC4899",
    "#14B8A6",
    "#64748B",
)
#: One colour per attribution model (stable across charts) and a dark one for ground truth.
MODEL_COLORS: Mapping[str, str] = {
    "first": "#93C5FD",
    "last": "#3B82F6",
    "linear": "#A78BFA",
    "position": "#F59E0B",
    "time_decay": "#14B8A6",
    "markov": "#E8364F",
    "shapley": "#EC4899",
    "truth": "#111827",
}
HIGHLIGHT = "#16A34A"
MUTED = "#94A3B8"
TITLE_CHARS = 14  # category labels longer than this are cut with "…" (full title in tooltip)


def number(value: Any) -> float | int | None:
    """Return ``value`` as a JSON-safe number: ``None`` for missing or non-finite, ``int`` for
    whole integer types, else ``float`` (numpy scalars become Python numbers)."""
    if is_missing(value):
        return None
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int) or getattr(getattr(value, "dtype", None), "kind", "") in ("i", "u"):
        return int(value)
    result = float(value)
    return result if math.isfinite(result) else None


def dumps_for_script(option: Mapping[str, Any]) -> str:
    """Serialize ``option`` as JSON safe to place inside ``<script type="application/json">``.

    ``<``, ``>`` and ``&`` become ``\\u003c``, ``\\u003e``, ``\\u0026`` (so a title holding
    ``</script>`` cannot close the element), as do U+2028/U+2029; ``JSON.parse`` restores them.
    NaN or infinity raise ``ValueError`` (options must hold finite numbers or null).
    """
    raw = json.dumps(option, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return (
        raw.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def short_title(title: Any, limit: int = TITLE_CHARS) -> str:
    """Return a note title cut to ``limit`` characters with an ellipsis (``—`` when missing)."""
    if is_missing(title):
        return "—"
    s = " ".join(str(title).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def base_option() -> Option:
    """Return the keys every redcat chart shares: palette, font, animation, screen-reader
    descriptions and a tooltip kept inside the chart; callers add or override the rest."""
    return {
        "color": list(PALETTE),
        "textStyle": {"fontFamily": FONT_FAMILY},
        "animationDuration": 600,
        "aria": {"enabled": True},
        "tooltip": {"confine": True},
    }


def _note_labels(data: ReportData, note_ids: Sequence[str]) -> list[str]:
    """Short, unique category labels for notes (title; note_id appended when titles collide)."""
    titles = dict(zip(data.notes["note_id"].astype(str), data.notes["title"], strict=False))
    labels = [short_title(titles.get(n, n)) for n in note_ids]
    seen: dict[str, int] = {}
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
    pairs = zip(labels, note_ids, strict=True)
    return [f"{lab} ({n})" if seen[lab] > 1 else lab for lab, n in pairs]


def funnel_width(users: float | int | None) -> float:
    """Return the drawn width of a funnel stage: ``log10(1 + users)``.

    Seeding funnels fall by orders of magnitude (millions reached, thousands ordering), so widths
    proportional to users would shrink every stage after the first to a sliver; a log scale keeps
    each drop visible while the labels carry the exact users and rates.
    """
    return 0.0 if users is None or users <= 0 else math.log10(1.0 + float(users))


def funnel_option(data: ReportData, lang: Lang) -> Option:
    """Return the funnel (曝光 → 阅读 → 互动 → 回搜 → 进店 → 加购 → 成交): one item per stage in
    funnel order with ``users`` = distinct users, the stage key, its two rates (fractions),
    ``value`` = :func:`funnel_width` of users (widths on a log scale) and precomputed label and
    tooltip text showing the exact users and conversion rates."""
    lang = check_lang(lang)
    rows = data.funnel_in_order()
    items: list[Option] = []
    for i, row in enumerate(rows.itertuples(index=False)):
        users = number(row.users)
        name = stage_label(str(row.stage), lang)
        label = f"{name}  {text('users_unit', lang, n=format_value(users, 'count', lang))}"
        detail = f"{text('of_reach', lang)} {format_value(row.rate_from_reach, 'rate', lang)}"
        if i > 0:
            step = format_value(row.rate_from_previous, "rate", lang)
            detail = f"{text('of_previous', lang)} {step} · {detail}"
        items.append(
            {
                "name": name,
                "value": round(funnel_width(users), 6),
                "users": users,
                "stage": str(row.stage),
                "rate_from_previous": number(row.rate_from_previous),
                "rate_from_reach": number(row.rate_from_reach),
                "label": {"formatter": f"{label}\n{detail}"},
                "tooltip": {"formatter": f"{label}<br>{detail}"},
            }
        )
    top = max((it["value"] for it in items), default=0.0)
    option = base_option()
    option.update(
        {
            "tooltip": {"trigger": "item", "confine": True},
            "series": [
                {
                    "name": text("section_funnel", lang),
                    "type": "funnel",
                    "sort": "none",
                    "left": "2%",
                    "top": 8,
                    "bottom": 8,
                    "width": "50%",
                    "min": 0,
                    "max": top,
                    "minSize": "8%",
                    "maxSize": "100%",
                    "gap": 3,
                    "label": {
                        "show": True,
                        "position": "right",
                        "color": "#1F2937",
                        "fontSize": 13,
                        "lineHeight": 18,
                    },
                    "labelLine": {"show": True, "length": 18, "lineStyle": {"color": "#CBD5E1"}},
                    "itemStyle": {"borderColor": "#fff", "borderWidth": 1},
                    "emphasis": {"label": {"fontWeight": "bold"}},
                    "data": items,
                }
            ],
        }
    )
    return option


#: Daily series: (column, grid) — grid 0 holds exposure, grid 1 the conversion stages.
TREND_LINES: tuple[tuple[str, int], ...] = (
    ("reach", 0),
    ("back_search_users", 1),
    ("visitors", 1),
    ("orders", 1),
)


def trend_option(data: ReportData, lang: Lang) -> Option:
    """Return the daily trend: two stacked panels sharing the date axis — reach (users) on top;
    back-search users, visitors and orders as lines with GMV (currency) as bars on a second axis
    below. Days are in date order; missing values are ``null``."""
    lang = check_lang(lang)
    daily = data.daily.sort_values("date").reset_index(drop=True)
    dates = [fmt_date(d) for d in daily["date"]]
    series: list[Option] = []
    colors = {"reach": PALETTE[0], "back_search_users": PALETTE[1], "visitors": PALETTE[2]}
    colors["orders"] = PALETTE[3]
    for column, grid in TREND_LINES:
        series.append(
            {
                "name": metric_label(column, lang),
                "type": "line",
                "xAxisIndex": grid,
                "yAxisIndex": grid,
                "symbol": "circle",
                "symbolSize": 5,
                "showSymbol": len(dates) <= 45,
                "smooth": False,
                "lineStyle": {"width": 2},
                "color": colors[column],
                "data": [number(v) for v in daily[column]],
                **({"areaStyle": {"opacity": 0.12}} if grid == 0 else {}),
            }
        )
    series.append(
        {
            "name": metric_label("gmv", lang),
            "type": "bar",
            "xAxisIndex": 1,
            "yAxisIndex": 2,
            "barMaxWidth": 18,
            "color": "#CBD5E1",
            "z": 1,
            "data": [number(v) for v in daily["gmv"]],
        }
    )
    axis_label = {"color": "#64748B"}
    split = {"lineStyle": {"color": "#EEF2F7"}}
    option = base_option()
    option.update(
        {
            "legend": {"top": 0, "icon": "roundRect", "itemWidth": 14, "itemHeight": 8},
            "tooltip": {"trigger": "axis", "confine": True, "axisPointer": {"type": "line"}},
            "axisPointer": {"link": [{"xAxisIndex": "all"}]},
            "grid": [
                {"left": 64, "right": 72, "top": 56, "height": "24%"},
                {"left": 64, "right": 72, "top": "47%", "bottom": 56 if len(dates) > 31 else 30},
            ],
            "xAxis": [
                {"type": "category", "gridIndex": 0, "data": dates, "axisLabel": {"show": False}},
                {"type": "category", "gridIndex": 1, "data": dates, "axisLabel": axis_label},
            ],
            "yAxis": [
                {
                    "type": "value",
                    "gridIndex": 0,
                    "name": text("trend_exposure", lang),
                    "axisLabel": axis_label,
                    "splitLine": split,
                },
                {
                    "type": "value",
                    "gridIndex": 1,
                    "name": text("axis_users", lang),
                    "axisLabel": axis_label,
                    "splitLine": split,
                },
                {
                    "type": "value",
                    "gridIndex": 1,
                    "position": "right",
                    "name": metric_label("gmv", lang),
                    "axisLabel": axis_label,
                    "splitLine": {"show": False},
                },
            ],
            "series": series,
        }
    )
    if len(dates) > 31:
        option["dataZoom"] = [
            {"type": "inside", "xAxisIndex": [0, 1]},
            {"type": "slider", "xAxisIndex": [0, 1], "height": 18, "bottom": 8},
        ]
    return option


def notes_option(data: ReportData, lang: Lang, top: int = ReportSettings.chart_notes) -> Option:
    """Return a horizontal bar chart of orders per note for the ``top`` notes by orders, best at
    the top; ``note_ids`` (an extra key ECharts ignores) lists the notes in category order."""
    lang = check_lang(lang)
    shown = top_notes(data, top)
    note_ids = [str(n) for n in shown["note_id"]]
    option = base_option()
    option.update(
        {
            "note_ids": note_ids,
            "tooltip": {"trigger": "axis", "confine": True, "axisPointer": {"type": "shadow"}},
            "grid": {"left": 8, "right": 56, "top": 4, "bottom": 4, "containLabel": True},
            "xAxis": {"type": "value", "show": False},
            "yAxis": {
                "type": "category",
                "inverse": True,
                "data": _note_labels(data, note_ids),
                "axisTick": {"show": False},
                "axisLabel": {"color": "#334155"},
            },
            "series": [
                {
                    "name": metric_label("orders", lang),
                    "type": "bar",
                    "barMaxWidth": 20,
                    "color": PALETTE[0],
                    "itemStyle": {"borderRadius": [0, 4, 4, 0]},
                    "label": {"show": True, "position": "right", "color": "#334155"},
                    "data": [number(v) for v in shown["orders"]],
                }
            ],
        }
    )
    return option


def _models_present(data: ReportData) -> list[str]:
    present = {str(m) for m in data.credits["model"].unique()}
    known = [m for m in MODELS if m in present]
    return known + sorted(present - set(MODELS))


def credit_notes(data: ReportData, top: int = ReportSettings.chart_notes) -> list[str]:
    """Return the note_ids the model chart shows: the ``top`` notes by true incremental orders when
    ground truth exists, else by the largest credit any model gives them (ties by note_id)."""
    if data.truth is not None and len(data.truth):
        ranked = data.truth.assign(_key=data.truth["true_incremental_orders"].fillna(0.0))
    else:
        ranked = data.credits.groupby("note_id")["conversions"].max().rename("_key").reset_index()
    ranked = ranked.assign(note_id=ranked["note_id"].astype(str))
    ranked = ranked.sort_values(["_key", "note_id"], ascending=[False, True])
    return [str(n) for n in ranked["note_id"].head(top)]


def models_option(data: ReportData, lang: Lang, top: int = ReportSettings.chart_notes) -> Option:
    """Return a grouped bar chart of credited orders per note, one series per model (in
    :data:`MODELS` order), plus a dark ``truth`` series of true incremental orders when ground truth
    exists. A model that gives a note no credit row shows 0 for it."""
    lang = check_lang(lang)
    note_ids = credit_notes(data, top)
    credits = data.credits.assign(note_id=data.credits["note_id"].astype(str))
    pivot = credits.pivot_table(
        index="note_id", columns="model", values="conversions", aggfunc="sum", fill_value=0.0
    )
    series: list[Option] = []
    for model in _models_present(data):
        column = pivot[model] if model in pivot.columns else pd.Series(dtype=float)
        series.append(
            {
                "name": model_label(model, lang),
                "model": model,
                "type": "bar",
                "barMaxWidth": 14,
                "color": MODEL_COLORS.get(model, MUTED),
                "data": [number(column.get(n, 0.0)) for n in note_ids],
            }
        )
    if data.truth is not None:
        truth = dict(
            zip(
                data.truth["note_id"].astype(str),
                data.truth["true_incremental_orders"],
                strict=False,
            )
        )
        series.append(
            {
                "name": model_label("truth", lang),
                "model": "truth",
                "type": "bar",
                "barMaxWidth": 14,
                "color": MODEL_COLORS["truth"],
                "itemStyle": {"decal": {"symbol": "rect", "dashArrayX": [1, 0], "rotation": 0.8}},
                "data": [number(truth.get(n)) for n in note_ids],
            }
        )
    option = base_option()
    option.update(
        {
            "note_ids": note_ids,
            "legend": {"top": 0, "type": "scroll", "itemWidth": 14, "itemHeight": 8},
            "tooltip": {"trigger": "axis", "confine": True, "axisPointer": {"type": "shadow"}},
            "grid": {"left": 56, "right": 24, "top": 44, "bottom": 8, "containLabel": True},
            "xAxis": {
                "type": "category",
                "data": _note_labels(data, note_ids),
                "axisLabel": {"interval": 0, "rotate": 30 if len(note_ids) > 6 else 0},
            },
            "yAxis": {
                "type": "value",
                "name": metric_label("credited_orders", lang),
                "splitLine": {"lineStyle": {"color": "#EEF2F7"}},
            },
            "series": series,
        }
    )
    return option


def wape_option(data: ReportData, lang: Lang) -> Option | None:
    """Return a bar chart of WAPE per model in percent (``value`` = WAPE × 100), the closest model
    (lowest WAPE) in green and the rest grey; ``None`` when no model has a finite WAPE."""
    lang = check_lang(lang)
    best = closest_model(data.model_scores)
    if best is None:
        return None
    scores = ordered_scores(data)
    scores = scores[scores["wape"].map(lambda w: number(w) is not None)]
    items: list[Option] = []
    for model, wape in zip(scores["model"].tolist(), scores["wape"].tolist(), strict=True):
        is_best = str(model) == best[0]
        items.append(
            {
                "name": model_label(str(model), lang),
                "model": str(model),
                "value": round(float(wape) * 100, 6),
                "itemStyle": {"color": HIGHLIGHT if is_best else MUTED},
                "label": {
                    "formatter": format_value(wape, "rate1", lang),
                    "fontWeight": "bold" if is_best else "normal",
                },
            }
        )
    option = base_option()
    option.update(
        {
            "closest": best[0],
            "tooltip": {"trigger": "item", "confine": True},
            "grid": {"left": 8, "right": 24, "top": 36, "bottom": 8, "containLabel": True},
            "xAxis": {
                "type": "category",
                "data": [it["name"] for it in items],
                "axisLabel": {"interval": 0, "rotate": 20 if len(items) > 5 else 0},
                "axisTick": {"show": False},
            },
            "yAxis": {
                "type": "value",
                "name": "WAPE %",
                "axisLabel": {"formatter": "{value}%"},
                "splitLine": {"lineStyle": {"color": "#EEF2F7"}},
            },
            "series": [
                {
                    "name": "WAPE",
                    "type": "bar",
                    "barMaxWidth": 36,
                    "label": {"show": True, "position": "top", "color": "#334155"},
                    "data": items,
                }
            ],
        }
    )
    return option


def model_totals_option(data: ReportData, lang: Lang) -> Option:
    """Return a bar chart of total credited orders per model (``model_scores.credited_orders``),
    used when there is no ground truth to score models against."""
    lang = check_lang(lang)
    scores = ordered_scores(data)
    option = base_option()
    option.update(
        {
            "tooltip": {"trigger": "item", "confine": True},
            "grid": {"left": 8, "right": 24, "top": 36, "bottom": 8, "containLabel": True},
            "xAxis": {
                "type": "category",
                "data": [model_label(str(m), lang) for m in scores["model"]],
                "axisLabel": {"interval": 0, "rotate": 20 if len(scores) > 5 else 0},
                "axisTick": {"show": False},
            },
            "yAxis": {
                "type": "value",
                "name": metric_label("credited_orders", lang),
                "splitLine": {"lineStyle": {"color": "#EEF2F7"}},
            },
            "series": [
                {
                    "name": metric_label("credited_orders", lang),
                    "type": "bar",
                    "barMaxWidth": 36,
                    "label": {"show": True, "position": "top", "color": "#334155"},
                    "data": [
                        {
                            "value": number(v),
                            "itemStyle": {"color": MODEL_COLORS.get(str(m), MUTED)},
                            "label": {"formatter": format_value(v, "decimal", lang)},
                        }
                        for m, v in zip(scores["model"], scores["credited_orders"], strict=True)
                    ],
                }
            ],
        }
    )
    return option


def build_charts(
    data: ReportData, lang: Lang, top: int = ReportSettings.chart_notes
) -> dict[str, Option]:
    """Return every chart of the page by id, in page order: ``funnel``, ``trend``, ``notes``,
    ``models`` and then ``wape`` (with ground truth) or ``model_totals`` (without); only the
    first three when the report withholds its models (the brand view)."""
    lang = check_lang(lang)
    charts: dict[str, Option] = {
        "funnel": funnel_option(data, lang),
        "trend": trend_option(data, lang),
        "notes": notes_option(data, lang, top),
    }
    if "models" in data.withheld:  # the view leaves the model comparison out
        return charts
    charts["models"] = models_option(data, lang, top)
    wape = wape_option(data, lang)
    if wape is not None:
        charts["wape"] = wape
    else:
        charts["model_totals"] = model_totals_option(data, lang)
    return charts
