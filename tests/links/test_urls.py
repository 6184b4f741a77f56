"""Destination allow-list: no open redirect; click id appended."""

from __future__ import annotations

import pytest

from redcat.errors import InputError
from redcat.links.urls import validate_destination, with_click_id

HOSTS = ("detail.tmall.com", "*.shop.tmall.com")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://detail.tmall.com/item.htm?id=1", "https://detail.tmall.com/item.htm?id=1"),
        ("HTTPS://DETAIL.TMALL.COM", "https://detail.tmall.com/"),
        ("https://a.shop.tmall.com/x#top", "https://a.shop.tmall.com/x#top"),
        ("https://b.a.shop.tmall.com/", "https://b.a.shop.tmall.com/"),
    ],
)
def test_allowed(url: str, expected: str) -> None:
    assert validate_destination(url, HOSTS) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://detail.tmall.com/",  # not https
        "javascript:alert(1)",
        "//detail.tmall.com/",  # scheme-relative
        "https://evil.com/",
        "https://detail.tmall.com.evil.com/",
        "https://evildetail.tmall.com/",
        "https://shop.tmall.com/",  # the wildcard's bare domain is not a subdomain
        "https://xshop.tmall.com/",
        "https://detail.tmall.com@evil.com/",
        "https://evil.com@detail.tmall.com/",  # user info at all
        "https://user:pw@detail.tmall.com/",
        "https://detail.tmall.com:443/",
        "https://detail.tmall.com:8443/",
        "https://detail.tmall.com:/",
        "https://detail.tmall.com./",
        "https://detail.tmall.com\\@evil.com/",
        "https://evil.com\\.detail.tmall.com/",
        "https://detail.tmall.com /",
        "https://detail.tmall.com/\nLocation: https://evil.com",
        "https://detail.tmаll.com/",  # Cyrillic а (IDN homograph)
        "https://xn--detail-tmll-abc.com/",
        "https://detail%2etmall.com/",
        "https://127.0.0.1/",
        "https://[::1]/",
        "https:///detail.tmall.com",
        "https:detail.tmall.com",
        "https://detail.tmall.com/" + "a" * 2100,
    ],
)
def test_refused(url: str) -> None:
    with pytest.raises(InputError):
        validate_destination(url, HOSTS)


def test_no_hosts_refuses_everything() -> None:
    with pytest.raises(InputError):
        validate_destination("https://detail.tmall.com/", ())


def test_reserved_click_param_refused() -> None:
    with pytest.raises(InputError, match="reserved"):
        validate_destination(
            "https://detail.tmall.com/?rc_click=x", HOSTS, reserved_param="rc_click"
        )
    assert validate_destination(
        "https://detail.tmall.com/?rc_clicks=x", HOSTS, reserved_param="rc_click"
    ).endswith("rc_clicks=x")


@pytest.mark.parametrize(
    ("dest", "expected"),
    [
        ("https://h.com/", "https://h.com/?c=ID"),
        ("https://h.com/p?a=1", "https://h.com/p?a=1&c=ID"),
        ("https://h.com/p?", "https://h.com/p?c=ID"),
        ("https://h.com/p?a=1&", "https://h.com/p?a=1&c=ID"),
        ("https://h.com/p?a=1#frag?x", "https://h.com/p?a=1&c=ID#frag?x"),
        ("https://h.com/p#f", "https://h.com/p?c=ID#f"),
    ],
)
def test_with_click_id(dest: str, expected: str) -> None:
    assert with_click_id(dest, "c", "ID") == expected
