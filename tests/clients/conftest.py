"""Shared setup of the real-client suite: where the server is, the credentials the script
made, and throw-away certificates with chosen expiry dates.

scripts/client-tests starts the server and exports:
  WAFCERT_URL          http://127.0.0.1:PORT
  WAFCERT_REGION       region the server's catalog names
  WAFCERT_PROJECT      project id of every credential below
  WAFCERT_USER, WAFCERT_USER_PASSWORD   an admin user (Keystone login, domain Default)
  WAFCERT_AK, WAFCERT_SK                an admin access key pair (AK/SK signing)
  WAFCERT_RO_AK, WAFCERT_RO_SK          a readonly access key pair
"""

import datetime
import os
import uuid

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

DAY = datetime.timedelta(days=1)


class Settings:
    """The environment of one run."""

    def __init__(self):
        env = os.environ
        missing = [
            k
            for k in (
                "WAFCERT_URL",
                "WAFCERT_PROJECT",
                "WAFCERT_USER",
                "WAFCERT_USER_PASSWORD",
                "WAFCERT_AK",
                "WAFCERT_SK",
                "WAFCERT_RO_AK",
                "WAFCERT_RO_SK",
            )
            if not env.get(k)
        ]
        if missing:
            pytest.exit(
                "run through scripts/client-tests (missing %s)" % ", ".join(missing), 2
            )
        self.url = env["WAFCERT_URL"].rstrip("/")
        self.region = env.get("WAFCERT_REGION", "eu-de")
        self.project = env["WAFCERT_PROJECT"]
        self.user = env["WAFCERT_USER"]
        self.password = env["WAFCERT_USER_PASSWORD"]
        self.ak = env["WAFCERT_AK"]
        self.sk = env["WAFCERT_SK"]
        self.ro_ak = env["WAFCERT_RO_AK"]
        self.ro_sk = env["WAFCERT_RO_SK"]


@pytest.fixture(scope="session")
def settings():
    return Settings()


class Pem:
    """A self-signed certificate and its key in PEM, with its notAfter in epoch ms."""

    def __init__(self, content, key, not_after):
        self.content = content
        self.key = key
        self.not_after_ms = int(not_after.timestamp()) * 1000


def make_certificate(days, key_kind="ec-sec1", host="www.example.com"):
    """A certificate for `host` valid until now + `days` (negative: already expired).

    key_kind picks the key and its encoding: "rsa-pkcs1" (RSA PRIVATE KEY), "ec-sec1"
    (EC PRIVATE KEY) or "ec-pkcs8" (PRIVATE KEY).
    """
    if key_kind == "rsa-pkcs1":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        key_format = serialization.PrivateFormat.TraditionalOpenSSL
    else:
        key = ec.generate_private_key(ec.SECP256R1())
        key_format = (
            serialization.PrivateFormat.TraditionalOpenSSL
            if key_kind == "ec-sec1"
            else serialization.PrivateFormat.PKCS8
        )
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    not_after = now + days * DAY
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(min(now, not_after) - 30 * DAY)
        .not_valid_after(not_after)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Pem(
        cert.public_bytes(serialization.Encoding.PEM).decode(),
        key.private_bytes(
            serialization.Encoding.PEM, key_format, serialization.NoEncryption()
        ).decode(),
        not_after,
    )


@pytest.fixture(scope="module")
def certificates():
    """Three certificates: valid for a year (exp_status 0), expiring in 10 days (2), and
    expired yesterday (1)."""
    return {
        "valid": (make_certificate(365, "rsa-pkcs1"), 0),
        "expiring": (make_certificate(10, "ec-sec1"), 2),
        "expired": (make_certificate(-1, "ec-pkcs8"), 1),
    }


@pytest.fixture(scope="module")
def prefix():
    """A run-unique name prefix, so reruns on one database never collide."""
    return "ct" + uuid.uuid4().hex[:8]


class Controls:
    """The server's test controls (`serve --test-controls`, no credential needed)."""

    def __init__(self, url):
        self.url = url + "/_wafcert/"

    def call(self, method, path, body=None):
        import json
        import urllib.request

        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def clock(self, **moves):
        """Moves the certificate clock: set=, advance=, freeze=, reset=."""
        return self.call("POST", "clock", moves)

    def fault(self, **fault):
        """Injects a fault (operation=, status=, count=, ...)."""
        return self.call("POST", "faults", fault)


@pytest.fixture
def controls(settings):
    """Test controls; the clock and the faults are back to normal after the test."""
    c = Controls(settings.url)
    yield c
    c.clock(reset=True)
    c.call("DELETE", "faults")
