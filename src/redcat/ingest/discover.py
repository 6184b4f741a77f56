"""Find a party's export files in a directory: one file per contract table, named after it.

``DIR/notes.csv`` holds the ``notes`` table, ``DIR/content_events.parquet`` the content events, and
so on (suffix ``.csv``, ``.parquet`` or ``.jsonl``). Files that name no table of the party are
reported and skipped; two files for one table are an error, as is a missing required table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from redcat.errors import InputError
from redcat.ingest.contract import ALL_TABLES, FILE_SUFFIXES, Party, TableSpec, tables_for

# The event tables carry the measurement; the others may arrive in a later export (or never:
# a retailer without brand terms simply yields no back-search metric).
REQUIRED_TABLES: dict[Party, tuple[str, ...]] = {
    "content": ("content_events",),
    "retailer": ("commerce_events",),
}

_RETAILER_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")


@dataclass(frozen=True)
class Discovery:
    """The files of one party's export directory.

    ``files`` maps each table found to its file, in contract order; ``missing`` names the
    optional tables without a file; ``skipped`` lists files that name no table of the party,
    with ``notes`` saying why (one line each).
    """

    party: Party
    directory: Path
    files: tuple[tuple[TableSpec, Path], ...]
    missing: tuple[str, ...]
    skipped: tuple[Path, ...]
    notes: tuple[str, ...]


def check_retailer_id(name: str) -> str:
    """Return ``name`` if it is a valid retailer id (lowercase letters, digits, ``_`` and ``-``,
    starting with a letter or digit, at most 64 characters); raise :class:`InputError` otherwise."""
    if not _RETAILER_NAME.fullmatch(name):
        raise InputError(
            f"invalid retailer name {name!r}: use lowercase letters, digits, '_' and '-' "
            "(starting with a letter or digit, at most 64 characters)"
        )
    return name


def discover(directory: Path, party: Party) -> Discovery:
    """Return the contract files of ``party`` found in ``directory``.

    Hidden files and sub-directories are ignored. Raises :class:`InputError` when the directory
    does not exist, when one table has two files, or when a required table has none.
    """
    if not directory.is_dir():
        raise InputError(f"{directory} is not a directory")
    wanted = {spec.name: spec for spec in tables_for(party)}
    found: dict[str, list[Path]] = {}
    skipped: list[Path] = []
    notes: list[str] = []
    for path in sorted(directory.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        suffix = path.suffix.lower()
        if suffix not in FILE_SUFFIXES:
            skipped.append(path)
            notes.append(
                f"skipped {path}: not a contract file (expected <table>{'|'.join(FILE_SUFFIXES)})"
            )
            continue
        if path.stem in wanted:
            found.setdefault(path.stem, []).append(path)
            continue
        skipped.append(path)
        if path.stem in ALL_TABLES:
            owner = ALL_TABLES[path.stem].party
            notes.append(f"skipped {path}: {path.stem!r} is a {owner} table, not a {party} one")
        else:
            notes.append(
                f"skipped {path}: {path.stem!r} is not a {party} table "
                f"(expected one of: {', '.join(wanted)})"
            )
    for name, paths in found.items():
        if len(paths) > 1:
            raise InputError(
                f"two files for table {name!r} in {directory}: "
                f"{', '.join(p.name for p in paths)}; keep one"
            )
    for name in REQUIRED_TABLES[party]:
        if name not in found:
            raise InputError(
                f"no file for the required table {name!r} in {directory} "
                f"(expected {name}.csv, {name}.parquet or {name}.jsonl)"
            )
    missing = tuple(name for name in wanted if name not in found)
    notes.extend(f"no file for the optional table {name!r}; skipped" for name in missing)
    files = tuple((spec, found[name][0]) for name, spec in wanted.items() if name in found)
    return Discovery(
        party=party,
        directory=directory,
        files=files,
        missing=missing,
        skipped=tuple(skipped),
        notes=tuple(notes),
    )
