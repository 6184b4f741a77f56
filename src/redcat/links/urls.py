"""Destination URLs of ad links: allow-listed retailer hosts only, and the click id appended.

The redirect service must never become an open redirect, so a destination is accepted only if it
is an ``https`` URL whose host is, character for character, one of the retailer's allow-listed
hosts (or a subdomain of a ``*.``-pattern). Everything that lets a URL look like one host to a
reader and another to a browser is refused rather than normalized: user info (``@``), explicit
ports, backslashes, whitespace or control characters, percent-escapes or non-ASCII in the host
(IDN homographs; an allow-listed host must be given in its ASCII/punycode form), IP literals and
a trailing dot.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from redcat.errors import InputError

MAX_URL_CHARS = 2048
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_FORBIDDEN = re.compile(r"[\x00-\x20\x7f\\]")


def _host_allowed(host: str, allowed: Iterable[str]) -> bool:
    for pattern in allowed:
        pattern = pattern.lower()
        if pattern.startswith("*."):
            suffix = pattern[1:]  # ".tmall.com": a real subdomain, never the bare "xtmall.com"
            if host.endswith(suffix) and len(host) > len(suffix):
                return True
        elif host == pattern:
            return True
    return False


def validate_destination(
    url: str, allowed_hosts: Iterable[str], *, reserved_param: str | None = None
) -> str:
    """Return ``url`` in canonical form (lowercase scheme and host) if it is a safe destination
    on one of ``allowed_hosts`` whose query does not use ``reserved_param`` (the click id
    parameter); raise :class:`InputError` (field ``url``) saying why not."""

    def refuse(reason: str) -> InputError:
        return InputError(f"destination {url!r} refused: {reason}", field="url")

    allowed = tuple(allowed_hosts)
    if not allowed:
        raise refuse("the retailer has no allow-listed hosts")
    if len(url) > MAX_URL_CHARS:
        raise refuse(f"longer than {MAX_URL_CHARS} characters")
    if not url.isascii():
        raise refuse("non-ASCII characters (give the host in punycode, escape the path)")
    if _FORBIDDEN.search(url):
        raise refuse("whitespace, control characters or backslashes")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise refuse(f"not a URL ({exc})") from exc
    if parts.scheme.lower() != "https":
        raise refuse("only https destinations are allowed")
    if "@" in parts.netloc:
        raise refuse("user info ('@') in the authority")
    if port is not None or parts.netloc.endswith(":"):
        raise refuse("explicit ports are not allowed")
    host = parts.netloc.lower()
    if not host:
        raise refuse("no host")
    if host.endswith("."):
        raise refuse("trailing dot in the host")
    labels = host.split(".")
    if len(labels) < 2 or not all(_HOST_LABEL.match(label) for label in labels):
        raise refuse("the host is not a plain DNS name")
    if labels[-1].isdigit():
        raise refuse("IP address hosts are not allowed")
    if not _host_allowed(host, allowed):
        raise refuse(f"host {host!r} is not allow-listed for this retailer")
    if reserved_param and any(
        k == reserved_param for k, _ in parse_qsl(parts.query, keep_blank_values=True)
    ):
        raise refuse(f"the query parameter {reserved_param!r} is reserved for the click id")
    return urlunsplit(("https", host, parts.path or "/", parts.query, parts.fragment))


def click_template(destination: str, param: str) -> tuple[str, str]:
    """Return (prefix, suffix) such that ``prefix + click_id + suffix`` is ``destination`` with
    ``param=click_id`` added as the last query parameter, path and fragment kept.

    Click ids are URL-safe base64, so they need no escaping; precomputing the split keeps URL
    parsing off the redirect's hot path.
    """
    base, hash_, fragment = destination.partition("#")
    sep = "&" if "?" in base and not base.endswith(("?", "&")) else ("" if "?" in base else "?")
    return f"{base}{sep}{param}=", f"{hash_}{fragment}"


def with_click_id(destination: str, param: str, click_id: str) -> str:
    """Return ``destination`` with ``param=click_id`` appended to its query."""
    prefix, suffix = click_template(destination, param)
    return prefix + click_id + suffix
