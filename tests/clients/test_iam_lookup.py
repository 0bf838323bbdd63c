"""huaweicloudsdkwaf built the way most scripts build it (issue 15): BasicCredentials(ak, sk)
with no project id, a region, and the IAM endpoint pointed at wafcert. huaweicloudsdkcore
then asks `GET /v3/projects?name=<region>` with the access key's signature
(huaweicloudsdkcore/auth/credentials.py, BasicCredentials.process_auth_params) and needs
exactly one project back, whose id it sends as X-Project-Id from then on.
"""

import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions.exceptions import SdkException
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkcore.region.region import Region
from huaweicloudsdkwaf.v1 import ListCertificatesRequest, ListPremiumHostRequest, WafClient


def build(settings, ak, sk, region):
    config = HttpConfig.get_default_config()
    config.timeout = (5, 30)
    config.retry_times = 0
    credentials = BasicCredentials(ak, sk).with_iam_endpoint(settings.url)
    client = (
        WafClient.new_builder()
        .with_http_config(config)
        .with_credentials(credentials)
        .with_region(Region(id=region, endpoint=settings.url))
        .build()
    )
    return client, credentials


def test_the_sdk_finds_its_project_by_region(settings):
    client, credentials = build(settings, settings.ak, settings.sk, settings.region)
    assert credentials.project_id == settings.project
    listed = client.list_certificates(ListCertificatesRequest(page=1, pagesize=10))
    assert listed.total is not None and listed.total >= 0
    hosts = client.list_premium_host(ListPremiumHostRequest(page="1", pagesize="10"))
    assert hosts.total is not None


def test_a_readonly_key_finds_it_too(settings):
    client, credentials = build(settings, settings.ro_ak, settings.ro_sk, settings.region)
    assert credentials.project_id == settings.project
    assert client.list_certificates(ListCertificatesRequest()).total is not None


def test_another_region_has_no_project_here(settings):
    with pytest.raises(SdkException) as failed:
        build(settings, settings.ak, settings.sk, "xx-nowhere-1")
    assert "project id" in str(failed.value).lower()


def test_a_wrong_secret_is_refused(settings):
    # A region not looked up before, so the SDK's per-key cache cannot answer.
    with pytest.raises(SdkException) as failed:
        build(settings, settings.ak, "x" * 40, "eu-nl")
    message = str(failed.value)
    assert "Failed to get project id" in message and "401" in message, message
