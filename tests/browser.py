"""Open pages in headless Chromium and record every request they make.

Shared by the reader-page tests and the `mirror read` tests. Uses Debian's chromium
through playwright (never a downloaded browser). Two independent records:

- `page.route("**/*")` sees every request the page makes; requests outside the
  allowed origin are aborted and recorded as `blocked`;
- a loopback canary is the browser's HTTP(S) proxy, so anything that escapes the
  route (browser-process fetches, prefetches) reaches it instead of the network and
  is recorded as `canary`.
"""

from __future__ import annotations

import html.parser
import http.server
import os
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--disable-field-trial-config",
]

# The browser's own services (updates, sign-in): traffic of Chromium itself, not of
# the page, that reaches the canary while a page is open. Kept apart, not ignored.
BROWSER_HOSTS = ("googleapis.com", "google.com", "gvt1.com", "gstatic.com", "googleusercontent.com")


def _browser_own(line: str) -> bool:
    target = line.split(" ", 1)[-1]
    host = (urlsplit(target).hostname if "//" in target else target.rsplit(":", 1)[0]) or ""
    return any(host == h or host.endswith("." + h) for h in BROWSER_HOSTS)


def browser_missing() -> str | None:
    """Why no browser test can run here, or None when one can."""
    if not os.path.exists(CHROMIUM):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed"
    return None


def require_browser() -> None:
    reason = browser_missing()
    if reason:
        pytest.skip(reason)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve_directory(root: Path) -> Iterator[str]:
    """Serve `root` on 127.0.0.1; yields the base URL ending in '/'."""
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/"
    finally:
        srv.shutdown()
        srv.server_close()
        t.join(timeout=5)


class _Canary(http.server.BaseHTTPRequestHandler):
    """Records every request line it gets (GET, CONNECT, ...) and refuses it."""

    seen: list[str]

    def _refuse(self) -> None:
        self.seen.append(f"{self.command} {self.path}")
        self.send_response(403)
        self.send_header("Content-Length", "0")
        self.send_header("Connection", "close")
        self.end_headers()

    do_GET = do_POST = do_HEAD = do_PUT = do_OPTIONS = do_CONNECT = _refuse

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Browser:
    """A running headless Chromium whose proxy is the loopback canary."""

    browser: Any
    canary: list[str]


@dataclass
class Visit:
    requested: list[str] = field(default_factory=list)  # every URL the page asked for
    blocked: list[str] = field(default_factory=list)  # outside the allowed origin
    canary: list[str] = field(default_factory=list)  # reached the canary proxy
    background: list[str] = field(default_factory=list)  # Chromium's own services
    errors: list[str] = field(default_factory=list)

    @property
    def external(self) -> list[str]:
        return self.blocked + self.canary


@contextmanager
def chromium() -> Iterator[Browser]:
    """Headless Chromium (skips the test when unavailable)."""
    require_browser()
    from playwright.sync_api import sync_playwright

    seen: list[str] = []
    handler = type("Canary", (_Canary,), {"seen": seen})
    canary = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=canary.serve_forever, daemon=True)
    t.start()
    # Loopback stays direct (Chromium's implicit bypass); everything else goes to it.
    proxy = f"--proxy-server=http://127.0.0.1:{canary.server_address[1]}"
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, proxy])
            try:
                yield Browser(b, seen)
            finally:
                b.close()
    finally:
        canary.shutdown()
        canary.server_close()
        t.join(timeout=5)


def _origin(url: str) -> str:
    p = urlsplit(url)
    return f"{p.scheme}://{p.netloc}"


def visit(
    b: Browser,
    url: str,
    *,
    allow: Callable[[str], bool] | None = None,
    screenshot: Path | None = None,
    settle_ms: int = 500,
    viewport: tuple[int, int] = (900, 1200),
) -> Visit:
    """Load `url`, let it settle, and record its requests.

    Requests that `allow` refuses (default: anything outside the page's own origin)
    are aborted and listed in `blocked`; new canary hits are listed in `canary`.
    """
    own = _origin(url)
    ok = allow or (lambda u: _origin(u) == own)
    v = Visit()
    before = len(b.canary)
    page = b.browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})

    def handle(route: Any) -> None:
        u = route.request.url
        v.requested.append(u)
        if ok(u):
            route.continue_()
        else:
            v.blocked.append(u)
            route.abort()

    page.route("**/*", handle)
    try:
        page.goto(url, wait_until="load", timeout=20_000)
        page.wait_for_timeout(settle_ms)
        if screenshot is not None:
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=False)
    except Exception as e:  # a page that cannot load is a finding, not a crash
        v.errors.append(str(e).splitlines()[0])
    finally:
        page.close()
    hits = b.canary[before:]
    v.canary = [h for h in hits if not _browser_own(h)]
    v.background = [h for h in hits if _browser_own(h)]
    return v


class _Fetching(html.parser.HTMLParser):
    """References a browser would fetch on its own (plain <a href> is not one)."""

    ATTRS = frozenset(
        {
            "src", "srcset", "poster", "background", "data", "lowsrc", "dynsrc", "ping",
            "action", "formaction", "imagesrcset", "codebase", "manifest", "longdesc",
            "attributionsrc", "srcdoc", "xlink:href", "icon", "archive", "movie",
        }
    )  # fmt: skip
    REMOTE = re.compile(
        r"(^|[\s,'\"(])([a-z][a-z0-9+.-]*:)?//|^\s*(javascript|file|ipfs|data):", re.I
    )

    def __init__(self) -> None:
        super().__init__()
        self.bad: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "iframe", "object", "embed", "link", "base", "frame", "svg", "math"):
            self.bad.append(tag)
        for k, v in attrs:
            v = v or ""
            fetches = k in self.ATTRS or (k == "href" and tag != "a")
            if fetches and self.REMOTE.search(v):
                self.bad.append(f"{tag}[{k}]={v[:60]}")
            if k == "style" or k.startswith("on"):
                self.bad.append(f"{tag}[{k}]")
            if tag == "meta" and k == "http-equiv" and v.lower() == "refresh":
                self.bad.append("meta refresh")

    def handle_data(self, data: str) -> None:
        if self.lasttag == "style" and re.search(r"@import|url\(|image\(|image-set\(", data, re.I):
            self.bad.append("css reference")


def fetching_references(page_html: str) -> list[str]:
    """Everything in a reader page that would make a browser fetch something by itself
    (the same kind of check the capture scorer makes, stricter: any scheme counts)."""
    p = _Fetching()
    p.feed(page_html)
    p.close()
    return p.bad
