"""``redcat report``: one brand's report as terminal tables, CSV or HTML.

Two views (``--view``): ``brand`` (the default), what a brand may receive — figures about matched
people thresholded, noisy and paid from the brand's privacy budget
(:func:`redcat.report.brand.build_brand_report`); ``operator``, the exact report, for the
clean-room operator only and labelled so.
"""

from __future__ import annotations

import dataclasses
from enum import StrEnum
from pathlib import Path

import typer

from redcat.cli.common import DEFAULT_STORE_PATH, StoreOption, console
from redcat.engine import open_engine
from redcat.engine.core import Engine
from redcat.engine.spark import open_spark_engine, parquet_catalog, spark_session
from redcat.errors import ConfigError
from redcat.match.accounts import authorize
from redcat.report.assemble import build_report, load_truth
from redcat.report.brand import build_brand_report
from redcat.report.data import ReportData
from redcat.report.html import render_html_bundle
from redcat.report.tables import export_csv, frames_for_csv, print_report
from redcat.settings import Settings, Windows


class ReportFormat(StrEnum):
    """Report output formats."""

    table = "table"
    csv = "csv"
    html = "html"


class View(StrEnum):
    """Report views: what a brand may receive, or the operator's exact report."""

    brand = "brand"
    operator = "operator"


class Lang(StrEnum):
    """Report languages."""

    zh = "zh"
    en = "en"


def report_cmd(
    brand: str = typer.Option(..., "--brand", help="The brand the report is about."),
    fmt: ReportFormat = typer.Option(ReportFormat.table, "--format", help="table, csv or html"),
    out: Path | None = typer.Option(
        None,
        "--out",
        help="csv: a folder for one file per table (default: print the notes table); "
        "html: the folder for report.html and report.en.html (default ./report-<brand>).",
    ),
    lang: Lang = typer.Option(Lang.zh, "--lang", help="zh (简体中文) or en"),
    truth: Path | None = typer.Option(
        None, "--truth", help="A simulator's truth/note_truth.csv: score models against it."
    ),
    category: str | None = typer.Option(
        None,
        "--category",
        help="The brand's category: its decision cycle (e.g. skincare 29 d, baby_food 70 d) "
        "becomes the funnel window.",
    ),
    funnel_days: int | None = typer.Option(
        None, "--funnel-days", help="Funnel window in days (overrides --category)."
    ),
    spark: Path | None = typer.Option(
        None,
        "--spark",
        help="Measure on Apache Spark over this folder of <table>.parquet files (written by "
        "`redcat spark export`) instead of the DuckDB store.",
    ),
    spark_master: str = typer.Option(
        "local[2]", "--spark-master", help="Spark master URL (with --spark)."
    ),
    view: View = typer.Option(
        View.brand,
        "--view",
        help="brand (default): figures about matched people thresholded, noisy and paid from the "
        "brand's privacy budget; operator: exact figures, for the clean-room operator only.",
    ),
    ops_db: str | None = typer.Option(
        None,
        "--ops-db",
        envvar="REDCAT_OPS_DB",
        help="Brand view: operational store URL holding the privacy budget ledger (default: the "
        "privacy settings' ledger, else an in-memory ledger for this run, which the report says).",
    ),
    store: StoreOption = DEFAULT_STORE_PATH,
) -> None:
    """Report a brand's funnel, per-note results and attribution model comparison."""
    if out is not None and out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; give a folder for the report's files")
    windows = Windows().decision_cycle(category)
    if funnel_days is not None:
        windows = dataclasses.replace(windows, funnel_days=funnel_days)
    settings = Settings(store=store, windows=windows)
    if ops_db:
        settings = dataclasses.replace(
            settings, privacy=dataclasses.replace(settings.privacy, ledger_url=ops_db)
        )
    if view is View.brand and truth is not None:
        raise ConfigError("--truth scores the exact model credits: use it with --view operator")
    truth_frame = load_truth(truth) if truth else None

    def measure(engine: Engine) -> ReportData:
        if view is View.operator:
            return build_report(engine, brand, settings, truth=truth_frame)
        # The ledger the privacy settings name (--ops-db), else one in memory for this run.
        return build_brand_report(engine, brand, settings)

    if spark is not None:
        catalog = parquet_catalog(spark)
        try:
            authorize(catalog, brand)  # the same account check, over the exported tables
        finally:
            catalog.close()
        data = measure(open_spark_engine(spark, spark_session(spark_master)))
    else:
        with open_engine(store, read_only=True) as engine:
            authorize(engine, brand)  # the brand's three-party account scopes what it sees
            data = measure(engine)
    if fmt is ReportFormat.table:
        print_report(data, console, lang.value)
    elif fmt is ReportFormat.csv:
        if out is None:
            typer.echo(frames_for_csv(data)["notes"].to_csv(index=False), nl=False)
        else:
            for path in export_csv(data, out):
                console.print(f"wrote {path}", soft_wrap=True)
    else:
        target = out or Path(f"report-{brand}")
        paths = render_html_bundle(data, target)
        for language, path in paths.items():
            console.print(f"{language}: {path}", soft_wrap=True)
