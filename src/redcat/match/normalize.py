"""Identifier normalization: the canonical form both parties hash before private set intersection.

PSI only finds people whose identifiers are byte-for-byte equal after normalization, so both
parties must run exactly these rules. Each rule either returns the canonical string or raises
:class:`Rejected` with a reason (never another exception):

- ``phone``: Unicode NFKC (full-width digits and ``＋`` become ASCII), spaces, dashes, dots and
  parentheses dropped, a leading ``00`` read as ``+``; then E.164 ``+<country><number>``. Without a
  country code only an 11-digit mainland mobile (``1[3-9]`` + 9 digits) is accepted and gets
  ``+86``; ``86`` + such a mobile (13 digits) is read as ``+86`` too. A ``+86`` number must be a
  mainland mobile (users are keyed by mobile; landlines are rejected rather than guessed). Other
  countries: 7 to 15 digits, first digit not 0.
- ``email``: NFKC, trimmed, lower-cased (case-folded); one ``@``, a non-empty local part and a
  dotted domain, no spaces. For ``gmail.com`` / ``googlemail.com`` (which ignore dots and
  ``+tags`` in the local part) dots and the ``+tag`` are dropped and the domain is
  ``gmail.com``, as the industry's shared-identifier schemes do; other providers' local parts are
  kept as written, since dots and ``+`` are significant there.
- ``device_id``: trimmed, lower-cased; letters, digits and ``-_:.`` only, at most 128 characters;
  an all-zero id (the advertising-id placeholder when tracking is limited) is rejected, as it would
  match every such device.
- ``user_key``: an opaque key (e.g. a hashed phone number already normalized upstream): trimmed
  only.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

MAX_IDENTIFIER_CHARS = 256

# Priority order of the waterfall: a person matched on an earlier type is not matched on a later.
WATERFALL: tuple[str, ...] = ("phone", "email", "device_id")
ID_TYPES: tuple[str, ...] = (*WATERFALL, "user_key")


class Rejected(ValueError):
    """An identifier that cannot be normalized; ``reason`` says why (one short phrase)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_PHONE_STRIP = re.compile(r"[\s\-().]")
_MAINLAND_MOBILE = re.compile(r"1[3-9][0-9]{9}")
_EMAIL_LOCAL = re.compile(r"[^\s@]+")
_LABEL = r"[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?"
_EMAIL_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})+")
_DEVICE = re.compile(r"[0-9a-z\-_:.]+")
_GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})


def _prepare(raw: object) -> str:
    if not isinstance(raw, str):
        raise Rejected(f"not a string ({type(raw).__name__})")
    text = unicodedata.normalize("NFKC", raw).strip()
    if not text:
        raise Rejected("empty")
    if len(text) > MAX_IDENTIFIER_CHARS:
        raise Rejected(f"longer than {MAX_IDENTIFIER_CHARS} characters")
    return text


def normalize_phone(raw: object) -> str:
    """Return ``raw`` as an E.164 string (``+8613812345678``), or raise :class:`Rejected`."""
    if isinstance(raw, str) and len(raw) == 11 and _MAINLAND_MOBILE.fullmatch(raw):
        return "+86" + raw  # the common case, without the Unicode normalization's cost
    text = _PHONE_STRIP.sub("", _prepare(raw))
    if text.startswith("00"):
        text = "+" + text[2:]
    international = text.startswith("+")
    digits = text[1:] if international else text
    if not digits.isascii() or not digits.isdigit():
        raise Rejected("phone has characters other than digits, spaces, dashes and parentheses")
    if not international:
        if len(digits) == 11 and _MAINLAND_MOBILE.fullmatch(digits):
            return "+86" + digits
        if len(digits) == 13 and digits.startswith("86") and _MAINLAND_MOBILE.fullmatch(digits[2:]):
            return "+" + digits
        raise Rejected("phone without country code is not an 11-digit mainland mobile")
    if digits.startswith("86"):
        if _MAINLAND_MOBILE.fullmatch(digits[2:]):
            return "+" + digits
        raise Rejected("+86 phone is not an 11-digit mainland mobile")
    if not 7 <= len(digits) <= 15 or digits.startswith("0"):
        raise Rejected("international phone must have 7 to 15 digits after + and no leading 0")
    return "+" + digits


def normalize_email(raw: object) -> str:
    """Return ``raw`` as a lower-case address (gmail dots and +tags dropped), or raise."""
    text = _prepare(raw).casefold()
    if text.count("@") != 1:
        raise Rejected("e-mail must contain exactly one @")
    local, domain = text.split("@")
    if not local or not _EMAIL_LOCAL.fullmatch(local):
        raise Rejected("e-mail local part is empty or has spaces")
    if not _EMAIL_DOMAIN.fullmatch(domain):
        raise Rejected("e-mail domain is not a dotted host name")
    if domain in _GMAIL_DOMAINS:
        local = local.split("+", 1)[0].replace(".", "")
        if not local:
            raise Rejected("gmail local part is empty once dots and +tag are dropped")
        domain = "gmail.com"
    return f"{local}@{domain}"


def normalize_device_id(raw: object) -> str:
    """Return ``raw`` trimmed and lower-cased, or raise :class:`Rejected`."""
    text = _prepare(raw).lower()
    if len(text) > 128:
        raise Rejected("device id longer than 128 characters")
    if not _DEVICE.fullmatch(text):
        raise Rejected("device id has characters other than letters, digits and -_:.")
    if not text.strip("0-_:."):
        raise Rejected("device id is all zeros (tracking-limited placeholder)")
    return text


def normalize_user_key(raw: object) -> str:
    """Return an opaque key trimmed of surrounding white space, or raise :class:`Rejected`."""
    return _prepare(raw)


NORMALIZERS: dict[str, Callable[[object], str]] = {
    "phone": normalize_phone,
    "email": normalize_email,
    "device_id": normalize_device_id,
    "user_key": normalize_user_key,
}


def normalize(id_type: str, raw: object) -> str:
    """Return the canonical form of ``raw`` as an identifier of ``id_type``, or raise
    :class:`Rejected` (also for an unknown type)."""
    try:
        rule = NORMALIZERS[id_type]
    except KeyError:
        raise Rejected(f"unknown identifier type {id_type!r}") from None
    return rule(raw)
