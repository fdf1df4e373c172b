"""A real HTTP(S) server on 127.0.0.1 in a background thread, for tests.

    with serve({"/": b"<p>hi</p>", "/r": redirect("/")}) as server:
        fetch(server.url("/r"))
        assert server.requests == ["/r", "/"]

A route is bytes/str (200 text/html; charset=utf-8) or a callable that receives the
``BaseHTTPRequestHandler`` and writes its own status, headers and body. Unknown paths
get 404. Routes may be added after start (``server.routes[path] = ...``).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

Handler = Callable[[BaseHTTPRequestHandler], None]
Route = bytes | str | Handler


@dataclass
class Server:
    base: str
    routes: dict[str, Route]
    requests: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    ca_file: str | None = None  # PEM of the self-signed certificate when tls=True

    def url(self, path: str = "/") -> str:
        return self.base + path

    @property
    def port(self) -> int:
        return urlsplit(self.base).port or 0


class _Quiet:
    """Mixin: no access log on stderr; a client hanging up is not an error."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Httpd(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that disconnect mid-body (the point of many tests)


def _record(server: Server, handler: BaseHTTPRequestHandler) -> None:
    server.requests.append(handler.path)
    server.headers.append({k.lower(): v for k, v in handler.headers.items()})


def _make_handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class RouteHandler(_Quiet, BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _dispatch(self) -> None:
            _record(server, self)
            route = server.routes.get(self.path)
            if route is None:
                route = server.routes.get(urlsplit(self.path).path)
            if route is None:
                respond(b"not found", status=404, content_type="text/plain")(self)
            elif isinstance(route, bytes | str):
                respond(route)(self)
            else:
                route(self)

        do_GET = do_HEAD = do_POST = _dispatch

    return RouteHandler


@contextmanager
def _run(httpd: _Httpd) -> Iterator[None]:
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@contextmanager
def serve(routes: Mapping[str, Route] | None = None, *, tls: bool = False) -> Iterator[Server]:
    """Serve ``routes`` on 127.0.0.1 (a free port). With ``tls=True`` the server speaks
    HTTPS with a fresh self-signed certificate for ``localhost`` and 127.0.0.1, whose
    PEM path is ``server.ca_file`` (pass it as the CA bundle)."""
    server = Server(base="", routes=dict(routes or {}))
    httpd = _Httpd(("127.0.0.1", 0), _make_handler(server))
    port = httpd.server_address[1]
    with tempfile.TemporaryDirectory() as tmp:
        if tls:
            server.ca_file = _wrap_tls(httpd, Path(tmp))
            server.base = f"https://localhost:{port}"
        else:
            server.base = f"http://127.0.0.1:{port}"
        with _run(httpd):
            yield server


@contextmanager
def serve_directory(path: str | Path) -> Iterator[Server]:
    """Serve a static tree (index.html, guessed content types) on 127.0.0.1."""
    server = Server(base="", routes={})

    class DirHandler(_Quiet, SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(path), **kwargs)

        def send_head(self) -> Any:
            _record(server, self)
            return super().send_head()

    httpd = _Httpd(("127.0.0.1", 0), DirHandler)
    server.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    with _run(httpd):
        yield server


def _wrap_tls(httpd: _Httpd, tmp: Path) -> str:
    cert, key = self_signed_cert(tmp, "localhost")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    return str(cert)


def self_signed_cert(directory: Path, hostname: str) -> tuple[Path, Path]:
    """Write a self-signed certificate (SAN: hostname, 127.0.0.1) and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName(hostname), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


# --- route builders -------------------------------------------------------------


def respond(
    body: bytes | str,
    *,
    status: int = 200,
    content_type: str = "text/html; charset=utf-8",
    headers: Mapping[str, str] | None = None,
) -> Handler:
    """A complete response with Content-Length."""
    data = body.encode() if isinstance(body, str) else body

    def handler(h: BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        if content_type:
            h.send_header("Content-Type", content_type)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(data)

    return handler


def redirect(location: str, status: int = 302) -> Handler:
    return respond(b"", status=status, content_type="", headers={"Location": location})


def chunked(
    chunks: Iterable[bytes],
    *,
    status: int = 200,
    content_type: str = "text/html; charset=utf-8",
    headers: Mapping[str, str] | None = None,
) -> Handler:
    """Transfer-Encoding: chunked, no Content-Length. ``chunks`` may be a generator
    factory's output; pass a list if the route is hit more than once."""

    def handler(h: BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        for chunk in chunks:
            if chunk:
                h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        h.wfile.write(b"0\r\n\r\n")

    return handler


def trickle(interval: float, *, total: int = 10_000, content_length: int | None = None) -> Handler:
    """Send one byte every ``interval`` seconds, ``total`` bytes at most (bounded so
    the server thread ends even if nobody reads)."""

    def handler(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "text/html")
        h.send_header("Content-Length", str(content_length or total))
        h.end_headers()
        h.wfile.flush()
        for _ in range(total):
            time.sleep(interval)
            h.wfile.write(b"x")
            h.wfile.flush()

    return handler


def sequence(*handlers: Route) -> Handler:
    """Answer the n-th request with the n-th route (the last one repeats)."""
    lock = threading.Lock()
    count = [0]

    def handler(h: BaseHTTPRequestHandler) -> None:
        with lock:
            i = min(count[0], len(handlers) - 1)
            count[0] += 1
        route = handlers[i]
        (respond(route) if isinstance(route, bytes | str) else route)(h)

    return handler


__all__ = [
    "Handler",
    "Route",
    "Server",
    "chunked",
    "redirect",
    "respond",
    "self_signed_cert",
    "sequence",
    "serve",
    "serve_directory",
    "trickle",
]
