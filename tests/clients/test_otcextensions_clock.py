"""Test controls through openstacksdk with otcextensions, unmodified: after a Keystone login
(a token that follows real time), the certificate clock moved by the test turns a
certificate's exp_status from 0 to 2 to 1 and makes apply-to-hosts refuse it
(WAF.00021013); two injected 500s fail the SDK's call twice, then it succeeds.
"""

import uuid

import pytest
from openstack import exceptions

from conftest import make_certificate
from test_otcextensions import DedicatedCertificate, connect


@pytest.fixture(scope="module")
def conn(settings):
    return connect(settings)


def test_moving_the_clock_expires_a_certificate(conn, controls, prefix):
    pem = make_certificate(40)
    cert = conn.waf.create_certificate(
        name=prefix + "-otc-clock", content=pem.content, key=pem.key
    ).id
    created = conn.wafd.post(
        "/premium-waf/host",
        json={
            "hostname": prefix + "-otc-clock.example.com",
            "proxy": False,
            "server": [
                {
                    "front_protocol": "HTTP",
                    "back_protocol": "HTTP",
                    "address": "192.0.2.40",
                    "port": 80,
                    "type": "ipv4",
                    "vpc_id": str(uuid.uuid4()),
                }
            ],
        },
    )
    exceptions.raise_from_response(created)
    host = created.json()["id"]
    try:
        status = lambda: DedicatedCertificate.new(id=cert).fetch(conn.waf).exp_status
        assert status() == 0
        controls.clock(advance="P20D")
        assert status() == 2
        controls.clock(advance="P21D")
        assert status() == 1
        applied = conn.waf.post(
            "/waf/certificate/%s/apply-to-hosts" % cert, json={"premium_host_ids": [host]}
        )
        with pytest.raises(exceptions.BadRequestException) as err:
            exceptions.raise_from_response(applied)
        assert "WAF.00021013" in str(err.value)
    finally:
        exceptions.raise_from_response(conn.wafd.delete("/premium-waf/host/" + host))
        conn.waf.delete_certificate(cert, ignore_missing=False)


def test_two_injected_errors_fail_then_the_call_succeeds(conn, controls):
    controls.fault(operation="ListCertificates", status=500, count=2)
    for _ in range(2):
        with pytest.raises(exceptions.HttpException) as err:
            list(conn.waf.certificates())
        assert err.value.status_code == 500
        assert "WAF.00010001" in str(err.value)
    assert isinstance(list(conn.waf.certificates()), list)
    # The Keystone login that gave the SDK its token is journaled under its SDK name.
    logins = controls.call("GET", "requests?operation=KeystoneCreateToken")["items"]
    assert logins and all(e["path"] == "/v3/auth/tokens" for e in logins)
