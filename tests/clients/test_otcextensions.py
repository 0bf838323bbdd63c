"""The certificate scenario through openstacksdk with otcextensions, unmodified: a Keystone v3
password login at `{server}/v3`, then `conn.waf` (catalog type `waf`) for certificates and
`conn.wafd` (catalog type `premium-waf`) for the dedicated-mode host.

otcextensions' Certificate resource knows only `limit`/`offset` as query parameters, so the
dedicated API's filters go through a subclass declaring them (`Resource.list`, the SDK's own
machinery), and totals through the proxy's plain `get`; both use the SDK's session, token
and error mapping. The tests run in file order and share one module-scoped scenario state.
"""

import uuid

import openstack
import pytest
from keystoneauth1 import exceptions as ks_exceptions
from openstack import exceptions, resource
from otcextensions import sdk
from otcextensions.sdk.waf.v1.certificate import Certificate

class DedicatedCertificate(Certificate):
    """The dedicated API's list filters and fields on top of otcextensions' resource."""

    _query_mapping = resource.QueryParameters(
        "name", "host", "exp_status", "page", "pagesize"
    )
    exp_status = resource.Body("exp_status", type=int)
    bind_host = resource.Body("bind_host", type=list)


def connect(settings, **scope):
    scope = scope or {"project_id": settings.project}
    conn = openstack.connect(
        auth_url=settings.url + "/v3",
        username=settings.user,
        password=settings.password,
        user_domain_name="Default",
        region_name=settings.region,
        api_timeout=30,
        load_yaml_config=False,
        load_envvars=False,
        **scope,
    )
    sdk.register_otc_extensions(conn)
    return conn


@pytest.fixture(scope="module")
def conn(settings):
    return connect(settings)


@pytest.fixture(scope="module")
def state(conn):
    """Ids made along the scenario; whatever is left is deleted at the end."""
    made = {"certs": {}, "hosts": []}
    yield made
    for host in made["hosts"]:
        conn.wafd.delete("/premium-waf/host/" + host)
    for cert in made["certs"].values():
        conn.waf.delete_certificate(cert, ignore_missing=True)


def names(prefix):
    return {kind: "%s-otc-%s" % (prefix, kind) for kind in ("valid", "expiring", "expired")}


def listed(conn, **query):
    """Items of one page, through the SDK's resource listing."""
    return list(DedicatedCertificate.list(conn.waf, paginated=False, **query))


def raw_list(conn, **query):
    """The list answer as JSON (for `total`), through the SDK's adapter."""
    response = conn.waf.get("/waf/certificate", params=query)
    exceptions.raise_from_response(response)
    return response.json()


def test_login_gives_a_catalog_for_this_server(conn, settings):
    token = conn.session.auth.get_access(conn.session)
    assert token.project_id == settings.project
    assert token.username == settings.user
    assert token.user_domain_name == "Default"
    assert token.role_names == ["admin"]
    assert token.expires > token.issued
    catalog = token.service_catalog
    assert catalog.url_for(service_type="waf", region_name=settings.region) == settings.url
    assert catalog.url_for(
        service_type="premium-waf", region_name=settings.region
    ) == "%s/v1/%s" % (settings.url, settings.project)


def test_login_scoped_by_project_name(settings):
    conn = connect(
        settings,
        project_name=settings.project,
        project_domain_name="Default",
    )
    assert conn.current_project_id == settings.project
    list(conn.waf.certificates())


def test_wrong_password_is_refused(settings):
    conn = openstack.connect(
        auth_url=settings.url + "/v3",
        username=settings.user,
        password="not-the-password",
        user_domain_name="Default",
        project_id=settings.project,
        region_name=settings.region,
        api_timeout=30,
        load_yaml_config=False,
        load_envvars=False,
    )
    # keystoneauth reads Keystone's error shape; openstacksdk wraps the 401 it raises.
    with pytest.raises(exceptions.SDKException) as err:
        conn.authorize()
    assert "requires authentication. (HTTP 401)" in str(err.value)
    assert isinstance(err.value.__cause__ or err.value.__context__, ks_exceptions.Unauthorized)


def test_create_three_certificates(conn, state, certificates, prefix):
    for kind, name in names(prefix).items():
        pem, _ = certificates[kind]
        created = conn.waf.create_certificate(name=name, content=pem.content, key=pem.key)
        assert created.id and len(created.id) == 32
        assert created.name == name
        assert created.expire_time == pem.not_after_ms
        state["certs"][kind] = created.id


def test_show(conn, state, certificates, prefix):
    pem, _ = certificates["expiring"]
    shown = conn.waf.get_certificate(state["certs"]["expiring"])
    assert shown.name == names(prefix)["expiring"]
    assert shown.content.strip() == pem.content.strip()
    assert shown.key.strip() == pem.key.strip()
    assert shown.key.startswith("-----BEGIN EC PRIVATE KEY-----")
    assert shown.expire_time == pem.not_after_ms
    detailed = DedicatedCertificate.new(id=state["certs"]["expiring"]).fetch(conn.waf)
    assert detailed.exp_status == 2 and detailed.bind_host == []


def test_list_all_pages_through_the_generator(conn, state):
    # No query: the server returns every certificate, and the generator stops at `total`.
    ids = [c.id for c in conn.waf.certificates()]
    assert len(ids) == len(set(ids)), "no duplicates"
    assert set(state["certs"].values()) <= set(ids)


def test_find_by_name(conn, state, prefix):
    found = conn.waf.find_certificate(names(prefix)["expired"], ignore_missing=False)
    assert found.id == state["certs"]["expired"]
    assert conn.waf.find_certificate(prefix + "-otc-missing") is None


def test_list_by_name(conn, state, prefix):
    items = listed(conn, name=prefix + "-otc")
    assert {c.id for c in items} == set(state["certs"].values())
    assert len(listed(conn, name=prefix[3:].upper() + "-OTC-EXP")) == 2
    assert listed(conn, name=prefix + "-otc-no-such-name") == []
    answer = raw_list(conn, name=prefix + "-otc")
    assert answer["total"] == 3
    assert all("exp_status" not in i for i in answer["items"])


@pytest.mark.parametrize("status,kind", [(0, "valid"), (1, "expired"), (2, "expiring")])
def test_list_by_expiry_status_with_hosts(conn, state, prefix, status, kind):
    items = listed(conn, name=prefix + "-otc", exp_status=status, host="true")
    assert [c.id for c in items] == [state["certs"][kind]]
    assert items[0].exp_status == status
    assert items[0].bind_host == []


def test_list_pages(conn, state, prefix):
    first = raw_list(conn, name=prefix + "-otc", page=1, pagesize=2)
    second = raw_list(conn, name=prefix + "-otc", page=2, pagesize=2)
    third = raw_list(conn, name=prefix + "-otc", page=3, pagesize=2)
    assert [a["total"] for a in (first, second, third)] == [3, 3, 3]
    assert [len(a["items"]) for a in (first, second, third)] == [2, 1, 0]
    ids = [i["id"] for i in first["items"] + second["items"]]
    assert sorted(ids) == sorted(state["certs"].values())
    assert [c.id for c in listed(conn, name=prefix + "-otc", page=2, pagesize=2)] == [
        second["items"][0]["id"]
    ]
    with pytest.raises(exceptions.BadRequestException) as err:
        raw_list(conn, page=0)
    assert "WAF.00011011" in str(err.value)


def test_rename(conn, state, prefix):
    cert = state["certs"]["valid"]
    renamed = names(prefix)["valid"] + "-renamed"
    updated = conn.waf.update_certificate(cert, name=renamed)
    assert updated.id == cert and updated.name == renamed
    assert conn.waf.get_certificate(cert).name == renamed


def test_apply_to_host(conn, state, prefix):
    cert = state["certs"]["valid"]
    hostname = "%s-otc.example.com" % prefix
    body = {
        "hostname": hostname,
        "proxy": False,
        "server": [
            {
                "front_protocol": "HTTP",
                "back_protocol": "HTTP",
                "address": "192.0.2.20",
                "port": 80,
                "type": "ipv4",
                "vpc_id": str(uuid.uuid4()),
            }
        ],
    }
    created = conn.wafd.post("/premium-waf/host", json=body)
    exceptions.raise_from_response(created)
    host = created.json()["id"]
    state["hosts"].append(host)
    applied = conn.waf.post(
        "/waf/certificate/%s/apply-to-hosts" % cert, json={"premium_host_ids": [host]}
    )
    exceptions.raise_from_response(applied)
    assert [b["id"] for b in applied.json()["bind_host"]] == [host]
    detailed = DedicatedCertificate.new(id=cert).fetch(conn.waf)
    assert [(b["id"], b["hostname"]) for b in detailed.bind_host] == [(host, hostname)]
    # Bound: the SDK's delete surfaces the server's refusal.
    with pytest.raises(exceptions.BadRequestException) as err:
        conn.waf.delete_certificate(cert, ignore_missing=False)
    assert "WAF.00022003" in str(err.value)
    exceptions.raise_from_response(conn.wafd.delete("/premium-waf/host/" + host))
    state["hosts"].remove(host)
    assert DedicatedCertificate.new(id=cert).fetch(conn.waf).bind_host == []


def test_delete(conn, state, prefix):
    for kind in ("valid", "expiring", "expired"):
        cert = state["certs"][kind]
        conn.waf.delete_certificate(cert, ignore_missing=False)
        del state["certs"][kind]
        with pytest.raises(exceptions.NotFoundException):
            conn.waf.get_certificate(cert)
        # ignore_missing swallows exactly the 404.
        assert conn.waf.delete_certificate(cert, ignore_missing=True) is None
    assert listed(conn, name=prefix + "-otc") == []


def test_not_found_is_the_clients_own_error(conn):
    missing = "0" * 32
    with pytest.raises(exceptions.ResourceNotFound) as err:
        conn.waf.get_certificate(missing)
    assert err.value.status_code == 404
    assert "WAF.00022001" in str(err.value)
    with pytest.raises(exceptions.NotFoundException):
        conn.waf.delete_certificate(missing, ignore_missing=False)
    with pytest.raises(exceptions.ResourceNotFound):
        conn.waf.find_certificate("no-such-certificate", ignore_missing=False)
