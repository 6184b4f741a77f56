"""The ``redcat`` command: one Typer app with a sub-command per domain step."""

from __future__ import annotations

import functools
import sys

import typer
from rich.markup import escape

from redcat import __version__
from redcat.cli.common import err_console
from redcat.errors import RedcatError

app = typer.Typer(
    name="redcat",
    help="redcat: seeding-to-sales (种草 → 拔草) measurement clean room.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def root() -> None:
    """redcat: seeding-to-sales (种草 → 拔草) measurement clean room."""


@app.command()
def version() -> None:
    """Print redcat's version."""
    typer.echo(__version__)


@functools.cache
def _register() -> None:
    # Sub-apps register themselves here; each lives in its own module. Once per process: every
    # registration adds commands, and Typer rebuilds all of them on each call.
    from redcat.cli import commands

    commands.register(app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit status; a :class:`RedcatError` becomes one line on stderr
    and status 2, never a traceback. Usage errors keep the parser's own message and status."""
    _register()
    try:
        app(args=argv, prog_name="redcat")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except RedcatError as exc:
        # One unwrapped line, the message escaped so that brackets in it are not read as markup.
        err_console.print(
            f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
        )
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
