"""SECURITY-CASES.md cases 1-8 (fetch), each against a real server on 127.0.0.1."""

from __future__ import annotations

import gzip
import time
import tracemalloc
import zlib

import brotli
import pytest

from mirror.capture.charset import decode_html
from mirror.capture.fetch import Fetcher, FetchPolicy
from mirror.errors import LimitExceeded, NetworkError, UsageError
from tests.helpers.webserver import chunked, redirect, respond, sequence, serve, trickle

LOCAL = FetchPolicy(allow_private=True, deadline=10, connect_timeout=2, read_timeout=5)


def fetch(url: str, policy: FetchPolicy = LOCAL, **kw: object) -> object:
    return Fetcher(policy).fetch(url, **kw)  # type: ignore[arg-type]


# -- case 1: redirects ----------------------------------------------------------------


def test_case_1_more_than_five_redirects_exit_5() -> None:
    routes = {f"/{i}": redirect(f"/{i + 1}") for i in range(6)}
    routes["/6"] = b"end"
    with serve(routes) as server:
        with pytest.raises(LimitExceeded) as e:
            fetch(server.url("/0"))
        assert e.value.exit_code == 5
        assert "more than 5 redirects" in str(e.value)
        assert server.requests == ["/0", "/1", "/2", "/3", "/4", "/5"]  # never /6


def test_case_1_five_redirects_are_fine() -> None:
    routes = {f"/{i}": redirect(f"/{i + 1}") for i in range(5)}
    routes["/5"] = b"end"
    with serve(routes) as server:
        result = Fetcher(LOCAL).fetch(server.url("/0"))
        assert result.body == b"end"
        assert result.final_url == server.url("/5")
        assert result.redirects == tuple(server.url(f"/{i}") for i in range(5))


def test_case_1_redirect_loop_exit_5() -> None:
    with (
        serve({"/a": redirect("/b", 301), "/b": redirect("/a", 307)}) as server,
        pytest.raises(LimitExceeded, match="redirect loop"),
    ):
        fetch(server.url("/a"))
        assert server.requests == ["/a", "/b"]


# -- case 2: address guard ------------------------------------------------------------

PRIVATE_HOSTS = [
    "127.0.0.1",
    "0x7f000001",
    "2130706433",
    "0177.0.0.1",
    "127.1",
    "[::1]",
    "[::ffff:127.0.0.1]",
    "localhost",
    "169.254.169.254",
    "10.0.0.1",
    "192.168.1.1",
    "100.64.0.1",
    "0.0.0.0",
    "[fe80::1]",
    "[2002:7f00:1::]",
    "224.0.0.1",
]


@pytest.mark.parametrize("host", PRIVATE_HOSTS)
def test_case_2_private_addresses_refused_exit_2(host: str) -> None:
    with pytest.raises(UsageError) as e:
        Fetcher(FetchPolicy()).fetch(f"http://{host}/")
    assert e.value.exit_code == 2


def test_case_2_refused_before_connecting() -> None:
    with serve({"/": b"secret"}) as server:
        for url in (server.url("/"), server.url("/").replace("127.0.0.1", "2130706433")):
            with pytest.raises(UsageError, match="private or local"):
                Fetcher(FetchPolicy()).fetch(url)
        assert server.requests == []


def test_case_2_name_resolving_to_private_refused() -> None:
    with serve({"/": b"secret"}) as server:
        fetcher = Fetcher(FetchPolicy(), resolver=lambda host, port: ["8.8.8.8", "127.0.0.1"])
        with pytest.raises(UsageError, match=r"127\.0\.0\.1"):
            fetcher.fetch(f"http://news.example:{server.port}/")
        assert server.requests == []


def test_case_2_redirect_hop_to_private_refused() -> None:
    with serve({"/start": redirect("/secret"), "/secret": b"secret"}) as server:
        start = server.url("/start")
        trusting = Fetcher(LOCAL)

        class FirstHopTrusted(Fetcher):
            # Stands in for a public first hop: only the start URL skips the guard.
            def _target(self, url: str):  # type: ignore[no-untyped-def]
                return trusting._target(url) if url == start else super()._target(url)

        with pytest.raises(UsageError, match="private or local"):
            FirstHopTrusted(FetchPolicy()).fetch(start)
        assert server.requests == ["/start"]


@pytest.mark.parametrize("port", [5001, 8080])
def test_case_2_ipfs_ports_refused(port: int) -> None:
    with pytest.raises(UsageError, match="IPFS"):
        Fetcher(FetchPolicy()).fetch(f"http://93.184.215.14:{port}/api/v0/pin/rm")


def test_case_2_connects_to_the_checked_address() -> None:
    # The name is resolved once by our resolver; the request reaches the address it
    # returned with the original Host header (no second lookup could rebind it).
    calls: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        calls.append(host)
        return ["127.0.0.1"]

    with serve({"/": b"pinned"}) as server:
        result = Fetcher(LOCAL, resolver=resolver).fetch(f"http://news.test:{server.port}/")
        assert result.body == b"pinned"
        assert calls == ["news.test"]
        assert server.headers[0]["host"] == f"news.test:{server.port}"


# -- case 3: schemes and credentials -------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.org/x",
        "ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
        "data:text/html,<p>x</p>",
        "http://user:pass@example.org/",
        "https://user@example.org/",
        "javascript:alert(1)",
        "example.org/no-scheme",
        "http:///no-host",
    ],
)
def test_case_3_bad_schemes_and_credentials_exit_2(url: str) -> None:
    with pytest.raises(UsageError) as e:
        Fetcher(LOCAL).fetch(url)
    assert e.value.exit_code == 2


def test_case_3_redirect_to_file_scheme_refused() -> None:
    with (
        serve({"/": redirect("file:///etc/passwd")}) as server,
        pytest.raises(UsageError, match="only http and https"),
    ):
        fetch(server.url("/"))


# -- case 4: body cap -----------------------------------------------------------------

CAP = 64 * 1024


def test_case_4_chunked_body_over_cap_exit_5() -> None:
    with serve({"/": chunked([b"x" * 8192] * 20)}) as server:
        with pytest.raises(LimitExceeded) as e:
            Fetcher(LOCAL).fetch(server.url("/"), max_bytes=CAP)
        assert e.value.exit_code == 5


def test_case_4_declared_length_over_cap_exit_5() -> None:
    with serve({"/": respond(b"x" * (CAP + 1))}) as server, pytest.raises(LimitExceeded):
        Fetcher(LOCAL).fetch(server.url("/"), max_bytes=CAP)


def test_case_4_chunked_below_cap_is_fine() -> None:
    with serve({"/": chunked([b"a" * 1000] * 10)}) as server:
        result = Fetcher(LOCAL).fetch(server.url("/"), max_bytes=CAP)
        assert result.body == b"a" * 10_000


def test_case_4_cap_counts_decoded_bytes() -> None:
    body = gzip.compress(b"y" * (CAP * 4))  # small on the wire, 4x the cap decoded
    assert len(body) < CAP
    with (
        serve({"/": respond(body, headers={"Content-Encoding": "gzip"})}) as server,
        pytest.raises(LimitExceeded, match="decoded"),
    ):
        Fetcher(LOCAL).fetch(server.url("/"), max_bytes=CAP)


# -- case 5: compression bombs --------------------------------------------------------

BOMB = 64 * 1024 * 1024


def _bomb(coding: str) -> bytes:
    zeros = b"\0" * BOMB
    if coding == "gzip":
        return gzip.compress(zeros, compresslevel=9)
    if coding == "deflate":
        return zlib.compress(zeros, 9)
    return brotli.compress(zeros, quality=5)


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br"])
def test_case_5_compression_bomb_exit_5_bounded_memory(coding: str) -> None:
    body = _bomb(coding)
    route = respond(body, content_type="text/html", headers={"Content-Encoding": coding})
    with serve({"/": route}) as server:
        tracemalloc.start()
        try:
            with pytest.raises(LimitExceeded):
                Fetcher(LOCAL).fetch(server.url("/"), max_bytes=1024 * 1024)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 16 * 1024 * 1024, f"peak {peak} bytes while decoding a {coding} bomb"


def test_case_5_stacked_encodings_exit_5() -> None:
    body = gzip.compress(gzip.compress(gzip.compress(b"hi")))
    route = respond(body, headers={"Content-Encoding": "gzip, gzip, gzip"})
    with serve({"/": route}) as server, pytest.raises(LimitExceeded, match="stacked"):
        fetch(server.url("/"))


def test_case_5_unknown_encoding_exit_5() -> None:
    with (
        serve({"/": respond(b"??", headers={"Content-Encoding": "compress"})}) as server,
        pytest.raises(LimitExceeded, match="content coding"),
    ):
        fetch(server.url("/"))


def test_case_5_two_codings_decode() -> None:
    body = brotli.compress(gzip.compress(b"<p>twice</p>"))
    with serve({"/": respond(body, headers={"Content-Encoding": "gzip, br"})}) as server:
        assert Fetcher(LOCAL).fetch(server.url("/")).body == b"<p>twice</p>"


# -- case 6: trickling server ---------------------------------------------------------


def test_case_6_trickle_under_read_timeout_hits_deadline_exit_4() -> None:
    policy = FetchPolicy(allow_private=True, read_timeout=1.0, deadline=1.5)
    with serve({"/": trickle(0.3, total=100)}) as server:
        start = time.monotonic()
        with pytest.raises(NetworkError, match="deadline") as e:
            Fetcher(policy).fetch(server.url("/"))
        elapsed = time.monotonic() - start
    assert e.value.exit_code == 4
    assert 1.4 < elapsed < 3.0


# -- case 7: charset ------------------------------------------------------------------

RU = "Москва: запрещённая статья о цензуре и свободе прессы. " * 4


@pytest.mark.parametrize(
    ("text", "codec", "header", "meta"),
    [
        (RU, "cp1251", "text/html; charset=windows-1251", ""),
        (RU, "koi8_r", "text/html", '<meta charset="koi8-r">'),
        ("東京の記者が検閲について書いた記事です。", "cp932", "text/html; charset=x-sjis", ""),
        (
            "東京の記者が検閲について書いた記事です。",
            "euc_jp",
            None,
            '<meta http-equiv="Content-Type" content="text/html; charset=EUC-JP">',
        ),
        ("北京记者关于审查制度的文章。", "gbk", "text/html; charset=gb2312", ""),
    ],
)
def test_case_7_non_latin_pages_round_trip(
    text: str, codec: str, header: str | None, meta: str
) -> None:
    html = f"<html><head>{meta}<title>t</title></head><body><p>{text}</p></body></html>"
    route = respond(html.encode(codec), content_type=header or "")
    with serve({"/": route}) as server:
        result = Fetcher(LOCAL).fetch(server.url("/"))
    decoded, _ = decode_html(result.body, result.headers.get("content-type"))
    assert text in decoded


def test_case_7_bom_beats_lying_meta() -> None:
    body = b"\xef\xbb\xbf<meta charset=windows-1251><p>" + "Привет".encode() + b"</p>"
    with serve({"/": respond(body, content_type="text/html")}) as server:
        result = Fetcher(LOCAL).fetch(server.url("/"))
    assert decode_html(result.body, result.headers.get("content-type")) == (
        "<meta charset=windows-1251><p>Привет</p>",
        "utf-8",
    )


def test_case_7_invalid_bytes_never_crash() -> None:
    body = b"<meta charset=utf-8><p>ok \xff\xfe\xc3 bad</p>"
    with serve({"/": respond(body, content_type="text/html; charset=utf-8")}) as server:
        result = Fetcher(LOCAL).fetch(server.url("/"))
    text, encoding = decode_html(result.body, result.headers.get("content-type"))
    assert encoding == "utf-8"
    assert text == "<meta charset=utf-8><p>ok \ufffd\ufffd\ufffd bad</p>"


def test_case_7_socks5h_checks_literal_ips_only() -> None:
    fetcher = Fetcher(FetchPolicy(proxy="socks5h://127.0.0.1:9"))
    with pytest.raises(UsageError, match="private or local"):
        fetcher.fetch("http://0x7f000001/")
    # A name is left for the proxy to resolve: the fetch goes to the proxy (refused
    # here, nothing listens on port 9), not to a local lookup.
    with pytest.raises(NetworkError):
        fetcher.fetch("http://internal.example/")


# -- case 8: HTTP errors and retries --------------------------------------------------


@pytest.mark.parametrize("status", [404, 410, 500])
def test_case_8_error_status_exit_4_with_status(status: int) -> None:
    with serve({"/": respond(b"no", status=status)}) as server:
        with pytest.raises(NetworkError) as e:
            fetch(server.url("/"))
        assert e.value.exit_code == 4
        assert str(e.value) == f"HTTP {status} from {server.url('/')}"
        assert server.requests == ["/"]


def test_case_8_429_retried_then_succeeds() -> None:
    busy = respond(b"slow down", status=429, headers={"Retry-After": "0"})
    waits: list[float] = []
    with serve({"/": sequence(busy, respond(b"", status=503), b"finally")}) as server:
        result = Fetcher(LOCAL, sleep=waits.append).fetch(server.url("/"))
        assert result.body == b"finally"
        assert server.requests == ["/", "/", "/"]
    assert waits == [0.0, 2.0]  # Retry-After honoured, then our own backoff (1s doubled)


def test_case_8_429_after_retries_exit_4() -> None:
    busy = respond(b"slow down", status=429, headers={"Retry-After": "0"})
    with serve({"/": busy}) as server, pytest.raises(NetworkError, match="HTTP 429 from"):
        fetch(server.url("/"))
        assert len(server.requests) == 3  # first try + 2 retries


def test_case_8_long_retry_after_gives_up_at_once() -> None:
    busy = respond(b"", status=503, headers={"Retry-After": "3600"})
    waits: list[float] = []
    with serve({"/": busy}) as server, pytest.raises(NetworkError, match="HTTP 503"):
        Fetcher(LOCAL, sleep=waits.append).fetch(server.url("/"))
        assert server.requests == ["/"]
    assert waits == []


def test_case_8_retry_never_waits_past_deadline() -> None:
    policy = FetchPolicy(allow_private=True, deadline=2, max_retry_wait=10)
    busy = respond(b"", status=429, headers={"Retry-After": "5"})
    waits: list[float] = []
    with serve({"/": busy}) as server, pytest.raises(NetworkError, match="HTTP 429"):
        Fetcher(policy, sleep=waits.append).fetch(server.url("/"))
    assert waits == []
