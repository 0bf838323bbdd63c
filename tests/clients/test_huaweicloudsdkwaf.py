"""The certificate scenario through huaweicloudsdkwaf's WafClient, authenticated by AK/SK
request signing (SDK-HMAC-SHA256), unmodified: the SDK is pointed at the server with
`with_endpoints`, and an explicit project id (so it asks no IAM for one).

The tests run in file order and share one module-scoped scenario state.
"""

import datetime

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkcore.signer import signer as hw_signer
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
    UpdateCertificateRequest,
    UpdateCertificateRequestBody,
    WafClient,
)

def client_for(settings, ak, sk, project=None):
    config = HttpConfig.get_default_config()
    config.timeout = (5, 30)
    config.retry_times = 0
    return (
        WafClient.new_builder()
        .with_http_config(config)
        .with_credentials(BasicCredentials(ak, sk, project or settings.project))
        .with_endpoints([settings.url])
        .build()
    )


@pytest.fixture(scope="module")
def client(settings):
    return client_for(settings, settings.ak, settings.sk)


@pytest.fixture(scope="module")
def state(client):
    """Ids made along the scenario; whatever is left is deleted at the end."""
    made = {"certs": {}, "hosts": []}
    yield made
    for host in made["hosts"]:
        try:
            client.delete_premium_host(DeletePremiumHostRequest(host_id=host))
        except ClientRequestException:
            pass
    for cert in made["certs"].values():
        try:
            client.delete_certificate(DeleteCertificateRequest(certificate_id=cert))
        except ClientRequestException:
            pass


def names(prefix):
    return {kind: "%s-hw-%s" % (prefix, kind) for kind in ("valid", "expiring", "expired")}


def list_certs(client, **query):
    return client.list_certificates(ListCertificatesRequest(**query))


def test_create_three_certificates(client, state, certificates, prefix):
    for kind, name in names(prefix).items():
        pem, status = certificates[kind]
        body = CreateCertificateRequestBody(name=name, content=pem.content, key=pem.key)
        created = client.create_certificate(CreateCertificateRequest(body=body))
        assert created.id and len(created.id) == 32
        assert created.name == name
        assert created.expire_time == pem.not_after_ms
        assert created.exp_status == status
        assert abs(created.timestamp - _now_ms()) < 60_000
        assert created.bind_host == []
        assert created.key is None, "the private key is not echoed"
        state["certs"][kind] = created.id


def test_show(client, state, certificates, prefix):
    pem, _ = certificates["valid"]
    shown = client.show_certificate(
        ShowCertificateRequest(certificate_id=state["certs"]["valid"])
    )
    assert shown.id == state["certs"]["valid"]
    assert shown.name == names(prefix)["valid"]
    assert shown.content.strip() == pem.content.strip()
    assert shown.key.strip() == pem.key.strip(), "admins read the key back"
    assert shown.key.startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert shown.expire_time == pem.not_after_ms
    assert shown.exp_status == 0
    assert shown.bind_host == []


def test_list_by_name(client, state, prefix):
    everything = list_certs(client, name=prefix + "-hw")
    assert everything.total == 3
    assert {i.id for i in everything.items} == set(state["certs"].values())
    # Substring anywhere in the name, case-insensitive; `%` and `_` are plain characters.
    assert list_certs(client, name=prefix[2:].upper() + "-HW-EXP").total == 2
    assert list_certs(client, name=prefix + "-hw-%").total == 0
    nothing = list_certs(client, name=prefix + "-no-such-name")
    assert nothing.total == 0 and nothing.items == []
    # Without host=true, items carry no expiry or bindings.
    assert all(i.exp_status is None and i.bind_host is None for i in everything.items)


def test_list_with_hosts(client, certificates, prefix):
    listed = list_certs(client, name=prefix + "-hw", host=True)
    assert listed.total == 3
    by_name = {i.name: i for i in listed.items}
    for kind, name in names(prefix).items():
        pem, status = certificates[kind]
        item = by_name[name]
        assert item.exp_status == status
        assert item.expire_time == pem.not_after_ms
        assert item.bind_host == []


@pytest.mark.parametrize("status,kind", [(0, "valid"), (1, "expired"), (2, "expiring")])
def test_list_by_expiry_status(client, state, prefix, status, kind):
    listed = list_certs(client, name=prefix + "-hw", exp_status=status)
    assert listed.total == 1
    assert [i.id for i in listed.items] == [state["certs"][kind]]


def test_list_pages(client, state, prefix):
    seen = []
    for page, size in ((1, 2), (2, 2)):
        listed = list_certs(client, name=prefix + "-hw", page=page, pagesize=size)
        assert listed.total == 3
        seen.extend(listed.items)
    assert [len(seen[:2]), len(seen[2:])] == [2, 1]
    assert {i.id for i in seen} == set(state["certs"].values()), "no duplicates, none lost"
    # Newest upload first, then id descending.
    keys = [(i.timestamp, i.id) for i in seen]
    assert keys == sorted(keys, reverse=True)
    past_end = list_certs(client, name=prefix + "-hw", page=3, pagesize=2)
    assert past_end.total == 3 and past_end.items == []
    single = list_certs(client, name=prefix + "-hw", page=1, pagesize=1)
    assert single.total == 3 and len(single.items) == 1
    everything = list_certs(client, name=prefix + "-hw", pagesize=-1)
    assert len(everything.items) == 3


def test_list_rejects_bad_paging(client):
    with pytest.raises(ClientRequestException) as err:
        list_certs(client, page=1, pagesize=101)
    assert err.value.status_code == 400
    assert err.value.error_code == "WAF.00011011"


def test_rename(client, state, prefix):
    cert = state["certs"]["valid"]
    before = client.show_certificate(ShowCertificateRequest(certificate_id=cert))
    renamed = names(prefix)["valid"] + "-renamed"
    body = UpdateCertificateRequestBody(name=renamed)
    updated = client.update_certificate(
        UpdateCertificateRequest(certificate_id=cert, body=body)
    )
    assert updated.id == cert and updated.name == renamed
    assert updated.timestamp == before.timestamp, "the upload time stays"
    shown = client.show_certificate(ShowCertificateRequest(certificate_id=cert))
    assert shown.name == renamed
    assert list_certs(client, name=renamed).total == 1


def test_apply_to_host(client, state, prefix):
    cert = state["certs"]["valid"]
    hostname = "%s-hw.example.com" % prefix
    server = PremiumWafServer(
        front_protocol="HTTP",
        back_protocol="HTTP",
        address="192.0.2.10",
        port=80,
        type="ipv4",
        vpc_id="cf8b5f2b-2fcb-4a2c-94c9-5f2a0a3a4e51",
    )
    body = CreatePremiumHostRequestBody(hostname=hostname, server=[server], proxy=False)
    host = client.create_premium_host(CreatePremiumHostRequest(body=body))
    assert host.id and host.hostname == hostname
    state["hosts"].append(host.id)
    applied = client.apply_certificate_to_host(
        ApplyCertificateToHostRequest(
            certificate_id=cert,
            body=ApplyCertificateToHostRequestBody(
                cloud_host_ids=[], premium_host_ids=[host.id]
            ),
        )
    )
    assert applied.id == cert
    assert [(b.id, b.hostname) for b in applied.bind_host] == [(host.id, hostname)]
    shown = client.show_certificate(ShowCertificateRequest(certificate_id=cert))
    assert [(b.id, b.hostname, b.waf_type) for b in shown.bind_host] == [
        (host.id, hostname, "premium")
    ]
    listed = list_certs(client, name=prefix + "-hw-valid", host=True)
    assert [b.id for b in listed.items[0].bind_host] == [host.id]
    # A bound certificate can be neither deleted nor applied when expired.
    with pytest.raises(ClientRequestException) as err:
        client.delete_certificate(DeleteCertificateRequest(certificate_id=cert))
    assert (err.value.status_code, err.value.error_code) == (400, "WAF.00022003")
    with pytest.raises(ClientRequestException) as err:
        client.apply_certificate_to_host(
            ApplyCertificateToHostRequest(
                certificate_id=state["certs"]["expired"],
                body=ApplyCertificateToHostRequestBody(premium_host_ids=[host.id]),
            )
        )
    assert (err.value.status_code, err.value.error_code) == (400, "WAF.00021013")
    # Deleting the host frees the certificate.
    client.delete_premium_host(DeletePremiumHostRequest(host_id=host.id))
    state["hosts"].remove(host.id)
    shown = client.show_certificate(ShowCertificateRequest(certificate_id=cert))
    assert shown.bind_host == []


def test_delete(client, state, prefix):
    for kind in ("valid", "expiring", "expired"):
        cert = state["certs"][kind]
        deleted = client.delete_certificate(DeleteCertificateRequest(certificate_id=cert))
        assert deleted.id == cert
        del state["certs"][kind]
        with pytest.raises(ClientRequestException) as err:
            client.show_certificate(ShowCertificateRequest(certificate_id=cert))
        assert err.value.status_code == 404
    assert list_certs(client, name=prefix + "-hw").total == 0


def test_not_found_is_the_clients_own_error(client):
    with pytest.raises(ClientRequestException) as err:
        client.show_certificate(ShowCertificateRequest(certificate_id="0" * 32))
    assert err.value.status_code == 404
    assert err.value.error_code == "WAF.00022001"
    assert err.value.error_msg
    assert err.value.request_id and len(err.value.request_id) == 32
    with pytest.raises(ClientRequestException) as err:
        client.delete_certificate(DeleteCertificateRequest(certificate_id="f" * 32))
    assert err.value.status_code == 404


def test_readonly_key_lists_but_cannot_write(settings, certificates, prefix):
    readonly = client_for(settings, settings.ro_ak, settings.ro_sk)
    assert list_certs(readonly, page=1, pagesize=1).total >= 0
    pem, _ = certificates["valid"]
    body = CreateCertificateRequestBody(name=prefix + "-ro", content=pem.content, key=pem.key)
    with pytest.raises(ClientRequestException) as err:
        readonly.create_certificate(CreateCertificateRequest(body=body))
    assert (err.value.status_code, err.value.error_code) == (401, "WAF.00012003")


def test_bad_signatures_are_refused(settings):
    wrong_secret = client_for(settings, settings.ak, settings.sk[:-1] + ("y" if settings.sk.endswith("x") else "x"))
    with pytest.raises(ClientRequestException) as err:
        list_certs(wrong_secret)
    assert (err.value.status_code, err.value.error_code) == (401, "WAF.00012001")
    unknown_key = client_for(settings, "AK" + "0" * 18, settings.sk)
    with pytest.raises(ClientRequestException) as err:
        list_certs(unknown_key)
    assert (err.value.status_code, err.value.error_code) == (401, "WAF.00012001")
    other_project = client_for(settings, settings.ak, settings.sk, project="e" * 32)
    with pytest.raises(ClientRequestException) as err:
        list_certs(other_project)
    assert (err.value.status_code, err.value.error_code) == (401, "WAF.00012002")


def test_stale_dates_are_refused(settings, monkeypatch):
    class LateClock(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return datetime.datetime.utcnow() - datetime.timedelta(minutes=16)

    monkeypatch.setattr(hw_signer, "datetime", LateClock)
    late = client_for(settings, settings.ak, settings.sk)
    with pytest.raises(ClientRequestException) as err:
        list_certs(late)
    assert (err.value.status_code, err.value.error_code) == (401, "WAF.00012001")


def _now_ms():
    return int(datetime.datetime.now(datetime.timezone.utc).timestamp() * 1000)
