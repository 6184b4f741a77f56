"""Attach every command module's sub-app to the root app (one line per module)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add all sub-commands to ``app``."""
    from redcat.cli.ingest import ingest_app

    app.add_typer(ingest_app, name="ingest")
    from redcat.cli.match import match_app

    app.add_typer(match_app, name="match")
    from redcat.cli.simulate import simulate_cmd

    app.command("simulate")(simulate_cmd)
    from redcat.cli.paths import paths_app

    app.add_typer(paths_app, name="paths")
