"""The budget ledger: atomic spends, refusals that spend nothing, cached answers, concurrency."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from redcat.errors import AccessDenied, ConfigError, PrivacyBudgetExceeded
from redcat.privacy.ledger import BudgetLedger, current_period, query_hash
from redcat.settings import PrivacySettings
from redcat.store.db import load_models
from redcat.store.privacy import to_micro

SMALL = PrivacySettings(epsilon_per_period=3.0, release_epsilon={"table": 1.0, "cell": 0.25})


def _answer(text: str):  # type: ignore[no-untyped-def]
    calls: list[int] = []

    def compute() -> str:
        calls.append(1)
        return text

    return compute, calls


def test_query_hash_is_canonical() -> None:
    a = query_hash("B01", "notes", {"from": "2026-05-01", "to": "2026-05-31"}, 1.0)
    b = query_hash("B01", "notes", {"to": "2026-05-31", "from": "2026-05-01"}, 1.0)
    assert a == b and len(a) == 64
    assert a != query_hash("B02", "notes", {"from": "2026-05-01", "to": "2026-05-31"}, 1.0)
    assert a != query_hash("B01", "notes", {"from": "2026-05-01", "to": "2026-05-30"}, 1.0)
    assert a != query_hash("B01", "notes", {"from": "2026-05-01", "to": "2026-05-31"}, 0.5)


def test_micro_epsilon_rounds_up() -> None:
    assert to_micro(1.0) == 1_000_000
    assert to_micro(0.1) == 100_000
    assert to_micro(1e-7) == 1


def test_spend_until_refused_and_refusal_spends_nothing() -> None:
    ledger = BudgetLedger.in_memory(SMALL)
    assert dict(ledger.remaining("B01")) == {"table": 3, "cell": 12}
    for i in range(3):
        out = ledger.release(
            "B01", f"q{i}", name="t", kind="table", epsilon=1.0, compute=lambda: "{}"
        )
        assert not out.cached and out.epsilon == 1.0
    status = ledger.status("B01")
    assert (status.spent, status.remaining, status.releases) == (3.0, 0.0, 3)
    assert dict(status.releases_left) == {"table": 0, "cell": 0}
    compute, _calls = _answer("never released")
    with pytest.raises(PrivacyBudgetExceeded, match=r"B01.*needs ε=0.25, 0 is left"):
        ledger.release("B01", "q9", name="t", kind="cell", epsilon=0.25, compute=compute)
    assert ledger.status("B01").spent == 3.0
    assert ledger.lookup("B01", "q9") is None
    # A refusal is an access denial: the CLI prints one line.
    assert issubclass(PrivacyBudgetExceeded, AccessDenied)
    # Other brands and other periods have their own budgets.
    assert ledger.status("B02").remaining == 3.0
    assert ledger.status("B01", "1999-01").remaining == 3.0


def test_partial_fit_is_refused_whole() -> None:
    ledger = BudgetLedger.in_memory(SMALL)
    ledger.release("B01", "a", name="t", kind="table", epsilon=2.5, compute=lambda: "x")
    with pytest.raises(PrivacyBudgetExceeded):
        ledger.release("B01", "b", name="t", kind="table", epsilon=1.0, compute=lambda: "y")
    ledger.release("B01", "c", name="t", kind="cell", epsilon=0.5, compute=lambda: "z")
    assert ledger.status("B01").remaining == 0.0


def test_same_question_returns_stored_answer_without_spending() -> None:
    ledger = BudgetLedger.in_memory(SMALL)
    first = ledger.release(
        "B01", "q", name="t", kind="table", epsilon=1.0, compute=lambda: "answer-1"
    )
    compute, calls = _answer("answer-2")
    again = ledger.release("B01", "q", name="t", kind="table", epsilon=1.0, compute=compute)
    assert again.answer == first.answer == "answer-1"
    assert again.cached and again.epsilon == 0.0 and calls == []
    assert ledger.status("B01").spent == 1.0
    # Even with the budget gone, the stored answer is still given.
    ledger.set_budget("B01", 1.0)
    assert (
        ledger.release("B01", "q", name="t", kind="table", epsilon=1.0, compute=compute).answer
        == "answer-1"
    )


def test_bad_epsilon_and_budget() -> None:
    ledger = BudgetLedger.in_memory(SMALL)
    with pytest.raises(ConfigError):
        ledger.release("B01", "q", name="t", kind="table", epsilon=0.0, compute=lambda: "")
    with pytest.raises(ConfigError):
        ledger.set_budget("B01", -1.0)


def test_period_is_the_utc_month() -> None:
    from datetime import datetime

    assert current_period(datetime(2026, 1, 31, 23, 59)) == "2026-01"
    ledger = BudgetLedger.in_memory(SMALL, clock=lambda: datetime(2026, 12, 1))
    assert ledger.period() == "2026-12"


def test_threads_cannot_overspend(tmp_path: Path) -> None:
    ledger = BudgetLedger.open(f"sqlite:///{tmp_path / 'ops.db'}", SMALL)
    ok: list[str] = []
    refused: list[str] = []
    start = threading.Barrier(8)

    def worker(n: int) -> None:
        start.wait()
        for i in range(4):
            try:
                ledger.release(
                    "B01", f"t{n}-{i}", name="t", kind="cell", epsilon=0.25, compute=lambda: "a"
                )
                ok.append(f"{n}-{i}")
            except PrivacyBudgetExceeded:
                refused.append(f"{n}-{i}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ok) == 12 and len(refused) == 20  # 3.0 / 0.25 = 12 spends fit
    status = ledger.status("B01")
    assert status.spent == 3.0 and status.releases == 12


def _spend_many(url: str, proc: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    ledger = BudgetLedger.open(url, SMALL)
    done = 0
    for i in range(6):
        try:
            ledger.release(
                "B01", f"p{proc}-{i}", name="t", kind="cell", epsilon=0.25, compute=lambda: "a"
            )
            done += 1
        except PrivacyBudgetExceeded:
            pass
    out.put(done)


def test_processes_cannot_overspend(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ops.db'}"
    BudgetLedger.open(url, SMALL)  # migrate once before the race
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_spend_many, args=(url, n, out)) for n in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    done = sum(out.get(timeout=5) for _ in procs)
    assert done == 12  # 24 attempts, 12 fit
    assert BudgetLedger.open(url, SMALL).status("B01").spent == 3.0


def test_migration_matches_models(tmp_path: Path) -> None:
    ledger = BudgetLedger.open(f"sqlite:///{tmp_path / 'ops.db'}")
    with ledger.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), load_models())
    mine = [d for d in diffs if "privacy" in repr(d)]
    assert mine == []
