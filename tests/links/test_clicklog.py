"""The hot path: commit before answer, link cache expiry, SQLite timestamp format."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine, select

from redcat.links.clicklog import ClickLog, ClickRecord, LinkTarget, new_click_id
from redcat.links.service import create_link, set_link_active
from redcat.settings import LinksSettings
from redcat.store.db import session_factory, session_scope
from redcat.store.links import Click

TS = datetime(2026, 11, 25, 8, 30, 1, 250)


def _maker(link_id: str) -> tuple[list[str], Callable[[LinkTarget], ClickRecord]]:
    made: list[str] = []

    def make(target: LinkTarget) -> ClickRecord:
        click_id = new_click_id()
        made.append(click_id)
        return ClickRecord(click_id, link_id, target.note_id, TS, "mobile", "h" * 32, None)

    return made, make


def test_record_commits_and_cache_expires(ops_engine: Engine) -> None:
    sessions = session_factory(ops_engine)
    with session_scope(sessions) as s:
        link = create_link(
            s,
            brand_id="b",
            note_id="n7",
            retailer_id="jd",
            url="https://item.jd.com/1.html?x=1#top",
            settings=LinksSettings(),
        )
    now = [0.0]
    log = ClickLog(ops_engine, click_param="rc", cache_seconds=5.0, clock=lambda: now[0])
    made, make = _maker(link.link_id)
    location = log.record(link.link_id, make)
    assert location == f"https://item.jd.com/1.html?x=1&rc={made[0]}#top"
    # Committed: another connection sees it, with SQLAlchemy's own DateTime round trip.
    with sessions() as s:
        [click] = s.scalars(select(Click))
        assert (click.click_id, click.note_id, click.ts, click.is_bot) == (made[0], "n7", TS, False)
    with session_scope(sessions) as s:
        set_link_active(s, link.link_id, False)
    now[0] = 4.9  # still cached: the disabled link answers for up to cache_seconds
    assert log.record(link.link_id, make) is not None
    now[0] = 5.0
    assert log.record(link.link_id, make) is None
    assert log.record("0" * 24, make) is None
    log.close()
    with sessions() as s:
        assert len(list(s.scalars(select(Click)))) == 2


def test_background_checkpoint_moves_clicks_into_the_database_file(
    ops_engine: Engine, ops_url: str
) -> None:
    with session_scope(session_factory(ops_engine)) as s:
        link = create_link(
            s,
            brand_id="b",
            note_id="n",
            retailer_id="jd",
            url="https://item.jd.com/1.html",
            settings=LinksSettings(),
        )
    log = ClickLog(ops_engine, click_param="rc", checkpoint_seconds=0.05)
    _made, make = _maker(link.link_id)
    for _ in range(20):
        assert log.record(link.link_id, make) is not None
    path = ops_url.removeprefix("sqlite:///")

    def in_main_file() -> int:
        # immutable=1 reads the database file alone, ignoring the WAL: rows show there only
        # once a checkpoint copied them.
        con = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
        try:
            return int(con.execute("SELECT count(*) FROM clicks").fetchone()[0])
        except sqlite3.DatabaseError:
            # not even the schema checkpointed yet, or a checkpoint is writing the file under
            # this immutable reader (a torn read shows as "malformed"): not there yet
            return 0
        finally:
            con.close()

    deadline = time.monotonic() + 10
    while (seen := in_main_file()) < 20 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert seen == 20
    log.close()
    assert log._checkpointer is None
