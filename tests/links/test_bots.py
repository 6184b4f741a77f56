"""User-agent classes, IP hashing and the burst detector."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from redcat.links.bots import BurstDetector, bot_pattern, hash_ip, ua_class
from redcat.settings import LinksSettings

BOTS = bot_pattern(LinksSettings().bot_user_agents)
IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"


@pytest.mark.parametrize(
    ("ua", "cls"),
    [
        (None, "bot"),
        ("", "bot"),
        ("Googlebot/2.1 (+http://www.google.com/bot.html)", "bot"),
        ("Mozilla/5.0 (compatible; bingbot/2.0)", "bot"),
        ("curl/8.4.0", "bot"),
        ("python-requests/2.31", "bot"),
        ("Mozilla/5.0 HeadlessChrome/120.0", "bot"),
        (IPHONE + " xhsdiscover/8.0", "inapp"),
        (IPHONE, "mobile"),
        ("Mozilla/5.0 (Linux; Android 14; Pixel 8) Mobile Safari/537.36", "mobile"),
        ("Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X)", "tablet"),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0", "desktop"),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) Safari/605.1.15", "desktop"),
        ("SomethingElse/1.0", "other"),
    ],
)
def test_ua_class(ua: str | None, cls: str) -> None:
    assert ua_class(ua, BOTS) == cls


def test_hash_ip_is_salted_and_stable() -> None:
    a = hash_ip("203.0.113.7", b"s" * 32)
    assert a == hash_ip("203.0.113.7", b"s" * 32)
    assert a != hash_ip("203.0.113.7", b"t" * 32)
    assert len(a) == 32 and "203" not in a
    assert hash_ip(None, b"s" * 32) == ""


def test_burst_exact_window() -> None:
    det = BurstDetector(max_clicks=3, window_seconds=10.0)
    # Three clicks are fine, the fourth within 10 s is a burst, sources are independent.
    assert [det.hit("a", t) for t in (0.0, 1.0, 2.0, 3.0)] == [False, False, False, True]
    assert det.hit("b", 3.0) is False
    # At t=12.5 the window is (2.5, 12.5]: only the click at 3 is left, so this is the second.
    assert det.hit("a", 12.5) is False
    assert det.hit("", 12.5) is False  # unknown source never bursts


def test_burst_sources_bounded() -> None:
    det = BurstDetector(max_clicks=1, window_seconds=100.0, max_sources=2)
    det.hit("a", 0.0)
    det.hit("b", 0.0)
    det.hit("c", 0.0)  # evicts "a"
    assert det.hit("a", 1.0) is False
    assert det.hit("c", 1.0) is True


@given(st.lists(st.floats(0, 1000, allow_nan=False), min_size=1, max_size=60))
def test_burst_matches_naive_count(times: list[float]) -> None:
    times = sorted(times)
    det = BurstDetector(max_clicks=4, window_seconds=5.0)
    for i, t in enumerate(times):
        naive = sum(1 for s in times[: i + 1] if s > t - 5.0) > 4
        assert det.hit("x", t) is naive
