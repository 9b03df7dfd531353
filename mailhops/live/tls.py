"""TLS for the live servers: a throw-away self-signed certificate, made once per process.

Real MTAs between each other use *opportunistic* TLS (Postfix ``smtp_tls_security_level = may``):
they encrypt whenever the other side offers STARTTLS and do not check the certificate. The live
mode does the same on loopback, so a hop the topology says is encrypted really is (``ESMTPS``,
RFC 3848), and the Received header tells the truth. The key never leaves the process's temporary
files; it is an ECDSA P-256 key, so handshakes stay cheap.

>>> cert_pem, key_pem = self_signed_pem()
>>> cert_pem.startswith(b"-----BEGIN CERTIFICATE-----"), b"PRIVATE KEY" in key_pem
(True, True)
"""

from __future__ import annotations

import functools
import ipaddress
import ssl
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ..errors import LiveError


@functools.lru_cache(maxsize=1)
def self_signed_pem(common_name: str = "mailhops.test") -> tuple[bytes, bytes]:
    """(certificate, private key) in PEM for ``common_name``, ``localhost`` and ``127.0.0.1``."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:  # pragma: no cover - depends on the environment
        raise LiveError(
            "The live mode needs the 'cryptography' package to make its TLS certificate; install it with "
            "`pip install cryptography`."
        ) from None
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(common_name), x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def server_context(directory: Path) -> ssl.SSLContext:
    """The server side's context (TLS 1.2+), its certificate written into ``directory``."""
    cert_pem, key_pem = self_signed_pem()
    cert_file, key_file = directory / "tls-cert.pem", directory / "tls-key.pem"
    cert_file.write_bytes(cert_pem)
    key_file.touch(mode=0o600)
    key_file.write_bytes(key_pem)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert_file, key_file)
    return ctx


def client_context() -> ssl.SSLContext:
    """The sending side's context: opportunistic TLS, like MTAs between each other (no certificate check)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx
