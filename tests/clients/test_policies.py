"""Policies, protect status and the host filters through huaweicloudsdkwaf's WafClient,
unmodified (issue 15): the SDK's own request and response models must carry what wafcert
sends and answers.
"""

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkwaf.v1 import (
    CreatePolicyRequest,
    CreatePolicyRequestBody,
    CreatePremiumHostRequest,
    CreatePremiumHostRequestBody,
    DeletePolicyRequest,
    DeletePremiumHostRequest,
    ListPolicyRequest,
    ListPremiumHostRequest,
    PremiumWafServer,
    ShowPolicyRequest,
    ShowPremiumHostRequest,
    UpdatePolicyProtectHostRequest,
    UpdatePremiumHostProtectStatusRequest,
    UpdatePremiumHostProtectStatusRequestBody,
    WafClient,
)


@pytest.fixture(scope="module")
def client(settings):
    config = HttpConfig.get_default_config()
    config.timeout = (5, 30)
    config.retry_times = 0
    return (
        WafClient.new_builder()
        .with_http_config(config)
        .with_credentials(BasicCredentials(settings.ak, settings.sk, settings.project))
        .with_endpoints([settings.url])
        .build()
    )


def test_hosts_policies_and_protect_status(client, prefix):
    server = PremiumWafServer(
        front_protocol="HTTP", back_protocol="HTTP", address="10.0.0.10", port=8080, type="ipv4"
    )
    hostname = "%s.policy.example.com" % prefix
    host = client.create_premium_host(
        CreatePremiumHostRequest(
            body=CreatePremiumHostRequestBody(hostname=hostname, server=[server], proxy=False)
        )
    )
    own = host.policyid
    assert own and len(own) == 32
    assert client.show_premium_host(ShowPremiumHostRequest(host_id=host.id)).policyid == own

    shown = client.show_policy(ShowPolicyRequest(policy_id=own))
    assert shown.id == own and shown.hosts == [host.id]
    assert shown.bind_host[0].hostname == hostname
    assert shown.level in (1, 2, 3) and shown.options is not None and shown.action is not None

    shared = client.create_policy(
        CreatePolicyRequest(body=CreatePolicyRequestBody(name="%s-shared" % prefix))
    )
    listed = client.list_policy(ListPolicyRequest(name="%s-shared" % prefix, page=1, pagesize=10))
    assert listed.total == 1 and listed.items[0].id == shared.id

    moved = client.update_policy_protect_host(
        UpdatePolicyProtectHostRequest(policy_id=shared.id, hosts=host.id)
    )
    assert moved.hosts == [host.id]
    hosts = client.list_premium_host(
        ListPremiumHostRequest(policyname="%s-shared" % prefix, hostname=hostname)
    )
    assert hosts.total == 1 and hosts.items[0].id == host.id

    status = client.update_premium_host_protect_status(
        UpdatePremiumHostProtectStatusRequest(
            host_id=host.id, body=UpdatePremiumHostProtectStatusRequestBody(protect_status=0)
        )
    )
    assert status.protect_status == 0
    paused = client.list_premium_host(ListPremiumHostRequest(hostname=hostname, protect_status=0))
    assert paused.total == 1
    running = client.list_premium_host(ListPremiumHostRequest(hostname=hostname, protect_status=1))
    assert running.total == 0

    with pytest.raises(ClientRequestException) as in_use:
        client.delete_policy(DeletePolicyRequest(policy_id=shared.id))
    assert in_use.value.status_code == 400 and in_use.value.error_code == "WAF.00022003"

    client.delete_premium_host(DeletePremiumHostRequest(host_id=host.id, keep_policy=False))
    with pytest.raises(ClientRequestException) as gone:
        client.show_policy(ShowPolicyRequest(policy_id=shared.id))
    assert gone.value.status_code == 404 and gone.value.error_code == "WAF.00022001"
    # The host's first policy was not in use any more; it stays until deleted.
    client.delete_policy(DeletePolicyRequest(policy_id=own))
