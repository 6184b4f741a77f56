"""Same config → byte-identical files; another seed → another world."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest

from redcat.simulate import simulate_world
from redcat.simulate.config import WorldConfig


def digests(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_same_seed_same_bytes(fmt: str, written, tiny, tmp_path: Path) -> None:
    first = written(fmt).out
    simulate_world(tiny, tmp_path / "again", fmt)
    a, b = digests(first), digests(tmp_path / "again")
    assert len(a) == 4 + 3 * 3 + 2  # content, 3 per retailer, note_truth, world.json
    assert a == b


def test_rewriting_into_the_same_directory_replaces_the_world(tmp_path: Path) -> None:
    config = WorldConfig(users=300, days=3, brands=1, retailers=1, history_days=2)
    simulate_world(config, tmp_path, "csv")
    before = digests(tmp_path)
    simulate_world(config, tmp_path, "parquet")
    simulate_world(config, tmp_path, "csv")
    assert digests(tmp_path) == before  # no stale parquet files left behind


def test_other_seed_other_world(written, tiny, tmp_path: Path) -> None:
    a = digests(written("csv").out)
    simulate_world(replace(tiny, seed=tiny.seed + 1), tmp_path, "csv")
    b = digests(tmp_path)
    assert a.keys() == b.keys()
    for name in (
        "content/content_events.csv",
        "content/holdouts.csv",
        "retailers/tmall/commerce_events.csv",
        "retailers/vip/commerce_events.csv",
        "truth/note_truth.csv",
    ):
        assert a[name] != b[name], name
