"""Unit tests of the fetcher's URL and address rules, TLS pinning and proxies."""

from __future__ import annotations

import datetime as dt
import ipaddress

import pytest

from mirror.addresses import is_public_address, literal_ip
from mirror.capture import fetch as fetch_mod
from mirror.capture.fetch import Fetcher, FetchPolicy, parse_url
from mirror.errors import NetworkError, UsageError
from tests.helpers.webserver import serve

LOCAL = FetchPolicy(allow_private=True, deadline=10)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("0x7f000001", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("::1", "::1"),
        ("[::1]", "::1"),
        ("93.184.215.14", "93.184.215.14"),
        ("example.org", None),
        ("1e100.net", None),
    ],
)
def test_literal_ip_reads_odd_encodings(host: str, expected: str | None) -> None:
    ip = literal_ip(host)
    assert (str(ip) if ip else None) == expected


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.215.14", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("100.64.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("::ffff:93.184.215.14", True),
        ("2002:a00:1::", False),  # 6to4 of 10.0.0.1
        ("64:ff9b::7f00:1", False),  # NAT64 of 127.0.0.1
        ("::127.0.0.1", False),  # IPv4-compatible
        ("fc00::1", False),
        ("ff02::1", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
    ],
)
def test_is_public_address(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public


def test_parse_url_strips_fragment_and_defaults_port() -> None:
    assert parse_url("HTTPS://Example.org#top") == (
        "https",
        "example.org",
        443,
        "https://Example.org/",
    )


@pytest.mark.parametrize(
    "url", ["http://exa mple.org/", "http://example.org:99999/", "http://x\n/"]
)
def test_parse_url_rejects_malformed(url: str) -> None:
    with pytest.raises(UsageError):
        parse_url(url)


@pytest.mark.parametrize("proxy", ["ftp://p:1", "socks4://p:1", "p:1080"])
def test_policy_rejects_unknown_proxies(proxy: str) -> None:
    with pytest.raises(UsageError):
        FetchPolicy(proxy=proxy)


def test_result_fields() -> None:
    fixed = dt.datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=dt.UTC)
    with serve({"/": b"<p>x</p>"}) as server:
        result = Fetcher(LOCAL, clock=lambda: fixed).fetch(server.url("/#frag"), accept="text/html")
        assert server.headers[0]["accept"] == "text/html"
        assert server.headers[0]["user-agent"].startswith("mirror/")
    assert result.fetched_at == "2026-01-02T03:04:05Z"
    assert result.requested_url == result.final_url == server.url("/")
    assert (result.status, result.content_type, result.charset) == (200, "text/html", "utf-8")
    assert result.tls_cert_sha256 is None
    assert set(result.headers) <= set(fetch_mod._KEPT_HEADERS)


def test_https_pins_address_and_checks_certificate_name() -> None:
    with serve({"/": b"tls"}, tls=True) as server:
        assert server.ca_file is not None
        policy = FetchPolicy(allow_private=True, ca_bundle=server.ca_file)
        resolved: list[str] = []

        def resolver(host: str, port: int) -> list[str]:
            resolved.append(host)
            return ["127.0.0.1"]

        result = Fetcher(policy, resolver=resolver).fetch(server.url("/"))
        assert result.body == b"tls"
        assert resolved == ["localhost"]
        assert result.tls_cert_sha256 is not None and len(result.tls_cert_sha256) == 64
        # Same address, a name the certificate does not cover: TLS error, exit 4.
        other = server.url("/").replace("localhost", "news.test")
        with pytest.raises(NetworkError, match="TLS error"):
            Fetcher(policy, resolver=resolver).fetch(other)


def test_https_untrusted_certificate_is_network_error() -> None:
    with serve({"/": b"tls"}, tls=True) as server, pytest.raises(NetworkError, match="TLS"):
        Fetcher(LOCAL).fetch(server.url("/"))


def test_socks5h_proxy_passed_through(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, dict[str, str]]] = []

    def fake_send(self: object, request: object, **kwargs: object) -> object:
        seen.append((request.url, kwargs["proxies"]))  # type: ignore[attr-defined]
        raise fetch_mod.requests.ConnectionError("no proxy here")

    monkeypatch.setattr(fetch_mod.requests.Session, "send", fake_send)
    proxy = "socks5h://127.0.0.1:9050"
    fetcher = Fetcher(FetchPolicy(proxy=proxy), resolver=lambda h, p: pytest.fail("resolved"))
    with pytest.raises(NetworkError):
        fetcher.fetch("https://news.example/article")
    assert seen == [("https://news.example/article", {"http": proxy, "https": proxy})]
    with pytest.raises(UsageError):
        fetcher.fetch("http://[::1]/")
    assert len(seen) == 1


def test_socks5h_adapter_builds_socks_pool() -> None:
    # The real adapter turns the policy's proxy into a SOCKS connection pool.
    from urllib3.contrib.socks import SOCKSHTTPSConnectionPool

    adapter = fetch_mod._PinnedAdapter(fetch_mod._Watchdog(1))
    adapter.target = fetch_mod._Target("https://news.example/", "https", "news.example", 443, None)
    request = fetch_mod.requests.Request("GET", "https://news.example/").prepare()
    proxy = "socks5h://127.0.0.1:9050"
    pool = adapter.get_connection_with_tls_context(request, True, {"https": proxy})
    assert isinstance(pool, SOCKSHTTPSConnectionPool)
    assert pool.host == "news.example"  # the name goes to the proxy, unresolved


def test_environment_proxies_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "")
    with serve({"/": b"direct"}) as server:
        assert Fetcher(LOCAL).fetch(server.url("/")).body == b"direct"


def test_retry_after_http_date() -> None:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    policy = FetchPolicy()
    assert fetch_mod._retry_wait("Thu, 01 Jan 2026 00:00:03 GMT", 0, policy, now) == 3.0
    assert fetch_mod._retry_wait("garbage", 1, policy, now) == 2.0
    assert fetch_mod._retry_wait("11", 0, policy, now) is None
