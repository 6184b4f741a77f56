"""Link tokens: sign/verify, rotation, retirement, strict encoding, tamper resistance."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from redcat.errors import ConfigError
from redcat.links.tokens import (
    Keyring,
    KeyStatus,
    SigningKey,
    b64decode_strict,
    b64encode,
    new_link_id,
    sign_link,
    verify_link,
)

K1 = SigningKey("k1", b"\x01" * 32)
LINK = "00112233445566778899aabb"


def test_sign_then_verify_returns_link_and_key() -> None:
    ring = Keyring.of([K1])
    token = sign_link(ring, LINK)
    verified = verify_link(ring, token)
    assert verified is not None and (verified.link_id, verified.kid) == (LINK, "k1")
    # 2 header bytes + "k1" + 12 id bytes + 16 tag bytes = 32 bytes = 43 base64 characters.
    assert len(token) == 43 and "=" not in token


def test_known_answer() -> None:
    # Independently computed: HMAC-SHA256(0x01*32, 01 02 'k1' <id>) truncated to 16 bytes.
    import hashlib
    import hmac

    message = bytes((1, 2)) + b"k1" + bytes.fromhex(LINK)
    tag = hmac.new(b"\x01" * 32, message, hashlib.sha256).digest()[:16]
    assert sign_link(Keyring.of([K1]), LINK) == b64encode(message + tag)


def test_rotation_old_key_verifies_until_retired() -> None:
    old_ring = Keyring.of([K1])
    token = sign_link(old_ring, LINK)
    k2 = SigningKey("k2", b"\x02" * 32)
    rotated = Keyring.of([SigningKey("k1", K1.secret, KeyStatus.verify), k2])
    assert rotated.active.kid == "k2"
    assert verify_link(rotated, token) is not None
    assert verify_link(rotated, sign_link(rotated, LINK)) is not None
    retired = Keyring.of([SigningKey("k1", K1.secret, KeyStatus.retired), k2])
    assert verify_link(retired, token) is None


def test_unknown_key_and_wrong_secret_refused() -> None:
    token = sign_link(Keyring.of([K1]), LINK)
    assert verify_link(Keyring.of([SigningKey("k2", b"\x01" * 32)]), token) is None
    assert verify_link(Keyring.of([SigningKey("k1", b"\x09" * 32)]), token) is None


def test_keyring_needs_exactly_one_active_key() -> None:
    with pytest.raises(ConfigError):
        Keyring.of([SigningKey("k1", K1.secret, KeyStatus.verify)])
    with pytest.raises(ConfigError):
        Keyring.of([K1, SigningKey("k2", b"\x02" * 32)])
    with pytest.raises(ConfigError):
        Keyring.of([K1, K1])
    with pytest.raises(ConfigError):
        SigningKey("bad id", b"\x01" * 32)
    with pytest.raises(ConfigError):
        SigningKey("k3", b"short")


@pytest.mark.parametrize("token", ["", "a", "!!!!", "x" * 500, "AAAA", "é" * 43])
def test_garbage_refused_without_raising(token: str) -> None:
    assert verify_link(Keyring.of([K1]), token) is None


def test_strict_base64_rejects_noncanonical_padding_bits() -> None:
    assert b64decode_strict(b64encode(b"\xff")) == b"\xff"  # "_w"
    assert b64decode_strict("_x") is None  # same byte, padding bits set
    assert b64decode_strict("_w==") is None
    assert b64decode_strict("a+b/") is None


@settings(max_examples=300, deadline=None)
@given(
    link=st.binary(min_size=12, max_size=12),
    data=st.data(),
)
def test_any_single_byte_tamper_fails(link: bytes, data: st.DataObject) -> None:
    ring = Keyring.of([K1, SigningKey("k0", b"\x05" * 32, KeyStatus.verify)])
    token = sign_link(ring, link.hex())
    position = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.characters(codec="ascii").filter(lambda c: c != token[position]))
    tampered = token[:position] + replacement + token[position + 1 :]
    assert verify_link(ring, tampered) is None


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_any_single_byte_tamper_of_decoded_token_fails(data: st.DataObject) -> None:
    ring = Keyring.of([K1])
    token = sign_link(ring, new_link_id())
    decoded = bytearray(b64decode_strict(token) or b"")
    i = data.draw(st.integers(0, len(decoded) - 1))
    decoded[i] ^= data.draw(st.integers(1, 255))
    assert verify_link(ring, b64encode(bytes(decoded))) is None
