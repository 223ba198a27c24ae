"""WORKFLOW_HTTP_ALLOWED_HOSTS: "host" or "host:port" entries, normalised; a bad one stops the start."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from vingine.env import env_hosts


def test_it_reads_hosts_and_host_ports(monkeypatch):
    monkeypatch.setenv("HOSTS", " Next.Internal. , localhost:3000,10.0.0.5,[::1]:8080, ::1 ,[FD00::1]")

    assert env_hosts("HOSTS") == ["next.internal", "localhost:3000", "10.0.0.5", "[::1]:8080", "[::1]", "[fd00::1]"]


def test_unset_or_empty_allows_nothing(monkeypatch):
    monkeypatch.delenv("HOSTS", raising=False)
    assert env_hosts("HOSTS") == []
    monkeypatch.setenv("HOSTS", "")
    assert env_hosts("HOSTS") == []


@pytest.mark.parametrize(
    "value", ["http://localhost", "localhost:0", "localhost:65536", "host:port", "bad host", "[nope]", "a/b", "*"]
)
def test_a_malformed_entry_names_the_variable(monkeypatch, value):
    monkeypatch.setenv("HOSTS", f"ok.example,{value}")

    with pytest.raises(ImproperlyConfigured, match=r"^HOSTS: "):
        env_hosts("HOSTS")
