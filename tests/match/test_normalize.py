"""Identifier normalization: exact canonical forms and exact rejections."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from redcat.match.normalize import Rejected, normalize

CANONICAL = [
    # phones: mainland mobiles with every common decoration
    ("phone", "13812345678", "+8613812345678"),
    ("phone", " 138 1234 5678 ", "+8613812345678"),
    ("phone", "138-1234-5678", "+8613812345678"),
    ("phone", "(138) 1234.5678", "+8613812345678"),
    ("phone", "+86 138 1234 5678", "+8613812345678"),
    ("phone", "008613812345678", "+8613812345678"),
    ("phone", "0086-138-1234-5678", "+8613812345678"),
    ("phone", "8613812345678", "+8613812345678"),
    ("phone", "１３８１２３４５６７８", "+8613812345678"),  # full-width digits
    ("phone", "＋86 19912345678", "+8619912345678"),
    ("phone", "+1 (415) 555-0100", "+14155550100"),
    ("phone", "0044 20 7946 0958", "+442079460958"),
    # e-mails
    ("email", "  Alice@Example.COM ", "alice@example.com"),
    ("email", "a.b+promo@example.com", "a.b+promo@example.com"),
    ("email", "A.B+promo@Gmail.com", "ab@gmail.com"),
    ("email", "a.b@googlemail.com", "ab@gmail.com"),
    ("email", "12345@QQ.com", "12345@qq.com"),
    # device ids
    ("device_id", " 6D92078A-8246-4BA4-AE5B-76104861E7DC ", "6d92078a-8246-4ba4-ae5b-76104861e7dc"),
    ("device_id", "a1b2c3d4e5f60718", "a1b2c3d4e5f60718"),
    # opaque keys: trimmed only
    ("user_key", "  U-001 ", "U-001"),
]

REJECTED = [
    ("phone", "", "empty"),
    ("phone", "   ", "empty"),
    ("phone", "12345", "phone without country code is not an 11-digit mainland mobile"),
    ("phone", "23812345678", "phone without country code is not an 11-digit mainland mobile"),
    ("phone", "12812345678", "phone without country code is not an 11-digit mainland mobile"),
    ("phone", "+86 10 1234 5678", "+86 phone is not an 11-digit mainland mobile"),
    (
        "phone",
        "138-1234-567x",
        "phone has characters other than digits, spaces, dashes and parentheses",
    ),
    (
        "phone",
        "+0123456789",
        "international phone must have 7 to 15 digits after + and no leading 0",
    ),
    (
        "phone",
        "+1234567890123456",
        "international phone must have 7 to 15 digits after + and no leading 0",
    ),
    ("phone", 13812345678, "not a string (int)"),
    ("phone", None, "not a string (NoneType)"),
    ("email", "alice.example.com", "e-mail must contain exactly one @"),
    ("email", "a@b@example.com", "e-mail must contain exactly one @"),
    ("email", "@example.com", "e-mail local part is empty or has spaces"),
    ("email", "al ice@example.com", "e-mail local part is empty or has spaces"),
    ("email", "alice@localhost", "e-mail domain is not a dotted host name"),
    ("email", "alice@-bad.com", "e-mail domain is not a dotted host name"),
    ("email", "...+x@gmail.com", "gmail local part is empty once dots and +tag are dropped"),
    (
        "device_id",
        "00000000-0000-0000-0000-000000000000",
        "device id is all zeros (tracking-limited placeholder)",
    ),
    ("device_id", "abc def", "device id has characters other than letters, digits and -_:."),
    ("device_id", "x" * 129, "device id longer than 128 characters"),
    ("user_key", "x" * 257, "longer than 256 characters"),
    ("fax", "123", "unknown identifier type 'fax'"),
]


@pytest.mark.parametrize(("id_type", "raw", "expected"), CANONICAL)
def test_canonical_forms(id_type: str, raw: str, expected: str) -> None:
    assert normalize(id_type, raw) == expected


@pytest.mark.parametrize(("id_type", "raw", "reason"), REJECTED)
def test_rejections_give_reasons(id_type: str, raw: object, reason: str) -> None:
    with pytest.raises(Rejected) as info:
        normalize(id_type, raw)
    assert info.value.reason == reason


@given(st.sampled_from(["phone", "email", "device_id", "user_key"]), st.text(max_size=40))
def test_any_text_is_normalized_or_rejected_and_normal_forms_are_fixed_points(
    id_type: str, raw: str
) -> None:
    try:
        value = normalize(id_type, raw)
    except Rejected as exc:
        assert exc.reason
        return
    assert normalize(id_type, value) == value


def test_digits_of_other_scripts_are_not_phone_digits() -> None:
    with pytest.raises(Rejected):
        normalize("phone", "١٣٨١٢٣٤٥٦٧٨")  # Arabic-Indic digits: \\d would take them
    with pytest.raises(Rejected):
        normalize("phone", "1३812345678")  # one Devanagari digit
