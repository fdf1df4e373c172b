"""`mirror read`: a local viewer that shows only verified bytes, under a verdict bar.

Verification happens first; the files are then held in memory (each checked again
against the signed manifest), so nothing read from disk later can reach the page.
The server binds 127.0.0.1 on an ephemeral port, answers only GET/HEAD of the paths
it was given, checks the Host header (no DNS rebinding), and sends strict CSP headers.
The page at / is the verdict: a green bar above the article (in a script-free
sandboxed frame, so the article cannot draw over the bar) or a red refusal page that
says why and shows nothing of the content.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from . import store
from .config import Home
from .errors import MirrorError, StorageError
from .errors import refusal as refusal_json
from .export_format import MAX_EXPORT, MIME, PAGE
from .identity import CHAIN_NAME
from .keys import TrustedKey
from .reader import check_path, is_export, load_trust, page_files, persist
from .verify import Verdict, check_export

ARTICLE = "/article/"
BAR_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; frame-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
ARTICLE_CSP = (
    "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'; "
    "sandbox allow-same-origin allow-popups allow-popups-to-escape-sandbox"
)
_TYPES = {"html": "text/html; charset=utf-8", **MIME}


@dataclass(frozen=True, slots=True)
class Resource:
    body: bytes
    content_type: str
    csp: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """What `mirror read` shows: a verdict and its pages, or the reason for refusal."""

    verdict: Verdict | None
    error: MirrorError | None
    routes: Mapping[str, Resource] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return self.error.exit_code if self.error is not None else 0

    @property
    def ok(self) -> bool:
        return self.verdict is not None

    def to_dict(self) -> dict[str, Any]:
        if self.verdict is not None:
            return self.verdict.to_dict()
        assert self.error is not None
        return refusal_json(self.error)


def load_verified(
    home: Home, target: Path, trusted: Sequence[TrustedKey]
) -> tuple[Verdict, dict[str, bytes]]:
    """Verify a bundle folder, CAR or single-file export under what this reader trusts
    and remembers; return the verdict and the page files to serve (remembered on
    success, like `mirror verify`)."""
    target = Path(target)
    trust = load_trust(home, trusted)
    if is_export(target):
        data = store.read_bytes(target, limit=MAX_EXPORT, what="single-file export")
        verdict, files = check_export(data, trust), {PAGE: data}
    else:
        verdict = check_path(target, trust)
        files = page_files(target, verdict)
        files.pop(CHAIN_NAME, None)  # the reader's page needs no identity document
    persist(home, verdict)
    return verdict, files


def _type(path: str) -> str:
    return _TYPES.get(path.rsplit(".", 1)[-1].lower(), "application/octet-stream")


def _style(color: str) -> str:
    return (
        "html,body{margin:0;height:100%;background:#fff}"
        "body{display:flex;flex-direction:column;font:15px/1.45 system-ui,sans-serif}"
        f".bar{{background:{color};color:#fff;padding:.6rem 1rem;flex:none}}"
        ".bar code{font-size:.95em;background:rgba(0,0,0,.18);padding:0 .25em;border-radius:3px}"
        ".bar .sub{opacity:.9;font-size:.9em;overflow-wrap:anywhere}"
        "iframe{flex:1;border:0;width:100%}"
        ".why{max-width:40em;margin:2rem auto;padding:0 1rem;color:#222}"
        ".why pre{white-space:pre-wrap;background:#fbeaea;border-left:4px solid #b3261e;"
        "padding:.75rem;font-size:.95em}"
    )


def _doc(title: str, color: str, body: str) -> bytes:
    e = html.escape
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{BAR_CSP}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{e(title)}</title>\n<style>{_style(color)}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    ).encode()


def verified_page(verdict: Verdict) -> bytes:
    e = html.escape
    d = verdict.to_dict()
    source = f" from {e(d['url'])}" if d["url"] else ""
    body = (
        '<header class="bar" id="verdict" role="status" data-verdict="verified">'
        f"<div><strong>verified</strong>: signed by {e(d['publisher'])} "
        f"<code>{e(d['key_id'])}</code>, captured {e(d['captured_at'])}</div>"
        f'<div class="sub">{e(d["title"])}{source} · root <code>{e(d["root_cid"])}</code> · '
        f"{d['files_checked']} file(s) checked</div></header>\n"
        f'<iframe src="{ARTICLE}{PAGE}" title="article" referrerpolicy="no-referrer" '
        'sandbox="allow-same-origin allow-popups allow-popups-to-escape-sandbox"></iframe>'
    )
    return _doc(f"verified: {d['title'] or 'article'}", "#1e7d32", body)


def refusal_page(reason: str, target: str) -> bytes:
    e = html.escape
    body = (
        '<header class="bar" id="verdict" role="alert" data-verdict="refused">'
        "<strong>refused</strong>: this copy could not be verified, so it is not shown"
        "</header>\n"
        '<div class="why">'
        f"<p>What was checked: <code>{e(target)}</code></p>"
        f"<p>Why it was refused:</p><pre>{e(reason)}</pre>"
        "<p>The article may have been changed by someone between the publisher and you, "
        "be signed by a key you do not trust, or be damaged. Ask for another copy (from "
        "another friend, node or gateway) and read it with <code>mirror read</code> again. "
        "Nothing of this copy's content was displayed.</p></div>"
    )
    return _doc("refused: not verified", "#b3261e", body)


def prepare(
    home: Home, target: Path, trusted: Sequence[TrustedKey], label: str | None = None
) -> Outcome:
    """Verify TARGET and build the pages to serve; a failure becomes a refusal."""
    try:
        verdict, files = load_verified(home, target, trusted)
    except MirrorError as exc:
        return refusal(exc, label or str(target))
    routes = {"/": Resource(verified_page(verdict), _type("html"), BAR_CSP)}
    for path, data in files.items():
        routes[ARTICLE + path] = Resource(data, _type(path), ARTICLE_CSP)
    return Outcome(verdict, None, routes)


def refusal(exc: MirrorError, label: str) -> Outcome:
    page = Resource(refusal_page(exc.message, label), _type("html"), BAR_CSP)
    return Outcome(None, exc, {"/": page})


# -- the local server ------------------------------------------------------------------


class _Httpd(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a browser closing a connection early is not an error


class ReaderServer:
    """Serves fixed in-memory resources on 127.0.0.1:<ephemeral port>."""

    def __init__(self, routes: Mapping[str, Resource], port: int = 0) -> None:
        self.routes = dict(routes)
        try:
            self._httpd = _Httpd(("127.0.0.1", port), self._handler())
        except OSError as exc:
            raise StorageError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from exc
        self.port = int(self._httpd.server_address[1])
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "mirror-read"
            sys_version = ""

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, res: Resource | None) -> None:
                body = res.body if res else f"{status}\n".encode()
                self.send_response(status)
                self.send_header("Content-Type", res.content_type if res else "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.send_header(
                    "Content-Security-Policy", res.csp if res else "default-src 'none'"
                )
                self.send_header("X-Content-Type-Options", "nosniff")
                self.send_header("Referrer-Policy", "no-referrer")
                self.send_header("Cache-Control", "no-store")
                self.send_header("Cross-Origin-Resource-Policy", "same-origin")
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_GET(self) -> None:
                if self.headers.get("Host") not in (f"127.0.0.1:{server.port}",):
                    self._send(421, None)  # another name for this address: DNS rebinding
                    return
                res = server.routes.get(urlsplit(self.path).path)
                self._send(200 if res else 404, res)

            do_HEAD = do_GET

            def _refuse(self) -> None:
                self._send(405, None)

            do_POST = do_PUT = do_DELETE = do_OPTIONS = do_PATCH = _refuse

        return Handler

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
