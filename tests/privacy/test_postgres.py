"""The budget ledger on a real PostgreSQL server (skipped when none answers locally): concurrent
spends cannot overspend, refusals spend nothing, repeated questions get the stored answer.

``.ci/postgres.sh`` installs and starts one; the URL comes from ``REDCAT_TEST_PG_URL``. Each run
works in a fresh schema it drops afterwards.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from tests.pg import fresh_schema, needs_postgres

from redcat.errors import PrivacyBudgetExceeded
from redcat.privacy.ledger import BudgetLedger
from redcat.settings import PrivacySettings
from redcat.store.db import make_engine

SMALL = PrivacySettings(epsilon_per_period=3.0, release_epsilon={"table": 1.0, "cell": 0.25})


pytestmark = needs_postgres


@pytest.fixture
def ledger() -> Iterator[tuple[BudgetLedger, str]]:
    with fresh_schema("privacy", migrate=True) as (engine, url):
        yield BudgetLedger(engine, SMALL), url


def test_concurrent_spends_on_postgres(ledger: tuple[BudgetLedger, str]) -> None:
    main_ledger, url = ledger
    # One ledger (engine, connection pool, process lock) per thread: only the database's
    # conditional update stands between them, as between separate processes.
    ledgers = [BudgetLedger(make_engine(url), SMALL) for _ in range(6)]
    ok: list[int] = []
    start = threading.Barrier(6)

    def worker(n: int) -> None:
        start.wait()
        for i in range(4):
            try:
                ledgers[n].release("B01", f"q{n}-{i}", name="t", kind="cell", epsilon=0.25,
                               compute=lambda: "a")  # fmt: skip
                ok.append(1)
            except PrivacyBudgetExceeded:
                pass

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for other in ledgers:
        other.engine.dispose()
    ledger = main_ledger
    assert len(ok) == 12
    status = ledger.status("B01")
    assert status.spent == 3.0 and status.releases == 12
    again = ledger.release("B01", "q0-0", name="t", kind="cell", epsilon=0.25,
                           compute=lambda: "new")  # fmt: skip
    assert again.cached and again.answer == "a"
    with pytest.raises(PrivacyBudgetExceeded):
        ledger.release("B01", "fresh", name="t", kind="cell", epsilon=0.25, compute=lambda: "b")
    assert ledger.status("B01").spent == 3.0
