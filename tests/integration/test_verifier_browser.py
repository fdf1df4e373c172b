"""The verifier page (`mirror verifier`) in headless Chromium at phone size.

Every verdict case (tests/verifier_cases.py) through `window.mirror.verify` and
through the file input, on the WebCrypto path and on the fallback path (Ed25519
removed from WebCrypto by an init script); screenshots of a verified and a refused
file under test-artifacts/; no request before the reader asks for a fetch; fetching
by CID from two trustless gateways on 127.0.0.1, one of them lying.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from mirror import verifier
from mirror.keys import PublicKey
from tests.browser import Browser, chromium, serve_directory
from tests.helpers.webserver import serve
from tests.verifier_cases import (
    Case,
    b64,
    build_cases,
    key,
    python_verdict,
    python_verdict_json,
    write,
)

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
PHONE = {"width": 390, "height": 844}

pytestmark = pytest.mark.browser

# Ed25519 "missing" from WebCrypto: the page must fall back to its own code.
NO_ED25519 = """
(() => {
  const refuse = (orig) => function (...args) {
    const alg = args.find((a) => a && (a.name || typeof a === 'string'));
    const name = alg && (alg.name || alg);
    if (String(name).toLowerCase() === 'ed25519') {
      return Promise.reject(new DOMException('no Ed25519', 'NotSupportedError'));
    }
    return orig.apply(this, args);
  };
  for (const m of ['importKey', 'verify', 'generateKey', 'sign']) {
    SubtleCrypto.prototype[m] = refuse(SubtleCrypto.prototype[m]);
  }
})();
"""


@dataclass
class Opened:
    page: Any
    requests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> list[Case]:
    return build_cases(tmp_path_factory.mktemp("cases"))


def build_page(out: Path, gateways: tuple[str, ...] = ()) -> Path:
    verifier.write(out, [verifier.EmbeddedKey("pub", PublicKey(key(1).public.raw))], gateways)
    return out


@pytest.fixture(scope="module")
def page_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_page(tmp_path_factory.mktemp("page") / "verify.html")


def wait_until(fn: Any, what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def open_page(
    b: Browser, path: Path, *, fallback: bool = False, width: int = 390, init_script: str = ""
) -> Opened:
    ctx = b.browser.new_context(viewport={"width": width, "height": PHONE["height"]})
    if fallback:
        ctx.add_init_script(NO_ED25519)
    if init_script:
        ctx.add_init_script(init_script)
    page = ctx.new_page()
    opened = Opened(page)
    page.on("pageerror", lambda e: opened.errors.append(str(e)))
    own = path.as_uri()

    def handle(route: Any) -> None:
        url = route.request.url
        opened.requests.append(url)
        if url == own or url.startswith("http://127.0.0.1:"):
            route.continue_()
        else:
            route.abort()

    page.route("**/*", handle)
    page.goto(own, wait_until="load")
    # poll from outside: the page's CSP rightly refuses the eval behind wait_for_function
    wait_until(lambda: page.evaluate("() => !!window.mirror"), "window.mirror")
    page.evaluate("async () => { await window.mirror.ready; }")
    return opened


def b64_of(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")


def test_served_over_http_it_asks_for_nothing_else(
    browser: Browser, page_file: Path, cases: list[Case]
) -> None:
    """Opened from a web server instead of a file: the page is the only request."""
    case = next(c for c in cases if c.name == "export-genuine")
    with serve_directory(page_file.parent) as base:
        url = base + page_file.name
        ctx = browser.browser.new_context(viewport=PHONE)
        page = ctx.new_page()
        seen: list[str] = []
        page.route("**/*", lambda route: (seen.append(route.request.url), route.continue_()))
        try:
            page.goto(url, wait_until="load")
            wait_until(lambda: page.evaluate("() => !!window.mirror"), "window.mirror")
            page.evaluate("async () => { await window.mirror.ready; }")
            assert file_input_verdict(page, case.path) == ("verified", 0)
            page.frame_locator("iframe#article").locator("img").wait_for()
            page.wait_for_timeout(300)
            assert seen == [url]
        finally:
            ctx.close()


def api_verdict(page: Any, case: Case) -> dict[str, Any]:
    return page.evaluate(
        """async ([b64, name, options]) => {
             const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
             return await window.mirror.verify(bytes, name, options);
           }""",
        [b64(case.path), case.path.name, case.options()],
    )


def file_input_verdict(page: Any, path: Path) -> tuple[str, int]:
    page.set_input_files("#file", str(path))
    wait_until(lambda: page.get_attribute("#verdict", "data-verdict"), "#verdict[data-verdict]")
    return page.get_attribute("#verdict", "data-verdict"), int(
        page.get_attribute("#verdict", "data-exit-code")
    )


def test_page_is_one_file_under_budget(page_file: Path) -> None:
    data = page_file.read_bytes()
    assert len(data) < 200 * 1024
    text = data.decode()
    assert "<script src" not in text  # everything inline
    # the only link: an empty icon, so a browser asks no server for /favicon.ico
    assert re.findall(r"<link\b[^>]*>", text) == ['<link rel="icon" href="data:,">']
    assert "script-src 'sha256-" in text and "unsafe-eval" not in text


@pytest.mark.parametrize("fallback", [False, True], ids=["webcrypto", "fallback"])
def test_every_case_through_window_mirror_verify(
    browser: Browser, page_file: Path, cases: list[Case], fallback: bool
) -> None:
    opened = open_page(browser, page_file, fallback=fallback)
    try:
        for case in cases:
            v = api_verdict(opened.page, case)
            got = (0 if v["ok"] else v["exit_code"], v["reason"])
            assert got == (case.exit_code, case.reason), f"{case.name}: {v}"
            # the same verdict from the CLI's trust core, for the same input, keys, state
            assert python_verdict(case.path, case.trust, case.state) == got, case.name
        engine = opened.page.evaluate("() => ({...window.mirror.engine})")
        assert engine["usedFallback"] is fallback
        assert opened.errors == []
    finally:
        opened.page.context.close()


def test_verdict_json_matches_the_cli(browser: Browser, page_file: Path, cases: list[Case]) -> None:
    """Same fields and values as `mirror verify --json` for a genuine CAR and export."""
    opened = open_page(browser, page_file)
    try:
        for case in cases:
            if case.name not in ("car-genuine", "export-genuine"):
                continue
            v = api_verdict(opened.page, case)
            py = python_verdict_json(case.path, case.trust)
            for name, value in py.items():
                assert v[name] == value, f"{case.name}: {name}"
            assert v["reason"] is None
    finally:
        opened.page.context.close()


def test_every_case_through_the_file_input(
    browser: Browser, page_file: Path, cases: list[Case]
) -> None:
    """The page's own defaults: the embedded key, and a fresh browser profile per case
    (the page remembers identity state between files, as the CLI does)."""
    for case in cases:
        if case.state or case.trust[0]["name"] != "pub":
            continue
        opened = open_page(browser, page_file)
        page = opened.page
        try:
            assert page.get_attribute("#verdict", "data-verdict") is None
            verdict, code = file_input_verdict(page, case.path)
            want = (
                "verified" if case.exit_code == 0 else "refused" if case.exit_code == 3 else "error"
            )
            assert (verdict, code) == (want, case.exit_code), case.name
            shown = page.is_visible("iframe#article")
            assert shown == (case.exit_code == 0), case.name
            if shown:
                srcdoc = page.get_attribute("iframe#article", "srcdoc") or ""
                assert "Репортаж из Москвы" in srcdoc and "data:image/png;base64," in srcdoc
                frame = page.frame_locator("iframe#article")
                assert frame.locator("h1").inner_text() == "Репортаж из Москвы"
                # the image shows, from the verified bytes
                assert frame.locator("img").evaluate("(i) => i.naturalWidth") == 24
                link = frame.locator("a").first
                assert link.get_attribute("target") == "_blank"
                assert "noreferrer" in (link.get_attribute("rel") or "")
            sandbox = page.get_attribute("iframe#article", "sandbox") or ""
            assert "allow-scripts" not in sandbox and "allow-same-origin" not in sandbox
            assert opened.requests == [page_file.as_uri()], case.name  # nothing but the page
            assert opened.errors == []
        finally:
            page.context.close()


def test_verdict_attributes_appear_only_when_finished(
    browser: Browser, page_file: Path, cases: list[Case]
) -> None:
    by_name = {c.name: c for c in cases}
    opened = open_page(browser, page_file)
    page = opened.page
    try:
        assert file_input_verdict(page, by_name["car-genuine"].path) == ("verified", 0)
        # a second check starts: the previous verdict is withdrawn at once
        during = page.evaluate(
            """async (b64) => {
                 const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
                 const input = document.getElementById('file');
                 const dt = new DataTransfer();
                 dt.items.add(new File([bytes], 'again.car'));
                 input.files = dt.files;
                 input.dispatchEvent(new Event('change'));
                 const el = document.getElementById('verdict');
                 return [el.getAttribute('data-verdict'), el.getAttribute('data-exit-code')];
               }""",
            b64_of(by_name["car-corrupt-block"].path),
        )
        assert during == [None, None]
        wait_until(lambda: page.get_attribute("#verdict", "data-verdict"), "second verdict")
        assert page.get_attribute("#verdict", "data-verdict") == "refused"
        assert not page.is_visible("iframe#article")
    finally:
        page.context.close()


def test_several_files_at_once(browser: Browser, page_file: Path, cases: list[Case]) -> None:
    """One receipt per file; the summary is the worst of them, the first is shown."""
    by_name = {c.name: c for c in cases}
    opened = open_page(browser, page_file)
    page = opened.page
    try:
        files = [by_name[n].path for n in ("car-genuine", "export-genuine", "car-unlisted-file")]
        page.set_input_files("#file", [str(f) for f in files])
        wait_until(lambda: page.get_attribute("#verdict", "data-verdict"), "verdict")
        assert page.get_attribute("#verdict", "data-verdict") == "refused"
        assert page.get_attribute("#verdict", "data-exit-code") == "3"
        extra = page.locator("#more section")
        assert extra.count() == 2
        assert extra.nth(0).get_attribute("data-verdict") == "verified"
        assert extra.nth(1).get_attribute("data-verdict") == "refused"
        assert "unlisted-file" in extra.nth(1).inner_text()
    finally:
        page.context.close()


def test_receipts_at_phone_size_with_screenshots(
    browser: Browser, page_file: Path, cases: list[Case]
) -> None:
    by_name = {c.name: c for c in cases}
    ARTIFACTS.mkdir(exist_ok=True)
    for width in (360, 412):
        opened = open_page(browser, page_file, width=width)
        page = opened.page
        try:
            assert file_input_verdict(page, by_name["export-genuine"].path) == ("verified", 0)
            text = page.inner_text("#verdict")
            words = ("VERIFIED", "pub", key(1).public.key_id, "Репортаж из Москвы")
            for word in (*words, "https://example.org/report", "2026-01-02T03:04:05Z"):
                assert word in text
            fingerprint = key(1).public.fingerprint
            assert fingerprint in text
            # nothing wider than the phone: usable one-handed without side scrolling
            assert page.evaluate("() => document.documentElement.scrollWidth") <= width
            page.frame_locator("iframe#article").locator("img").wait_for()
            page.screenshot(path=str(ARTIFACTS / f"verifier-verified-{width}.png"), full_page=True)
            # a full-page capture leaves the sandboxed (cross-origin) frame blank: shot apart
            page.locator("iframe#article").screenshot(
                path=str(ARTIFACTS / f"verifier-verified-{width}-article.png")
            )
            assert file_input_verdict(page, by_name["export-text-edited"].path) == ("refused", 3)
            text = page.inner_text("#verdict")
            assert "REFUSED" in text and "content-mismatch" in text
            assert not page.is_visible("iframe#article")
            page.screenshot(path=str(ARTIFACTS / f"verifier-refused-{width}.png"), full_page=True)
            # Russian, switchable
            page.click("#lang-ru")
            assert "ОТКЛОНЕНО" in page.inner_text("#verdict")
            page.click("#lang-en")
            assert "REFUSED" in page.inner_text("#verdict")
        finally:
            page.context.close()


def test_russian_browser_gets_russian(browser: Browser, page_file: Path) -> None:
    ctx = browser.browser.new_context(viewport=PHONE, locale="ru-RU")
    page = ctx.new_page()
    try:
        page.goto(page_file.as_uri())
        wait_until(lambda: page.evaluate("() => document.documentElement.lang") == "ru", "lang ru")
        assert page.inner_text("h1") == "Проверить статью"
    finally:
        ctx.close()


def test_adding_a_key_saves_a_new_copy_with_it(
    browser: Browser, page_file: Path, tmp_path: Path
) -> None:
    """The key goes into a new file, never into storage; the copy verifies with it."""
    other = key(9)
    opened = open_page(browser, page_file)
    page = opened.page
    try:
        page.click("#keys-box summary")
        page.fill("#newname", "other")
        page.fill("#newkey", other.public.to_text())
        page.click("#addkey")
        assert other.public.fingerprint in page.inner_text("#newkey-info")
        with page.expect_download() as info:
            page.click("#save")
        copy = tmp_path / "verify-2.html"
        info.value.save_as(str(copy))
        assert page.evaluate("() => JSON.stringify(Object.keys(localStorage))") == "[]"
    finally:
        page.context.close()
    signed_by_other = tmp_path / "other.car"
    write(tmp_path / "other", other, car_out=signed_by_other)
    opened = open_page(browser, page_file)
    try:  # the original copy does not trust it
        assert file_input_verdict(opened.page, signed_by_other) == ("refused", 3)
    finally:
        opened.page.context.close()
    opened = open_page(browser, copy)
    try:
        assert file_input_verdict(opened.page, signed_by_other) == ("verified", 0)
        assert other.public.key_id in (opened.page.text_content("#keys") or "")
        assert opened.errors == []
    finally:
        opened.page.context.close()


def test_remembered_identity_is_kept_as_signed_documents(
    browser: Browser, page_file: Path, cases: list[Case]
) -> None:
    """After a bundle signed under identity v3 (key 1 revoked), the page remembers the
    chain; a later bundle signed by key 1 under v1 alone is then refused. Storage that
    holds a forged chain is ignored."""
    by_name = {c.name: c for c in cases}
    opened = open_page(browser, page_file)
    page = opened.page
    try:
        assert file_input_verdict(page, by_name["car-v1-without-state"].path) == ("verified", 0)
        assert file_input_verdict(page, by_name["car-after-rotation"].path) == ("verified", 0)
        stored = page.evaluate("() => localStorage.getItem('mirror-verifier/identity-state')")
        assert stored and "mirror-identity-chain/1" in stored
        page.reload()
        wait_until(lambda: page.evaluate("() => !!window.mirror"), "window.mirror")
        page.evaluate("async () => { await window.mirror.ready; }")
        assert file_input_verdict(page, by_name["car-v1-without-state"].path) == ("refused", 3)
        # a forged state (payload edited) cannot make anything pass or fail
        page.evaluate("""() => { const k = 'mirror-verifier/identity-state';
            const forged = localStorage.getItem(k).replace(/"payload":"e/g, '"payload":"f');
            localStorage.setItem(k, forged); }""")
        page.reload()
        wait_until(lambda: page.evaluate("() => !!window.mirror"), "window.mirror")
        page.evaluate("async () => { await window.mirror.ready; }")
        assert file_input_verdict(page, by_name["car-v1-without-state"].path) == ("verified", 0)
    finally:
        page.context.close()


def gateway(
    body: bytes,
    delay: float = 0.0,
    *,
    after: threading.Event | None = None,
    done: threading.Event | None = None,
) -> Any:
    """A trustless gateway route answering with `body` as a CAR, CORS open as real
    gateways are (the page is another origin: file:// or its own server). `after`:
    answer only once that event is set (then `delay` more); `done` is set once sent."""

    def handler(h: BaseHTTPRequestHandler) -> None:
        if after is not None:
            after.wait(timeout=20)
        time.sleep(delay)  # lets a test decide which gateway answers first
        h.send_response(200)
        h.send_header("Content-Type", "application/vnd.ipld.car")
        h.send_header("Access-Control-Allow-Origin", "*")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
        h.wfile.flush()
        if done is not None:
            done.set()

    return handler


def fetch_in_page(page: Any, target: str) -> str:
    page.click("#fetch-box summary")
    page.fill("#cid", target)
    page.click("#fetch")
    wait_until(lambda: page.get_attribute("#verdict", "data-verdict"), "fetch verdict")
    return str(page.get_attribute("#verdict", "data-verdict"))


def test_fetch_by_cid_two_gateways_one_lying(
    browser: Browser, cases: list[Case], tmp_path: Path
) -> None:
    case = next(c for c in cases if c.name == "car-genuine")
    car = case.path.read_bytes()
    from mirror.ipld.car import open_car

    with open_car(case.path) as store:
        cid = store.root.encode()
    bad = bytearray(car)
    bad[len(bad) // 2] ^= 0xFF
    lied = threading.Event()

    with (
        # the honest one answers only after the liar has sent everything
        serve({f"/ipfs/{cid}": gateway(bytes(bad), done=lied)}) as liar,
        serve({f"/ipfs/{cid}": gateway(car, 0.5, after=lied)}) as honest,
    ):
        page_file = build_page(tmp_path / "verify.html", (liar.base, honest.base))
        opened = open_page(browser, page_file)
        page = opened.page
        try:
            page.wait_for_timeout(300)
            assert opened.requests == [page_file.as_uri()]  # nothing before the reader asks
            assert liar.requests == [] and honest.requests == []
            assert fetch_in_page(page, f"ipfs://{cid}") == "verified"
            assert cid in page.inner_text("#verdict")
            notes = page.inner_text("#notes")
            assert f"{liar.base} sent bytes that do not verify" in notes
            assert f"{honest.base}" in notes
            for server in (liar, honest):
                assert server.requests == [f"/ipfs/{cid}?format=car"]
                assert server.headers[0]["accept"] == "application/vnd.ipld.car"
            assert page.is_visible("iframe#article")
        finally:
            page.context.close()


def test_fetch_by_cid_when_every_gateway_lies(
    browser: Browser, cases: list[Case], tmp_path: Path
) -> None:
    case = next(c for c in cases if c.name == "car-genuine")
    from mirror.ipld.car import open_car

    with open_car(case.path) as store:
        cid = store.root.encode()
    other = next(c for c in cases if c.name == "car-unlisted-file").path.read_bytes()
    bad = bytearray(case.path.read_bytes())
    bad[len(bad) // 3] ^= 0x01
    with (
        serve({f"/ipfs/{cid}": gateway(bytes(bad))}) as a,
        serve({f"/ipfs/{cid}": gateway(other)}) as b,  # a valid CAR, of another bundle
    ):
        page_file = build_page(tmp_path / "verify.html", (a.base, b.base))
        opened = open_page(browser, page_file)
        page = opened.page
        try:
            assert fetch_in_page(page, f"https://gw.example/ipfs/{cid}") == "refused"
            notes = page.inner_text("#notes")
            assert f"{a.base} sent bytes that do not verify" in notes
            assert f"{b.base} sent bytes that do not verify" in notes
            assert not page.is_visible("iframe#article")
        finally:
            page.context.close()


def test_embedded_identity_chain_counts_as_remembered(
    browser: Browser, cases: list[Case], tmp_path: Path
) -> None:
    """A page shipped with the publisher's chain (v3 revokes key 1) refuses a bundle
    signed by key 1 that carries only v1, on first use, with empty storage."""
    from mirror import identity
    from tests.verifier_cases import chain_rotated

    chain = verifier.chain_object(identity.chain_bytes(chain_rotated(key(1), key(2))))
    page_file = tmp_path / "verify.html"
    verifier.write(page_file, [verifier.EmbeddedKey("pub", key(1).public, chain)])
    case = next(c for c in cases if c.name == "car-v1-without-state")
    opened = open_page(browser, page_file)
    try:
        assert file_input_verdict(opened.page, case.path) == ("refused", 3)
        assert "revoked-key" in opened.page.inner_text("#verdict")
    finally:
        opened.page.context.close()
