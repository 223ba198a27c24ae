"""The one HTTP client for requests that leave for a URL a user chose (http steps, and anything
else that calls a user's endpoint).

Users choose the URL, and the request leaves from inside our network, so where it may go is
checked where the connection is made: the host name is resolved once, every address it resolves
to must be public, and the socket connects to the very address that was checked (a DNS answer
that changes between the check and the connect cannot redirect it). TLS still verifies the
certificate against the host name. Hosts listed in ``WORKFLOW_HTTP_ALLOWED_HOSTS`` skip the address
check: that is how an operator lets runs reach an internal service. Redirects are not followed by
the client: a caller that follows them sends each hop through ``client()`` again.

httpx has no parameter for httpcore's network backend, so ``CheckedTransport`` replaces the
transport's private ``_pool``: written for httpx 0.28 and httpcore 1.0 (``WRITTEN_FOR``;
tests/vingine/test_fenced_internals.py fails when the installed versions leave that range).
"""

import functools
import ipaddress
import socket
import ssl

import httpcore
import httpx
from django.conf import settings

WRITTEN_FOR = {"httpx": ("0.28.0", "0.29"), "httpcore": ("1.0.0", "1.1")}  # [lowest, below) versions

NAT64 = ipaddress.ip_network("64:ff9b::/96")
METADATA = frozenset(ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200"))


class DestinationRefused(Exception):
    """The URL leads somewhere a request of ours may not go; retrying cannot help."""


def _refusal(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why a request may not connect to ``ip``, or None for a public address."""
    if ip in METADATA:
        return "cloud metadata"
    if ip.version == 6:
        # An IPv4 address carried inside an IPv6 one reaches that IPv4 address.
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is None and ip in NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            return _refusal(embedded)
    for check, kind in (
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local"),
        ("is_multicast", "multicast"),
        ("is_unspecified", "unspecified"),
        ("is_private", "private"),
        ("is_reserved", "reserved"),
    ):
        if getattr(ip, check):
            return kind
    return None if ip.is_global else "non-public"


def _allowed(host: str, port: int) -> bool:
    name = f"[{host}]" if ":" in host else host.lower().rstrip(".")
    allowed = settings.WORKFLOW_HTTP_ALLOWED_HOSTS
    return name in allowed or f"{name}:{port}" in allowed


def checked_addresses(host: str, port: int) -> list[str]:
    """The addresses to connect to for ``host``; DestinationRefused if any of them is not public."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise httpcore.ConnectError(f"could not resolve {host}: {exc.strerror}") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    for address in addresses:
        # Refused if any answer is private: a name that mixes public and private answers is a trap.
        kind = _refusal(ipaddress.ip_address(address.split("%")[0]))
        if kind:
            where = f"{host} is" if host == address else f"{host} resolves to {address},"
            raise DestinationRefused(
                f"{where} a {kind} address, which workflows may not reach"
                " (an operator can allow the host in WORKFLOW_HTTP_ALLOWED_HOSTS)"
            )
    return addresses


class _CheckedBackend(httpcore.SyncBackend):
    """Connects only to checked addresses; httpcore calls this for every new connection."""

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        if _allowed(host, port):
            return super().connect_tcp(host, port, timeout, local_address, socket_options)
        failure = None
        for address in checked_addresses(host, port):
            try:
                # The address, not the name: no second DNS answer can swap in another host.
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                failure = exc
        raise failure


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle takes a while; one context serves every request (it is thread-safe).
    return httpx.create_ssl_context(trust_env=False)


class CheckedTransport(httpx.HTTPTransport):
    def __init__(self) -> None:
        super().__init__(verify=_ssl_context(), trust_env=False)
        # The server name for TLS still comes from the URL, so certificates are checked.
        self._pool = httpcore.ConnectionPool(ssl_context=_ssl_context(), network_backend=_CheckedBackend())


def client() -> httpx.Client:
    """A client whose every connection goes through the destination check; it follows no redirect."""
    return httpx.Client(transport=CheckedTransport(), trust_env=False, follow_redirects=False)
