"""The certificate Chromium takes on its forced-QUIC path, and the hash that lets it.

Chromium (156, Debian's) accepts a self-signed certificate over QUIC only when it is
named by ``--ignore-certificate-errors-spki-list=<hash>`` and is ECDSA P-256 and valid
for less than 14 days (measured here: an RSA or a 90-day certificate fails the QUIC
handshake and the page falls back to TCP). ``make_certificate`` makes such a pair;
``spki_hash`` is the base64 SHA-256 of a certificate's SubjectPublicKeyInfo, the value
that flag takes. Needs ``cryptography`` (aioquic depends on it).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import ipaddress
import os

#: Chromium refuses the SPKI allowance for a certificate valid for 14 days or more.
VALID_DAYS = 13


def make_certificate(names: list[str], days: int = VALID_DAYS) -> tuple[bytes, bytes]:
    """A self-signed ECDSA P-256 certificate for ``names`` (DNS names or IP addresses,
    all in subjectAltName; the first is the subject's CN) and its key, both PEM."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    alt: list[x509.GeneralName] = []
    for name in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem


def spki_hash(certificate_pem: bytes) -> str:
    """Base64 of the SHA-256 of the certificate's SubjectPublicKeyInfo (Chromium's SPKI list)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    certificate = x509.load_pem_x509_certificate(certificate_pem)
    spki = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii")


def write_certificate(directory: str, names: list[str]) -> tuple[str, str]:
    """Make a pair (``make_certificate``) into ``directory``: ``(cert path, key path)``;
    the key readable by its owner only."""
    certificate, key = make_certificate(names)
    os.makedirs(directory, exist_ok=True)
    cert_path, key_path = os.path.join(directory, "h3-cert.pem"), os.path.join(directory, "h3-key.pem")
    with open(cert_path, "wb") as f:
        f.write(certificate)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    return cert_path, key_path
