"""Report tables: language-aware table views, Rich renderings for the terminal, and CSV export.

A :class:`TableView` is a table already formatted for people (labels from :mod:`labels`, numbers
from :mod:`fmt`); the terminal (:func:`render_tables`) and the HTML page both draw the same views.
CSV export (:func:`frames_for_csv`, :func:`export_csv`) writes the raw frames instead, with machine
column names and unformatted values, for analysts and spreadsheets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from redcat.report.data import KPI_KEYS, MODELS, ReportData, closest_model, is_missing
from redcat.report.fmt import (
    MISSING,
    column_kind,
    fmt_datetime,
    format_column,
    format_value,
)
from redcat.report.labels import (
    Lang,
    check_lang,
    metric_label,
    model_label,
    note_type_label,
    stage_label,
    text,
)
from redcat.report.section import Section, SectionTable
from redcat.settings import ReportSettings

Align = Literal["left", "right"]

#: Columns of the top-notes table (terminal and HTML), in order.
TOP_NOTE_COLUMNS: tuple[str, ...] = (
    "title",
    "creator_id",
    "note_type",
    "reach",
    "back_search_rate",
    "visitors",
    "orders",
    "gmv",
    "spend",
    "roi",
)
#: Names of the CSV files :func:`export_csv` writes (``truth`` only when ground truth exists).
CSV_TABLES: tuple[str, ...] = (
    "kpis",
    "funnel",
    "daily",
    "notes",
    "creators",
    "campaigns",
    "credits",
    "model_scores",
    "truth",
)
#: Text cells starting with these may run as formulas in a spreadsheet (CSV injection).
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Column:
    """One column of a :class:`TableView`: its source key, header text and alignment."""

    key: str
    header: str
    align: Align = "right"


@dataclass(frozen=True)
class TableView:
    """A table formatted for people: every cell is display text.

    ``highlight`` holds 0-based row numbers to emphasise (e.g. the model closest to causal truth);
    ``caption`` is a sentence shown under the table (``None`` for none).
    """

    key: str
    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str | None = None
    highlight: frozenset[int] = field(default_factory=frozenset)


def _cell(data: ReportData, column: str, value: Any, lang: Lang) -> str:
    if column == "note_type":
        return MISSING if is_missing(value) else note_type_label(str(value), lang)
    if column == "campaign_id" and is_missing(value):
        return text("not_boosted", lang)
    if column == "stage":
        return stage_label(str(value), lang)
    if column == "model":
        return model_label(str(value), lang)
    return format_column(column, value, lang, data.currency_symbol)


def _align(column: str) -> Align:
    return "left" if column_kind(column) == "text" else "right"


def _frame_view(
    data: ReportData,
    key: str,
    title: str,
    frame: pd.DataFrame,
    columns: Sequence[str],
    lang: Lang,
    *,
    caption: str | None = None,
    highlight: frozenset[int] = frozenset(),
) -> TableView:
    cols = tuple(Column(c, metric_label(c, lang), _align(c)) for c in columns)
    rows = tuple(
        tuple(_cell(data, c, value, lang) for c, value in zip(columns, record, strict=True))
        for record in frame.loc[:, list(columns)].itertuples(index=False, name=None)
    )
    return TableView(key, title, cols, rows, caption, highlight)


def view_caption(data: ReportData, key: str, lang: Lang, base: str | None = None) -> str | None:
    """Return a core table's caption: ``base`` followed by the sentence ``data.captions`` holds
    for ``key`` (the mode that produced its figures), either of them alone, or None."""
    extra = data.captions.get(key)
    parts = [p for p in (base, extra.get(lang) if extra else None) if p]
    return " ".join(parts) if parts else None


def view_label(data: ReportData, lang: Lang) -> str:
    """Return which view the report is (operator: exact, for the clean-room operator only;
    brand: released through the privacy layer), in ``lang``."""
    return text("view_brand" if data.view == "brand" else "view_operator", lang)


def kpi_view(data: ReportData, lang: Lang) -> TableView:
    """Return the headline KPI table: one row per key of :data:`KPI_KEYS` (metric, value), plus
    the mode that produced each figure when ``data.kpi_modes`` says (the brand view)."""
    lang = check_lang(lang)
    with_modes = bool(data.kpi_modes)
    rows = tuple(
        (
            metric_label(key, lang),
            format_value(data.kpis.get(key), column_kind(key), lang, data.currency_symbol),
            *(
                (data.kpi_modes[key].get(lang) if key in data.kpi_modes else MISSING,)
                if with_modes
                else ()
            ),
        )
        for key in KPI_KEYS
    )
    columns = (
        Column("metric", metric_label("metric", lang), "left"),
        Column("value", text("value", lang), "right"),
        *((Column("mode", text("mode", lang), "left"),) if with_modes else ()),
    )
    caption = view_caption(data, "kpis", lang)
    return TableView("kpis", text("section_kpis", lang), columns, rows, caption)


def funnel_view(data: ReportData, lang: Lang) -> TableView:
    """Return the funnel table (stage, users, step conversion, share of reach) in funnel order."""
    lang = check_lang(lang)
    return _frame_view(
        data,
        "funnel",
        text("section_funnel", lang),
        data.funnel_in_order(),
        ("stage", "users", "rate_from_previous", "rate_from_reach"),
        lang,
        caption=view_caption(data, "funnel", lang, text("funnel_hint", lang)),
    )


def top_notes(data: ReportData, top: int = ReportSettings.top_notes) -> pd.DataFrame:
    """Return the ``top`` notes by orders (ties: higher GMV, then note_id), all columns kept."""
    ranked = data.notes.sort_values(
        ["orders", "gmv", "note_id"], ascending=[False, False, True], na_position="last"
    )
    return ranked.head(top).reset_index(drop=True)


def top_notes_view(data: ReportData, lang: Lang, top: int = ReportSettings.top_notes) -> TableView:
    """Return the top-notes table (:data:`TOP_NOTE_COLUMNS`) for the ``top`` notes by orders."""
    lang = check_lang(lang)
    shown = top_notes(data, top)
    caption = view_caption(
        data, "notes", lang, text("top_n_of", lang, n=len(shown), total=len(data.notes))
    )
    return _frame_view(
        data,
        "notes",
        text("section_notes", lang, n=len(shown)),
        shown,
        TOP_NOTE_COLUMNS,
        lang,
        caption=caption,
    )


def ordered_scores(data: ReportData) -> pd.DataFrame:
    """Return ``model_scores`` in :data:`MODELS` order (unknown models after, by name)."""
    order = {m: i for i, m in enumerate(MODELS)}
    scores = data.model_scores
    keys = scores["model"].map(lambda m: (order.get(str(m), len(order)), str(m)))
    return scores.iloc[sorted(range(len(scores)), key=lambda i: keys.iloc[i])].reset_index(
        drop=True
    )


def closest_sentence(data: ReportData, lang: Lang) -> str:
    """Return the sentence naming the model closest to causal truth (lowest WAPE), or the
    no-ground-truth notice when no model has a finite WAPE."""
    lang = check_lang(lang)
    best = closest_model(data.model_scores)
    if best is None:
        return text("no_truth", lang)
    model, wape = best
    return text(
        "closest", lang, model=model_label(model, lang), wape=format_value(wape, "rate1", lang)
    )


def model_view(data: ReportData, lang: Lang) -> TableView:
    """Return the model comparison table. With ground truth: model, credited orders, WAPE and
    rank, the closest model highlighted and named in the caption; without: model and credited
    orders only, and the caption says why."""
    lang = check_lang(lang)
    scores = ordered_scores(data)
    best = closest_model(data.model_scores)
    if best is None:
        return _frame_view(
            data,
            "models",
            text("section_models", lang),
            scores,
            ("model", "credited_orders"),
            lang,
            caption=text("no_truth", lang),
        )
    highlight = frozenset(int(i) for i in scores.index[scores["model"] == best[0]])
    return _frame_view(
        data,
        "models",
        text("section_models", lang),
        scores,
        ("model", "credited_orders", "wape", "rank"),
        lang,
        caption=closest_sentence(data, lang),
        highlight=highlight,
    )


def campaigns_view(data: ReportData, lang: Lang) -> TableView:
    """Return the campaigns table, biggest spend first (ties by campaign_id)."""
    lang = check_lang(lang)
    frame = data.campaigns.sort_values(
        ["spend", "campaign_id"], ascending=[False, True], na_position="last"
    )
    columns = ("campaign_id", "notes", "spend", "reach", "back_search_users", "visitors")
    return _frame_view(
        data,
        "campaigns",
        text("section_campaigns", lang),
        frame,
        (*columns, "orders", "gmv", "roi"),
        lang,
        caption=view_caption(data, "campaigns", lang),
    )


def creators_view(data: ReportData, lang: Lang) -> TableView:
    """Return the creators table, most orders first (ties: higher GMV, then creator_id)."""
    lang = check_lang(lang)
    frame = data.creators.sort_values(
        ["orders", "gmv", "creator_id"], ascending=[False, False, True], na_position="last"
    )
    return _frame_view(
        data,
        "creators",
        text("section_creators", lang),
        frame,
        ("creator_id", "notes", "reach", "back_search_users", "visitors", "orders", "gmv", "spend"),
        lang,
        caption=view_caption(data, "creators", lang),
    )


def section_table_view(table: SectionTable, lang: Lang, symbol: str = "¥") -> TableView:
    """Return a section's table formatted for people: headers from ``table.headers`` (else the
    metric label), cells by ``table.kinds`` (else the column's report kind)."""
    lang = check_lang(lang)
    columns = tuple(
        Column(
            c,
            table.headers[c].get(lang) if c in table.headers else metric_label(c, lang),
            "left" if table.kinds.get(c, column_kind(c)) == "text" else "right",
        )
        for c in table.columns
    )
    kinds = [table.kinds.get(c, column_kind(c)) for c in table.columns]

    def cell(column: str, kind: str, value: Any) -> str:
        if column == "model" and not is_missing(value):  # model keys read as their names
            return model_label(str(value), lang)
        return format_value(value, kind, lang, symbol)  # type: ignore[arg-type]

    rows = tuple(
        tuple(
            cell(c, kind, value)
            for c, kind, value in zip(table.columns, kinds, record, strict=True)
        )
        for record in table.frame.loc[:, list(table.columns)].itertuples(index=False, name=None)
    )
    caption = table.caption.get(lang) if table.caption else None
    return TableView(f"{table.key}", table.title.get(lang), columns, rows, caption, table.highlight)


def section_views(section: Section, lang: Lang, symbol: str = "¥") -> tuple[TableView, ...]:
    """Return every table of ``section`` as a :class:`TableView`, in order."""
    return tuple(section_table_view(t, lang, symbol) for t in section.tables)


def header_line(data: ReportData, lang: Lang) -> str:
    """Return the one-line report header: brand, period, retailers, generation time and the
    view (exact operator view, or the brand view released through the privacy layer)."""
    lang = check_lang(lang)
    period = text(
        "period_range", lang, start=data.period_start.isoformat(), end=data.period_end.isoformat()
    )
    sep = "：" if lang == "zh" else ": "
    parts = [
        f"{text('brand', lang)}{sep}{data.brand_id}",
        f"{text('period', lang)}{sep}{period}",
        f"{text('retailers', lang)}{sep}{', '.join(data.retailers) or MISSING}",
        f"{text('generated_at', lang)}{sep}{fmt_datetime(data.generated_at)}",
        f"{text('view', lang)}{sep}{view_label(data, lang)}",
    ]
    return " · ".join(parts)


def rich_table(view: TableView, *, with_caption: bool = True) -> Table:
    """Draw a :class:`TableView` as a Rich table (highlighted rows in bold green, the caption
    under it unless ``with_caption`` is false). Cells are plain :class:`Text`, so brackets in data
    (a note titled ``[red]x``) print literally instead of being read as Rich markup."""
    caption = Text(view.caption) if with_caption and view.caption else None
    table = Table(title=view.title, title_justify="left", header_style="bold", caption=caption)
    for column in view.columns:
        table.add_column(column.header, justify=column.align)
    for i, row in enumerate(view.rows):
        style = "bold green" if i in view.highlight else None
        table.add_row(*(Text(cell) for cell in row), style=style)
    return table


def render_tables(
    data: ReportData, lang: str = "zh", top: int = ReportSettings.top_notes
) -> list[RenderableType]:
    """Return the terminal report as Rich renderables, in print order: header line, headline KPIs,
    funnel, top ``top`` notes by orders, model comparison with the sentence naming the model closest
    to causal truth (or saying there is no ground truth), every section's tables and notes, and
    the caveats of ``notes_md``."""
    lg = check_lang(lang)
    out: list[RenderableType] = [Text(header_line(data, lg), style="bold")]
    for view in (kpi_view(data, lg), funnel_view(data, lg), top_notes_view(data, lg, top)):
        # captions go on their own line: as a Rich caption they wrap to the table's width
        out.append(rich_table(view, with_caption=False))
        if view.caption:
            out.append(Text(view.caption, style="dim"))
    if "models" in data.withheld:
        withheld = data.captions.get("models")
        out.append(Text(text("section_models", lg), style="bold"))
        out.append(Text(withheld.get(lg) if withheld else MISSING, style="yellow"))
    else:
        # the model caption is the closest-model sentence, printed plainly, not dimmed
        out.append(rich_table(model_view(data, lg), with_caption=False))
        out.append(Text(closest_sentence(data, lg), style="bold" if data.has_scores else "yellow"))
    for section in data.sections:
        out.append(Text(section.title.get(lg), style="bold underline"))
        for view in section_views(section, lg, data.currency_symbol):
            out.append(rich_table(view, with_caption=False))
            if view.caption:
                out.append(Text(view.caption, style="dim"))
        for note in section.notes:
            out.append(Text(f"• {note.get(lg)}", style="dim"))
    if data.notes_md:
        caveats = Group(*(Text(f"• {note}") for note in data.notes_md))
        out.append(Panel(caveats, title=text("section_caveats", lg), title_align="left"))
    return out


def print_report(data: ReportData, console: Console, lang: str = "zh") -> None:
    """Print :func:`render_tables` to ``console``, one renderable after another (``lang``: zh or
    en; anything else raises :class:`~redcat.errors.ConfigError`)."""
    for renderable in render_tables(data, lang):
        console.print(renderable)


def frames_for_csv(data: ReportData) -> dict[str, pd.DataFrame]:
    """Return the raw frames to export, by table name (:data:`CSV_TABLES` order): ``kpis`` as
    (metric, value) rows in :data:`KPI_KEYS` order (None becomes NaN), the other frames as given,
    ``truth`` only when ground truth exists, then every section table as
    ``<section>_<table>``. Values are unformatted; money in currency units. When the report
    says which mode produced each KPI (the brand view), ``kpis`` has a ``mode`` column
    (English); tables the view withholds (``credits`` and ``model_scores`` when the models are
    withheld) are not exported."""
    kpis = pd.DataFrame(
        {
            "metric": list(KPI_KEYS),
            "value": [
                float("nan") if is_missing(data.kpis.get(k)) else float(data.kpis[k])  # type: ignore[arg-type]
                for k in KPI_KEYS
            ],
        }
    )
    if data.kpi_modes:
        kpis["mode"] = [data.kpi_modes[k].en if k in data.kpi_modes else "" for k in KPI_KEYS]
    frames: dict[str, pd.DataFrame] = {
        "kpis": kpis,
        "funnel": data.funnel_in_order(),
        "daily": data.daily,
        "notes": data.notes,
        "creators": data.creators,
        "campaigns": data.campaigns,
        "credits": data.credits,
        "model_scores": data.model_scores,
    }
    if "models" in data.withheld:
        del frames["credits"], frames["model_scores"]
    if data.truth is not None:
        frames["truth"] = data.truth
    for section in data.sections:
        for table in section.tables:
            frames[f"{section.key}_{table.key}"] = table.frame
    return frames


def neutralize_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``frame`` whose text cells a spreadsheet would run as a formula
    (starting with ``= + - @``, tab or carriage return, e.g. a hostile note title) carry a
    leading apostrophe; numbers, booleans and other text are unchanged."""
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_numeric_dtype(out[column]) or pd.api.types.is_bool_dtype(out[column]):
            continue
        out[column] = out[column].map(
            lambda v: f"'{v}" if isinstance(v, str) and v.startswith(_FORMULA_PREFIXES) else v
        )
    return out


def export_csv(data: ReportData, out_dir: Path, *, excel_safe: bool = False) -> list[Path]:
    """Write one CSV per table of :func:`frames_for_csv` into ``out_dir`` (created if needed) and
    return their paths in :data:`CSV_TABLES` order.

    Files are UTF-8 *with* a byte-order mark (``utf-8-sig``) so Excel opens Chinese text correctly;
    read them back with ``pd.read_csv(path, encoding="utf-8-sig")``. No index column; missing values
    are empty cells; floats are written at full precision, so values round-trip exactly. With
    ``excel_safe=True``, text cells that a spreadsheet would run as a formula (starting with
    ``= + - @``, tab or carriage return, e.g. a hostile note title) get a leading apostrophe; this
    alters those cells, so the default keeps the data exact.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for name, frame in frames_for_csv(data).items():
        path = out_dir / f"{name}.csv"
        written = neutralize_formulas(frame) if excel_safe else frame
        written.to_csv(path, index=False, encoding="utf-8-sig")
        paths.append(path)
    return paths
