"""``python -m redcat.links --db URL [--host H] [--port P]``: serve the links service alone,
without loading the whole CLI (same as ``redcat links serve``; starts faster)."""

from __future__ import annotations

import argparse

from redcat.links.app import serve
from redcat.settings import Settings


def main(argv: list[str] | None = None) -> None:
    """Parse the options and serve until stopped."""
    settings = Settings()
    parser = argparse.ArgumentParser(prog="python -m redcat.links", description=__doc__)
    parser.add_argument("--db", default=settings.web.ops_db, help="operational store URL")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8710)
    args = parser.parse_args(argv)
    serve(args.db, settings.links, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
