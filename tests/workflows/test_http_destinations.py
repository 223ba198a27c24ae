"""Where an http step may go: no loopback, private, link-local or metadata address unless allowed.

A real server listens on 127.0.0.1 in these tests, so a refusal is shown by the request never
arriving, not by a connection that would have failed anyway.
"""

import pytest

from tests.webhooks import Reply
from vingine.outbound import checked_addresses
from workflows.runner import DynamicWorkflowRunner

HINT = "(an operator can allow the host in WORKFLOW_HTTP_ALLOWED_HOSTS)"


def run(url: str, **fields):
    step = {"type": "http", "url": url, "method": "GET", **fields}
    return DynamicWorkflowRunner([step]).run("cats")


def test_it_refuses_the_local_server_when_no_host_is_allowed(webhook, settings):
    settings.WORKFLOW_HTTP_ALLOWED_HOSTS = []

    result = run(webhook.url(), retries=3)

    assert (
        result.error == f"steps[0] (http) failed: 127.0.0.1 is a loopback address, which workflows may not reach {HINT}"
    )
    assert webhook.hits() == []
    assert len(result.steps[0]["attempts"]) == 1  # a refusal is final: no retries


def test_it_refuses_a_name_that_resolves_to_loopback(webhook, allow_local):
    # 127.0.0.1 is allowed, the name "localhost" is not: what it resolves to is checked.
    result = run(webhook.url(host="localhost"))

    assert result.error.startswith("steps[0] (http) failed: localhost resolves to ")
    assert "a loopback address, which workflows may not reach" in result.error
    assert webhook.hits() == []


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://10.0.0.1/", "private"),
        ("http://192.168.1.20:8080/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
        ("http://[fd00:ec2::254]/latest/", "cloud metadata"),
        ("http://100.100.100.200/", "cloud metadata"),
        ("http://[::1]/", "loopback"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),  # IPv4 inside IPv6
        ("http://[64:ff9b::a00:1]/", "private"),  # NAT64 of 10.0.0.1
        ("http://0.0.0.0/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
        ("http://[fe80::1]/", "link-local"),
    ],
)
def test_it_refuses_internal_addresses(url, kind, settings):
    settings.WORKFLOW_HTTP_ALLOWED_HOSTS = []

    result = run(url)

    assert not result.succeeded
    assert f"is a {kind} address, which workflows may not reach" in result.error


def test_a_redirect_to_a_refused_address_is_not_followed(webhook, allow_local):
    # The first hop is allowed; the hop it redirects to goes through the same check.
    webhook.script("/hook", Reply(302, "", headers={"Location": webhook.url("/inside", host="localhost")}))

    result = run(webhook.url())

    assert "localhost resolves to " in result.error and "a loopback address" in result.error
    assert len(webhook.hits()) == 1
    assert webhook.hits("/inside") == []


def test_a_redirect_to_the_metadata_address_is_not_followed(webhook, allow_local):
    webhook.script("/hook", Reply(301, "", headers={"Location": "http://169.254.169.254/latest/meta-data/"}))

    result = run(webhook.url())

    assert result.error == (
        f"steps[0] (http) failed: 169.254.169.254 is a cloud metadata address, which workflows may not reach {HINT}"
    )


def test_an_allowed_host_may_be_limited_to_one_port(webhook, settings):
    settings.WORKFLOW_HTTP_ALLOWED_HOSTS = [f"127.0.0.1:{webhook.port}"]
    assert run(webhook.url()).succeeded

    settings.WORKFLOW_HTTP_ALLOWED_HOSTS = [f"127.0.0.1:{webhook.port + 1 if webhook.port < 65535 else 1}"]
    assert "loopback" in run(webhook.url()).error
    assert len(webhook.hits()) == 1


def test_an_allowed_name_reaches_what_it_resolves_to(webhook, settings):
    settings.WORKFLOW_HTTP_ALLOWED_HOSTS = ["localhost"]

    result = run(webhook.url(host="localhost"))

    assert result.succeeded, result.error
    assert len(webhook.hits()) == 1


def test_a_public_address_passes_the_check_and_is_what_gets_connected_to():
    assert checked_addresses("93.184.215.14", 443) == ["93.184.215.14"]
