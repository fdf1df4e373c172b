"""Reader pages of real corpus articles, with images fetched from a loopback server,
opened in headless Chromium: only the page's own origin may be requested.

Writes a screenshot of one page to test-artifacts/reader-page.png.
"""

from __future__ import annotations

import struct
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import pytest

from mirror.capture.assets import fetch_images
from mirror.capture.page import render_reader_page
from mirror.capture.sanitize import sanitize_article
from mirror.errors import NetworkError
from tests.browser import chromium, fetching_references, serve_directory, visit
from tests.helpers.webserver import serve

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "corpus" / "readability"
ARTIFACTS = ROOT / "test-artifacts"
ARTICLES = ["nytimes-1", "lemonde-1", "guardian-1", "folha"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.corpus,
    pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is absent"),
]


def photo(w: int, h: int, seed: int) -> bytes:
    """A real RGB PNG with a soft gradient (PNG spec: IHDR, IDAT, IEND)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    rows = bytearray()
    for y in range(h):
        rows.append(0)
        for x in range(w):
            rows += bytes(((x * 255 // w + seed) % 256, (y * 255 // h) % 256, (120 + seed) % 256))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(bytes(rows)))
        + chunk(b"IEND", b"")
    )


def loopback_fetch(url: str) -> tuple[bytes, str | None]:
    """Stand-in for the capture fetcher: the test server only; the original image
    hosts of the corpus are never contacted."""
    if not url.startswith("http://127.0.0.1:"):
        raise NetworkError(f"not reachable in tests: {url}")
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.read(6 * 1024 * 1024), r.headers.get("Content-Type")
    except (OSError, urllib.error.URLError) as e:
        raise NetworkError(f"cannot fetch {url}: {e}") from e


def extract(
    source: str, url: str
) -> tuple[str, str, str, str | None, str | None, str | None, str | None]:
    try:
        from mirror.capture.extract import extract_article
    except ImportError:
        extract_article = None
    if extract_article is not None:
        a = extract_article(source, url)
        return (a.content_html, a.title, ", ".join(a.authors), a.published, a.site_name,
                a.language, a.direction)  # fmt: skip
    import trafilatura

    body = trafilatura.extract(source, url=url, output_format="html", include_images=True) or ""
    meta = trafilatura.extract_metadata(source, default_url=url)
    return (body, meta.title or "", meta.author or "", meta.date, meta.sitename, None, None)


def test_reader_pages_of_real_articles_request_only_their_own_origin(tmp_path: Path) -> None:
    images = {"/photo-1.png": photo(480, 270, 0), "/photo-2.png": photo(320, 200, 90)}
    routes = {p: (lambda data: lambda h: _png_response(h, data))(d) for p, d in images.items()}
    with serve(routes) as img_server:
        for name in ARTICLES:
            source = (CORPUS / name / "source.html").read_text(encoding="utf-8", errors="replace")
            url = f"https://{name}.news.example/article.html"
            body, title, byline, published, site, lang, direction = extract(source, url)
            # Two images on the loopback server, placed after the first paragraph.
            figs = (
                f'<figure><img src="{img_server.url("/photo-1.png")}" alt="A loopback photo">'
                "<figcaption>A picture fetched into the bundle.</figcaption></figure>"
                f'<p><img src="{img_server.url("/photo-2.png")}" alt="Second photo"></p>'
            )
            cut = body.find("</p>") + 4 if "</p>" in body else 0
            body = body[:cut] + figs + body[cut:]
            s = sanitize_article(body, url)
            fetched = fetch_images(s.images, loopback_fetch, deadline_s=20)
            assert len(fetched.assets) == 2, fetched.failed
            folder = tmp_path / name
            (folder / "assets").mkdir(parents=True)
            for asset in fetched.assets.values():
                (folder / asset.path).write_bytes(asset.data)
            page = render_reader_page(
                body_html=s.html,
                title=title,
                byline=byline,
                published=published,
                site_name=site,
                lang=lang,
                direction=direction,
                source_url=url,
                captured_at="2024-05-02T10:00:00Z",
                key_id="ed25519:7f3a9c0d5e21b4aa",
                assets={u: a.path for u, a in fetched.assets.items()},
            )
            (folder / "index.html").write_bytes(page)
            assert fetching_references(page.decode("utf-8")) == []

    with serve_directory(tmp_path) as base, chromium() as b:
        for i, name in enumerate(ARTICLES):
            shot = ARTIFACTS / "reader-page.png" if i == 0 else None
            v = visit(b, f"{base}{name}/index.html", screenshot=shot)
            assert v.errors == [], name
            assert v.external == [], (name, v.external)
            assert all(u.startswith(base) for u in v.requested), name
            # The page did load its two local images (and nothing else).
            assert sum("/assets/" in u for u in v.requested) == 2, v.requested
    assert (ARTIFACTS / "reader-page.png").stat().st_size > 10_000


def _png_response(h: object, data: bytes) -> None:
    from http.server import BaseHTTPRequestHandler

    assert isinstance(h, BaseHTTPRequestHandler)
    h.send_response(200)
    h.send_header("Content-Type", "image/png")
    h.send_header("Content-Length", str(len(data)))
    h.end_headers()
    h.wfile.write(data)
