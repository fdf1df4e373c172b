"""Safe HTTP fetching for capture: limits, manual redirects, an address guard, retries.

Every fetch is bounded: a total deadline (enforced by a watchdog that closes the
socket, so a server trickling bytes cannot hold it open), a cap on *decoded* body
bytes, at most ``max_redirects`` hops, at most two content codings, a few retries.

Address guard (server-side request forgery): before each hop the host is resolved,
and the hop is refused if any address is loopback, private, link-local, CGNAT,
multicast, reserved or unspecified (including IPv4-mapped, 6to4, Teredo and NAT64
forms and odd literals such as ``0x7f000001``, ``2130706433``, ``0177.0.0.1`` or
``127.1``), or if the port is a local IPFS API (5001) or gateway (8080) port. The
connection then goes to the address that was checked (the TCP peer is pinned; the
Host header, TLS SNI and certificate check keep the original name), so a second DNS
answer cannot rebind it. ``FetchPolicy(allow_private=True)`` lifts the guard.

Proxies: with ``socks5://`` names are resolved here, checked and pinned as above.
With ``socks5h://`` (and ``http://``/``https://`` proxies) the proxy resolves names,
so only literal IP addresses and ``localhost`` names can be checked; a name that the
proxy resolves to a private address is not caught here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import hashlib
import ipaddress
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests
import requests.adapters
import urllib3
import urllib3.exceptions
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.util.request import ACCEPT_ENCODING

from mirror import __version__
from mirror.addresses import is_public_address, literal_ip
from mirror.capture.charset import parse_content_type
from mirror.clock import Clock, format_time, system_clock
from mirror.errors import LimitExceeded, NetworkError, UsageError

USER_AGENT = f"mirror/{__version__} (news archiving; +https://example.invalid/mirror)"
DEFAULT_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

_SCHEMES = frozenset({"http", "https"})
_PROXY_SCHEMES = frozenset({"http", "https", "socks5", "socks5h"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_RETRY_STATUSES = frozenset({429, 503})
_IPFS_PORTS = frozenset({5001, 8080})
_KEPT_HEADERS = (
    "content-type",
    "content-length",
    "last-modified",
    "etag",
    "date",
    "server",
    "content-language",
    "cache-control",
)
_CODINGS = frozenset(
    {"gzip", "x-gzip", "deflate"} | {c.strip() for c in ACCEPT_ENCODING.split(",")}
)
_MAX_CODINGS = 2
_CHUNK = 64 * 1024

Resolver = Callable[[str, int], list[str]]


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """Limits and options for every fetch. Times in seconds, sizes in bytes."""

    allow_private: bool = False
    proxy: str | None = None
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    deadline: float = 30.0
    max_bytes: int = 20 * 1024 * 1024
    max_redirects: int = 5
    retries: int = 2
    backoff: float = 1.0  # first wait when a 429/503 has no Retry-After; doubles
    max_retry_wait: float = 10.0  # longest single wait; a longer Retry-After gives up
    user_agent: str = USER_AGENT
    ca_bundle: str | None = None  # PEM file of trusted CAs; None: the system's

    def __post_init__(self) -> None:
        if self.proxy is not None:
            parts = urlsplit(self.proxy)
            if parts.scheme.lower() not in _PROXY_SCHEMES or not parts.hostname:
                raise UsageError(
                    f"unsupported proxy {self.proxy!r}: use http://, https://, "
                    "socks5:// or socks5h://HOST:PORT"
                )
        for name in ("connect_timeout", "read_timeout", "deadline"):
            if not getattr(self, name) > 0:
                raise UsageError(f"{name} must be positive")
        if self.max_bytes < 1 or self.max_redirects < 0 or self.retries < 0:
            raise UsageError("max_bytes must be positive; redirects and retries >= 0")


@dataclass(frozen=True, slots=True)
class FetchResult:
    requested_url: str
    final_url: str
    redirects: tuple[str, ...]  # the URLs that answered with a redirect, in order
    status: int
    headers: dict[str, str]  # the _KEPT_HEADERS present, lowercased names
    body: bytes  # after content decoding
    fetched_at: str  # UTC, ISO-8601 seconds, 'Z'
    tls_cert_sha256: str | None  # hex SHA-256 of the peer's DER certificate
    content_type: str | None  # mime type without parameters
    charset: str | None  # charset label from Content-Type, as sent


@dataclass(frozen=True, slots=True)
class _Target:
    url: str
    scheme: str
    host: str
    port: int
    pin: str | None  # the checked address to connect to; None: the proxy resolves


def _system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class Fetcher:
    """Fetches URLs under a FetchPolicy. The resolver, sleep and clock are the edges
    tests may replace; one Fetcher may be used from several threads."""

    def __init__(
        self,
        policy: FetchPolicy | None = None,
        *,
        resolver: Resolver | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Clock = system_clock,
    ) -> None:
        self.policy = policy or FetchPolicy()
        self._resolve = resolver or _system_resolver
        self._sleep = sleep
        self._clock = clock

    def fetch(
        self, url: str, *, accept: str | None = None, max_bytes: int | None = None
    ) -> FetchResult:
        """GET ``url``. Raises UsageError (refused URL or address), LimitExceeded
        (size, redirects, codings) or NetworkError (HTTP status, timeouts, TLS)."""
        policy = self.policy
        cap = policy.max_bytes if max_bytes is None else max_bytes
        target = self._target(url)
        deadline = time.monotonic() + policy.deadline
        with _Watchdog(policy.deadline) as watch, _session(policy, watch) as session:
            try:
                return self._run(session, target, accept or DEFAULT_ACCEPT, cap, deadline)
            except (LimitExceeded, UsageError, NetworkError):
                if watch.fired:
                    raise _deadline_error(url, policy.deadline) from None
                raise
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as e:
                if watch.fired:
                    raise _deadline_error(url, policy.deadline) from e
                raise _network_error(url, e) from e

    # -- one fetch -------------------------------------------------------------------

    def _run(
        self, session: requests.Session, target: _Target, accept: str, cap: int, deadline: float
    ) -> FetchResult:
        policy = self.policy
        requested = target.url
        redirects: list[str] = []
        seen = {target.url}
        attempt = 0
        while True:
            resp = _send(session, target, accept, policy, deadline)
            status = resp.status_code
            location = resp.headers.get("location")
            if status in _REDIRECTS and location:
                resp.close()
                if len(redirects) >= policy.max_redirects:
                    raise LimitExceeded(
                        f"more than {policy.max_redirects} redirects from {requested}"
                    )
                next_url = _join(target.url, location)
                if next_url in seen:
                    raise LimitExceeded(f"redirect loop at {next_url} (from {requested})")
                seen.add(next_url)
                redirects.append(target.url)
                target = self._target(next_url)
                continue
            if status in _RETRY_STATUSES and attempt < policy.retries:
                resp.close()
                wait = _retry_wait(resp.headers.get("retry-after"), attempt, policy, self._clock())
                if wait is None or time.monotonic() + wait >= deadline:
                    raise NetworkError(
                        f"HTTP {status} from {target.url} (server asks to retry later)"
                    )
                attempt += 1
                self._sleep(wait)
                continue
            if not 200 <= status < 300:
                resp.close()
                raise NetworkError(f"HTTP {status} from {target.url}")
            fetched_at = format_time(self._clock())
            cert = _peer_cert_sha256(resp)
            body = _read_body(resp, target.url, cap, deadline)
            headers = {k: resp.headers[k] for k in _KEPT_HEADERS if k in resp.headers}
            mime, charset = parse_content_type(headers.get("content-type"))
            return FetchResult(
                requested_url=requested,
                final_url=target.url,
                redirects=tuple(redirects),
                status=status,
                headers=headers,
                body=body,
                fetched_at=fetched_at,
                tls_cert_sha256=cert,
                content_type=mime,
                charset=charset,
            )

    # -- the address guard -----------------------------------------------------------

    def _target(self, url: str) -> _Target:
        """Validate a URL and decide which address to connect to (refusing first)."""
        scheme, host, port, url = parse_url(url)
        policy = self.policy
        proxy_scheme = urlsplit(policy.proxy).scheme.lower() if policy.proxy else None
        literal = literal_ip(host)
        if policy.allow_private:
            if proxy_scheme not in (None, "socks5"):
                return _Target(url, scheme, host, port, None)
            pin = str(literal) if literal else self._resolve_one(host, port, url)[0]
            return _Target(url, scheme, host, port, pin)
        if port in _IPFS_PORTS:
            raise UsageError(f"refusing {url}: port {port} is a local IPFS API/gateway port")
        if literal is None and (host == "localhost" or host.endswith(".localhost")):
            raise UsageError(f"refusing {url}: {host} is a local address")
        if literal is not None:
            _check_address(literal, url)
            return _Target(
                url, scheme, host, port, str(literal) if proxy_scheme in (None, "socks5") else None
            )
        if proxy_scheme not in (None, "socks5"):
            return _Target(url, scheme, host, port, None)  # the proxy resolves names
        addresses = self._resolve_one(host, port, url)
        for address in addresses:
            _check_address(ipaddress.ip_address(address.split("%", 1)[0]), url)
        return _Target(url, scheme, host, port, addresses[0])

    def _resolve_one(self, host: str, port: int, url: str) -> list[str]:
        try:
            addresses = self._resolve(host, port)
        except (OSError, UnicodeError) as e:
            raise NetworkError(f"cannot resolve {host} (for {url}): {e}") from e
        if not addresses:
            raise NetworkError(f"cannot resolve {host} (for {url})")
        return addresses


def parse_url(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, url without fragment); UsageError for anything but a
    plain http(s) URL with a host and no credentials."""
    if not isinstance(url, str) or re.search(r"[\x00-\x20\x7f]", url):
        raise UsageError(f"refusing {url!r}: not a URL (whitespace or control characters)")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        shown = f"{scheme}:" if scheme else "a URL without a scheme"
        raise UsageError(f"refusing {url}: only http and https are fetched, not {shown}")
    if "@" in parts.netloc:
        raise UsageError(f"refusing {url}: credentials in the URL are not allowed")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError as e:
        raise UsageError(f"refusing {url}: bad port") from e
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UsageError(f"refusing {url}: no host")
    clean = urlunsplit((scheme, parts.netloc, parts.path or "/", parts.query, ""))
    return scheme, host, port, clean


def _check_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, url: str) -> None:
    if not is_public_address(ip):
        raise UsageError(
            f"refusing {url}: it resolves to {ip}, a private or local address "
            "(pass the allow-private option to fetch it anyway)"
        )


# -- transport -------------------------------------------------------------------


class _Watchdog:
    """Shuts down the sockets of a fetch when its deadline passes, so a blocked read
    returns at once instead of waiting out a read timeout that keeps being reset."""

    def __init__(self, seconds: float) -> None:
        self.fired = False
        self._conns: list[Any] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()

    def add(self, conn: Any) -> None:
        with self._lock:
            self._conns.append(conn)

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            conns = list(self._conns)
        for conn in conns:
            sock = getattr(conn, "sock", None)
            if sock is not None:
                # The plain-socket shutdown, also for TLS sockets: it only wakes
                # the reader; the TLS object is torn down by the reading thread.
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _PinnedAdapter(requests.adapters.HTTPAdapter):
    """Connects to the checked address (``self.target.pin``) while the URL, Host
    header, SNI and certificate check keep the original host name."""

    def __init__(self, watch: _Watchdog) -> None:
        super().__init__(pool_connections=1, pool_maxsize=1, max_retries=0)
        self.watch = watch
        self.target: _Target | None = None

    def get_connection_with_tls_context(
        self,
        request: requests.PreparedRequest,
        verify: bool | str | None,
        proxies: Mapping[str, str] | None = None,
        cert: Any = None,
    ) -> HTTPConnectionPool:
        target = self.target
        if target is None or target.pin is None:
            pool: Any = super().get_connection_with_tls_context(request, verify, proxies, cert)
        else:
            host_params, pool_kwargs = self.build_connection_pool_key_attributes(
                request, True if verify is None else verify, cert
            )
            host_params["host"] = target.pin
            kwargs: dict[str, Any] = dict(pool_kwargs)
            if target.scheme == "https":
                kwargs["server_hostname"] = target.host
                kwargs["assert_hostname"] = target.host
            proxy = (proxies or {}).get(target.scheme)
            manager = self.proxy_manager_for(proxy) if proxy else self.poolmanager
            pool = manager.connection_from_host(**host_params, pool_kwargs=kwargs)
        _watch_pool(pool, self.watch)
        return cast(HTTPConnectionPool, pool)


def _watch_pool(pool: HTTPConnectionPool, watch: _Watchdog) -> None:
    base = pool.ConnectionCls
    if getattr(base, "_mirror_watched", False):
        return

    def factory(*args: Any, **kwargs: Any) -> Any:
        conn = base(*args, **kwargs)
        watch.add(conn)
        return conn

    factory._mirror_watched = True  # type: ignore[attr-defined]
    pool.ConnectionCls = factory  # type: ignore[assignment]


class _session:
    def __init__(self, policy: FetchPolicy, watch: _Watchdog) -> None:
        self.session = requests.Session()
        # No environment proxies or .netrc credentials: only what the policy says.
        self.session.trust_env = False
        self.adapter = _PinnedAdapter(watch)
        self.session.mount("http://", self.adapter)
        self.session.mount("https://", self.adapter)

    def __enter__(self) -> requests.Session:
        return self.session

    def __exit__(self, *exc: object) -> None:
        self.session.close()


def _send(
    session: requests.Session, target: _Target, accept: str, policy: FetchPolicy, deadline: float
) -> requests.Response:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise _deadline_error(target.url, policy.deadline)
    headers = {
        "User-Agent": policy.user_agent,
        "Accept": accept,
        "Accept-Encoding": ",".join(sorted(_CODINGS - {"x-gzip"})),
    }
    if target.pin is not None:
        netloc = urlsplit(target.url).netloc
        headers["Host"] = netloc
    adapter = session.get_adapter(target.url)
    assert isinstance(adapter, _PinnedAdapter)
    adapter.target = target
    request = requests.Request("GET", target.url, headers=headers).prepare()
    proxies = {"http": policy.proxy, "https": policy.proxy} if policy.proxy else {}
    return session.send(
        request,
        stream=True,
        allow_redirects=False,
        timeout=(min(policy.connect_timeout, remaining), min(policy.read_timeout, remaining)),
        verify=policy.ca_bundle or True,
        proxies=proxies,
    )


def _read_body(resp: requests.Response, url: str, cap: int, deadline: float) -> bytes:
    codings = [
        c.strip().lower()
        for c in resp.headers.get("content-encoding", "").split(",")
        if c.strip() and c.strip().lower() != "identity"
    ]
    if len(codings) > _MAX_CODINGS:
        resp.close()
        raise LimitExceeded(f"{url}: {len(codings)} stacked content codings (at most 2)")
    unknown = [c for c in codings if c not in _CODINGS]
    if unknown:
        resp.close()
        raise LimitExceeded(f"{url}: unsupported content coding {unknown[0]!r}")
    declared = resp.headers.get("content-length", "")
    if not codings and declared.isdigit() and int(declared) > cap:
        resp.close()
        raise LimitExceeded(f"{url}: body of {declared} bytes exceeds the {cap}-byte limit")
    chunks: list[bytes] = []
    total = 0
    try:
        for chunk in _stream(resp):
            total += len(chunk)
            if total > cap:
                raise LimitExceeded(f"{url}: body exceeds the {cap}-byte limit (decoded)")
            chunks.append(chunk)
            if time.monotonic() > deadline:
                raise NetworkError(f"{url}: body not complete within the deadline")
    finally:
        resp.close()
    return b"".join(chunks)


def _stream(resp: requests.Response) -> Iterator[bytes]:
    # urllib3 >= 2.6 bounds each decompressed read to the requested amount, so a
    # bomb is consumed chunk by chunk and stopped by the cap with flat memory.
    raw: urllib3.HTTPResponse = resp.raw
    yield from raw.stream(_CHUNK, decode_content=True)


def _peer_cert_sha256(resp: requests.Response) -> str | None:
    conn = getattr(resp.raw, "connection", None)
    sock = getattr(conn, "sock", None)
    getpeercert = getattr(sock, "getpeercert", None)
    if getpeercert is None:
        return None
    der = getpeercert(binary_form=True)
    return hashlib.sha256(der).hexdigest() if der else None


def _join(base: str, location: str) -> str:
    with contextlib.suppress(UnicodeError):  # headers arrive as latin-1; most mean UTF-8
        location = location.encode("latin-1").decode("utf-8")
    joined = urljoin(base, location.strip())
    return urlunsplit(urlsplit(joined)._replace(fragment=""))


def _retry_wait(
    header: str | None, attempt: int, policy: FetchPolicy, now: dt.datetime
) -> float | None:
    """Seconds to wait before retrying, or None when the server asks for longer
    than the policy allows a single wait to be."""
    wait: float = policy.backoff * (2**attempt)
    if header:
        value = header.strip()
        if value.isdigit():
            wait = float(value)
        else:
            try:
                when = email.utils.parsedate_to_datetime(value)
                wait = max(0.0, (when - now).total_seconds())
            except (TypeError, ValueError):
                pass  # unparseable: fall back to our own backoff
    if wait > policy.max_retry_wait:
        return None
    return wait


def _deadline_error(url: str, seconds: float) -> NetworkError:
    return NetworkError(f"{url} did not answer completely within the {seconds:g}s deadline")


def _network_error(url: str, e: BaseException) -> NetworkError:
    if isinstance(e, requests.exceptions.SSLError):
        return NetworkError(f"TLS error for {url}: {_reason(e)}")
    if isinstance(
        e, requests.Timeout | urllib3.exceptions.TimeoutError | socket.timeout | TimeoutError
    ):
        return NetworkError(f"timed out fetching {url}")
    if isinstance(e, requests.exceptions.InvalidURL | requests.exceptions.InvalidSchema):
        return NetworkError(f"cannot fetch {url}: {_reason(e)}")
    return NetworkError(f"cannot fetch {url}: {_reason(e)}")


def _reason(e: BaseException) -> str:
    # The innermost cause says what happened; keep the message to one line.
    while e.__cause__ is not None or (e.args and isinstance(e.args[0], BaseException)):
        nxt = e.__cause__ or e.args[0]
        if nxt is e:
            break
        e = nxt
    text = str(e).splitlines()[0] if str(e) else type(e).__name__
    return text[:200]


__all__ = [
    "DEFAULT_ACCEPT",
    "USER_AGENT",
    "FetchPolicy",
    "FetchResult",
    "Fetcher",
    "parse_url",
]
