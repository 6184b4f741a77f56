"""The budget ledger on a real PostgreSQL server (skipped when none answers locally): concurrent
spends cannot overspend, refusals spend nothing, repeated questions get the stored answer.

``.ci/postgres.sh`` installs and starts one; the URL comes from ``REDCAT_TEST_PG_URL``. Each run
works in a fresh schema it drops afterwards.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterator

import pytest

from redcat.errors import PrivacyBudgetExceeded
from redcat.privacy.ledger import BudgetLedger
from redcat.settings import PrivacySettings
from redcat.store.db import make_engine, upgrade

PG_URL = os.environ.get(
    "REDCAT_TEST_PG_URL", "postgresql+psycopg://redcat:redcat@127.0.0.1:5432/redcat_test"
)
SMALL = PrivacySettings(epsilon_per_period=3.0, release_epsilon={"table": 1.0, "cell": 0.25})


def _reachable() -> bool:
    try:
        import psycopg
    except ImportError:
        return False
    try:
        dsn = PG_URL.replace("postgresql+psycopg://", "postgresql://")
        psycopg.connect(dsn, connect_timeout=2).close()
    except psycopg.Error:
        return False
    return True


pytestmark = pytest.mark.skipif(not _reachable(), reason=f"no PostgreSQL at {PG_URL}")


@pytest.fixture
def ledger() -> Iterator[tuple[BudgetLedger, str]]:
    schema = f"privacy_{secrets.token_hex(4)}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    engine = make_engine(url)
    upgrade(url, engine=engine)
    try:
        yield BudgetLedger(engine, SMALL), url
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


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
