"""Who clicked: a coarse user-agent class, a salted hash of the address, and bot flags.

Nothing here keeps a raw user agent or IP address: the click log stores the class (``bot``,
``inapp``, ``mobile``, ``tablet``, ``desktop``, ``other``) and an HMAC of the address under a
server secret, enough to count unique clickers and spot bursts, not to identify anyone.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass

UA_CLASSES: tuple[str, ...] = ("bot", "inapp", "mobile", "tablet", "desktop", "other")


def bot_pattern(patterns: Iterable[str]) -> re.Pattern[str]:
    """Return one case-insensitive regex matching any of ``patterns`` (regex fragments)."""
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


_INAPP = re.compile(r"xhsdiscover|xiaohongshu|micromessenger|weibo|dingtalk|aweme", re.I)
_TABLET = re.compile(r"ipad|tablet|kindle|silk/", re.I)
_MOBILE = re.compile(r"mobile|iphone|android|harmonyos", re.I)
_DESKTOP = re.compile(r"windows nt|macintosh|x11|cros", re.I)


def ua_class(user_agent: str | None, bots: re.Pattern[str]) -> str:
    """Return the coarse class of ``user_agent`` (one of ``UA_CLASSES``); an empty or missing
    user agent is a bot (browsers always send one)."""
    if not user_agent or bots.search(user_agent):
        return "bot"
    if _INAPP.search(user_agent):
        return "inapp"
    if _TABLET.search(user_agent):
        return "tablet"
    if _MOBILE.search(user_agent):
        return "mobile"
    if _DESKTOP.search(user_agent):
        return "desktop"
    return "other"


def hash_ip(address: str | None, salt: bytes) -> str:
    """Return a 32-hex-character HMAC-SHA256 of ``address`` under ``salt`` ('' when unknown)."""
    if not address:
        return ""
    return hmac.new(salt, address.encode("utf-8", "replace"), hashlib.sha256).hexdigest()[:32]


@dataclass
class BurstDetector:
    """Sliding-window rate check per source: more than ``max_clicks`` clicks from one source
    within ``window_seconds`` flags the excess clicks as a burst.

    State is in memory and per process (it resets on restart and is not shared between workers;
    a burst split over workers is seen per worker). At most ``max_sources`` sources are tracked,
    least recently seen evicted first, so memory stays bounded under address spraying.
    """

    max_clicks: int
    window_seconds: float
    max_sources: int = 100_000

    def __post_init__(self) -> None:
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def hit(self, source: str, now: float) -> bool:
        """Record a click from ``source`` at ``now`` (seconds) and return True if it exceeds the
        limit (the click is part of a burst)."""
        if not source:
            return False
        with self._lock:
            times = self._seen.get(source)
            if times is None:
                times = deque()
                self._seen[source] = times
                if len(self._seen) > self.max_sources:
                    self._seen.popitem(last=False)
            else:
                self._seen.move_to_end(source)
            start = now - self.window_seconds
            while times and times[0] <= start:
                times.popleft()
            times.append(now)
            # Keep at most max_clicks + 1 stamps: enough to know the window is over the limit.
            if len(times) > self.max_clicks + 1:
                times.popleft()
            return len(times) > self.max_clicks
