"""Throwaway certificates for mutual-TLS matching: one CA and a certificate per party.

Real deployments take certificates from the parties' own PKI; these serve tests, benchmarks and
first trials. Each party's certificate names the party (subject CN and a DNS subjectAltName equal
to the party name, plus any extra host names or IP addresses asked for) and may act as TLS server
and client, since either side of a match may listen. Keys are EC P-256; private keys are written
unencrypted with mode 0600.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from redcat.errors import ConfigError

# A party name doubles as a DNS name in its certificate: letters, digits, dots and dashes.
_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.\-]{0,62}[A-Za-z0-9])?")


@dataclass(frozen=True)
class PartyCert:
    """Where one party's certificate (``cert``) and private key (``key``) were written."""

    name: str
    cert: Path
    key: Path


@dataclass(frozen=True)
class CertSet:
    """A CA (``ca`` certificate, ``ca_key`` its key) and the party certificates it signed."""

    ca: Path
    ca_key: Path
    parties: dict[str, PartyCert]


def _check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ConfigError(
            f"party name {name!r} cannot name a certificate: use letters, digits, dots and dashes "
            "(at most 64 characters)"
        )
    return name


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Created 0600 from the start: a private key is never readable by others, even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(path, 0o600)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _alt_names(name: str, hosts: Sequence[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = [x509.DNSName(name)]
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(_check_name(host)))
    return names


def make_certs(
    out: Path,
    names: Sequence[str],
    *,
    hosts: Sequence[str] = (),
    days: int = 30,
    ca_name: str = "redcat-match-ca",
) -> CertSet:
    """Write a fresh CA and one certificate per party name into folder ``out`` (created if
    missing): ``ca.pem``, ``ca.key``, ``<name>.pem``, ``<name>.key``. Certificates are valid for
    ``days`` days from now and name their party plus every entry of ``hosts`` (host names or IP
    addresses, e.g. ``127.0.0.1`` to connect by address). Returns where each file went. Raises
    :class:`ConfigError` for an unusable or repeated name."""
    if not names:
        raise ConfigError("give at least one party name for the certificates")
    for name in names:
        _check_name(name)
    if len(set(names)) != len(names):
        raise ConfigError(f"party names repeat: {list(names)}")
    if "ca" in names:
        raise ConfigError("'ca' names the CA's own files; choose another party name")
    if days <= 0:
        raise ConfigError("certificates must be valid for a positive number of days")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    # A minute of slack before "now": the peer's clock may run slightly behind.
    not_before, not_after = now - dt.timedelta(minutes=1), now + dt.timedelta(days=days)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ca_name)])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_subject)
        .issuer_name(ca_subject)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, ca_key_path = out / "ca.pem", out / "ca.key"
    _write_cert(ca_path, ca_cert)
    _write_key(ca_key_path, ca_key)

    parties: dict[str, PartyCert] = {}
    for name in names:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(_alt_names(name, hosts)), critical=False)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
            )
            .sign(ca_key, hashes.SHA256())
        )
        party = PartyCert(name, out / f"{name}.pem", out / f"{name}.key")
        _write_cert(party.cert, cert)
        _write_key(party.key, key)
        parties[name] = party
    return CertSet(ca_path, ca_key_path, parties)
