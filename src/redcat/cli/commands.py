"""Attach every command module's sub-app to the root app (one line per module)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add all sub-commands to ``app``."""
    from redcat.cli.ingest import ingest_app

    app.add_typer(ingest_app, name="ingest")
    from redcat.cli.match import match_app

    app.add_typer(match_app, name="match")
    from redcat.cli.clean_room import match_load_cmd, match_report_cmd

    match_app.command("load")(match_load_cmd)
    match_app.command("report")(match_report_cmd)
    from redcat.cli.accounts import accounts_app

    app.add_typer(accounts_app, name="accounts")
    from redcat.cli.simulate import simulate_cmd

    app.command("simulate")(simulate_cmd)
    from redcat.cli.paths import paths_app

    app.add_typer(paths_app, name="paths")
    from redcat.cli.export import export_cmd

    paths_app.command("export")(export_cmd)
    from redcat.cli.report import report_cmd

    app.command("report")(report_cmd)
    from redcat.cli.demo import demo_cmd

    app.command("demo")(demo_cmd)
    from redcat.cli.attribute import attribute_app

    app.add_typer(attribute_app, name="attribute")
    from redcat.cli.roi import roi_cmd

    app.command("roi")(roi_cmd)
    from redcat.cli.lift import lift_app

    app.add_typer(lift_app, name="lift")
    from redcat.cli.assets import assets_cmd

    app.command("assets")(assets_cmd)
    from redcat.cli.links import links_app

    app.add_typer(links_app, name="links")
    from redcat.cli.web import register_web

    register_web(app)
    from redcat.cli.privacy import privacy_app

    app.add_typer(privacy_app, name="privacy")
    from redcat.cli.spark import spark_app

    app.add_typer(spark_app, name="spark")
