"""Fixtures of the audience-asset tests: ``store(content, commerce)`` opens a hand-made
in-memory store (see :mod:`tests.assets.hand_world`) and closes it after the test."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import pytest
from tests.assets.hand_world import CommerceRow, ContentRow, build_store

from redcat.engine import Engine


@pytest.fixture
def store() -> Iterator[Callable[[Sequence[ContentRow], Sequence[CommerceRow]], Engine]]:
    opened: list[Engine] = []

    def make(content: Sequence[ContentRow], commerce: Sequence[CommerceRow]) -> Engine:
        engine = build_store(content, commerce)
        opened.append(engine)
        return engine

    yield make
    for engine in opened:
        engine.close()
