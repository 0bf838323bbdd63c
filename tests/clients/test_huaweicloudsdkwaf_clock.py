"""Test controls through huaweicloudsdkwaf, unmodified: the certificate clock moved by the
test turns a certificate's exp_status from 0 to 2 to 1 and makes apply-to-hosts refuse it
(WAF.00021013) while the AK/SK signatures (real time) keep working; two injected 500s fail
the SDK's call twice, then it succeeds.
"""

import pytest
from huaweicloudsdkcore.exceptions.exceptions import ServerResponseException
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkwaf.v1 import (
    ApplyCertificateToHostRequest,
    ApplyCertificateToHostRequestBody,
    CreateCertificateRequest,
    CreateCertificateRequestBody,
    CreatePremiumHostRequest,
    CreatePremiumHostRequestBody,
    DeleteCertificateRequest,
    DeletePremiumHostRequest,
    ListCertificatesRequest,
    PremiumWafServer,
    ShowCertificateRequest,
)

from conftest import make_certificate
from test_huaweicloudsdkwaf import client_for


@pytest.fixture(scope="module")
def client(settings):
    return client_for(settings, settings.ak, settings.sk)


def test_moving_the_clock_expires_a_certificate(client, controls, prefix):
    pem = make_certificate(40)
    body = CreateCertificateRequestBody(
        name=prefix + "-hw-clock", content=pem.content, key=pem.key
    )
    cert = client.create_certificate(CreateCertificateRequest(body=body)).id
    server = PremiumWafServer(
        front_protocol="HTTP",
        back_protocol="HTTP",
        address="192.0.2.30",
        port=80,
        type="ipv4",
        vpc_id="cf8b5f2b-2fcb-4a2c-94c9-5f2a0a3a4e51",
    )
    host_body = CreatePremiumHostRequestBody(
        hostname=prefix + "-hw-clock.example.com", server=[server], proxy=False
    )
    host = client.create_premium_host(CreatePremiumHostRequest(body=host_body)).id
    try:
        show = lambda: client.show_certificate(ShowCertificateRequest(certificate_id=cert))
        assert show().exp_status == 0
        controls.clock(advance="P20D")
        assert show().exp_status == 2
        expiring = client.list_certificates(
            ListCertificatesRequest(name=prefix + "-hw-clock", exp_status=2)
        )
        assert [c.id for c in expiring.items] == [cert]
        controls.clock(advance="P21D")
        assert show().exp_status == 1
        with pytest.raises(ClientRequestException) as err:
            client.apply_certificate_to_host(
                ApplyCertificateToHostRequest(
                    certificate_id=cert,
                    body=ApplyCertificateToHostRequestBody(premium_host_ids=[host]),
                )
            )
        assert (err.value.status_code, err.value.error_code) == (400, "WAF.00021013")
    finally:
        client.delete_premium_host(DeletePremiumHostRequest(host_id=host))
        client.delete_certificate(DeleteCertificateRequest(certificate_id=cert))


def test_two_injected_errors_fail_then_the_call_succeeds(client, controls, settings):
    stored = controls.fault(
        operation="ListCertificates", status=500, error_code="WAF.00010001", count=2
    )
    assert stored["remaining"] == 2
    for _ in range(2):
        with pytest.raises(ServerResponseException) as err:
            client.list_certificates(ListCertificatesRequest())
        assert (err.value.status_code, err.value.error_code) == (500, "WAF.00010001")
    assert client.list_certificates(ListCertificatesRequest()).total >= 0
    # The journal names the caller by its access key id.
    journal = controls.call("GET", "requests?operation=ListCertificates&limit=3")["items"]
    assert [(e["status"], e["error_code"]) for e in journal] == [
        (200, None),
        (500, "WAF.00010001"),
        (500, "WAF.00010001"),
    ]
    assert {e["credential"] for e in journal} == {settings.ak}

