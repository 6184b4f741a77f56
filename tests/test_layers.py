"""Imports run one way: faces (cli, web) → report → privacy → measurements → engine and storage →
contracts, settings and errors (DESIGN.md). A module may import its own layer or any layer below,
never one above, and nothing imports a face."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "redcat"

# Higher numbers sit higher; the first matching prefix wins.
LAYERS: tuple[tuple[str, int], ...] = (
    ("redcat.cli", 6),
    ("redcat.web", 6),
    ("redcat.report", 5),
    ("redcat.privacy", 4),
    ("redcat.ingest.contract", 0),
    ("redcat.funnel", 3),
    ("redcat.attribution", 3),
    ("redcat.lift", 3),
    ("redcat.assets", 3),
    ("redcat.links", 3),
    ("redcat.match", 2),
    ("redcat.ingest", 2),
    ("redcat.simulate", 2),
    ("redcat.engine", 1),
    ("redcat.store", 1),
    ("redcat.errors", 0),
    ("redcat.settings", 0),
)
ROOT = "redcat"  # the package root itself (its version string) sits at the bottom


def layer(module: str) -> int:
    if module == ROOT:
        return 0
    for prefix, level in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            return level
    raise AssertionError(f"{module} has no layer: add it to LAYERS")


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("redcat")]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("redcat"):
            found.append((node.lineno, str(node.module)))
    return found


def test_layer_helper() -> None:
    assert layer("redcat.ingest.contract") == 0
    assert layer("redcat.ingest.load") == 2
    assert layer("redcat.report.sections.lift") == 5
    with pytest.raises(AssertionError):
        layer("redcat.nowhere")


def test_imports_point_down() -> None:
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 50
    upward: list[str] = []
    for path in files:
        here = module_name(path)
        for line, target in imports(path):
            if layer(target) > layer(here):
                upward.append(f"{path.relative_to(SRC.parent)}:{line}: {here} imports {target}")
    assert upward == []
