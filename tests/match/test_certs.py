"""Throwaway certificates: a CA that signs each party, names in the certificates, private keys."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec

from redcat.errors import ConfigError
from redcat.match.certs import make_certs


def test_each_party_certificate_is_signed_by_the_ca_and_names_the_party(tmp_path: Path) -> None:
    certs = make_certs(tmp_path / "pki", ["content", "tmall"], hosts=["127.0.0.1", "localhost"])
    ca = x509.load_pem_x509_certificate(certs.ca.read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    for name in ("content", "tmall"):
        party = certs.parties[name]
        cert = x509.load_pem_x509_certificate(party.cert.read_bytes())
        cert.verify_directly_issued_by(ca)  # raises if the CA did not sign it
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.DNSName) == [name, "localhost"]
        assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
        cn = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
        assert cn == name
        assert stat.S_IMODE(party.key.stat().st_mode) == 0o600
    assert stat.S_IMODE(certs.ca_key.stat().st_mode) == 0o600


def test_another_ca_does_not_verify_the_first_cas_certificates(tmp_path: Path) -> None:
    first = make_certs(tmp_path / "one", ["a"])
    other = make_certs(tmp_path / "two", ["a"])
    cert = x509.load_pem_x509_certificate(first.parties["a"].cert.read_bytes())
    other_ca = x509.load_pem_x509_certificate(other.ca.read_bytes())
    with pytest.raises(InvalidSignature):
        cert.verify_directly_issued_by(other_ca)
    assert isinstance(other_ca.public_key(), ec.EllipticCurvePublicKey)


@pytest.mark.parametrize(
    "names", [[], ["a", "a"], ["ca"], ["bad name"], ["-dash"], ["x" * 70]], ids=str
)
def test_unusable_party_names_are_refused(tmp_path: Path, names: list[str]) -> None:
    with pytest.raises(ConfigError):
        make_certs(tmp_path, names)
