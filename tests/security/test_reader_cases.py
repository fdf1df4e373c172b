"""SECURITY-CASES 9-12: the reader page makes no request and runs nothing.

The HTTPLeaks page (cure53/HTTPLeaks, licence beside it in tests/fixtures/hostile)
lists every known way an HTML document makes a browser contact `leaking.via`.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest

from mirror.capture.assets import fetch_images
from mirror.capture.page import render_reader_page
from mirror.capture.sanitize import ImageRef, sanitize_article
from mirror.errors import NetworkError
from tests.browser import chromium, fetching_references, serve_directory, visit

HTTPLEAKS = Path(__file__).resolve().parent.parent / "fixtures" / "hostile" / "httpleaks-leak.html"
SOURCE = "https://news.example/2024/leak.html"
ASSET = "assets/" + "b" * 64 + ".png"


def page_for(body_html: str, assets: dict[str, str] | None = None) -> str:
    return render_reader_page(
        body_html=body_html,
        title="Leak test",
        byline="",
        published=None,
        site_name=None,
        lang="en",
        direction=None,
        source_url=SOURCE,
        captured_at="2024-05-02T10:00:00Z",
        key_id="ed25519:0123abcd",
        assets=assets or {},
    ).decode("utf-8")


def test_case_09_httpleaks_reader_page_has_no_fetching_reference() -> None:
    raw = HTTPLEAKS.read_text(encoding="utf-8")
    s = sanitize_article(raw, SOURCE)
    # leaking.via images are collected for fetching; none can be fetched here.
    assert all(img.url.startswith("https://leaking.via/") for img in s.images)
    page = page_for(s.html)
    assert fetching_references(page) == []
    # Any leaking.via left is plain text or a link the reader would have to click.
    for m in re.finditer(r"leaking\.via", page):
        before = page[max(0, m.start() - 40) : m.start()]
        assert re.search(r'<a href="https://leaking\.via[^"]*$', before), before
    assert s.removed["script"] >= 5 and s.removed["iframe"] >= 5 and s.removed["link"] >= 50


@pytest.mark.browser
def test_case_09_httpleaks_reader_page_makes_zero_requests_in_chromium(tmp_path: Path) -> None:
    raw = HTTPLEAKS.read_text(encoding="utf-8")
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "index.html").write_text(raw, encoding="utf-8")
    (tmp_path / "reader").mkdir()
    (tmp_path / "reader" / "index.html").write_text(page_for(sanitize_article(raw, SOURCE).html))
    with serve_directory(tmp_path) as base, chromium() as b:
        # The check can fail: the raw page leaks a lot in the same browser.
        leaky = visit(b, base + "raw/index.html")
        assert len(leaky.external) > 20
        clean = visit(b, base + "reader/index.html")
    assert clean.errors == []
    assert clean.requested == [base + "reader/index.html"]
    assert clean.external == []


@pytest.mark.parametrize(
    "href",
    [
        "//host/x",
        "file://host/x",
        "http://127.0.0.1:8080/ipfs/bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
        "ipfs://bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
        "javascript:alert(document.domain)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "JAVASCRIPT&colon;alert(1)",
        "&#106;avascript:alert(1)",
        "\x01javascript:alert(1)",
    ],
)
def test_case_10_link_schemes_made_inert(href: str) -> None:
    s = sanitize_article(f'<p>See <a href="{href}" ping="//t.example">this</a>.</p>', SOURCE)
    page = page_for(s.html)
    for target in re.findall(r'href="([^"]*)"', page):
        assert target.startswith("https://news.example/2024/"), target
    assert "this</a>" in page or "See this." in page
    assert s.removed.get("unsafe-link", 0) == 1 or "href" not in s.html


MXSS = [
    # namespace confusion (svg/math), rawtext elements, noscript parsing differences
    '<svg></p><style><a id="</style><img src=1 onerror=alert(1)>">',
    "<math><mtext><table><mglyph><style><!--</style>"
    '<img title="--&gt;&lt;img src=1 onerror=alert(1)&gt;">',
    "<math><mtext><h1><a><h6></a></h6><mglyph><svg><mtext><style>"
    '<a title="</style><img src onerror=alert(1)>"></style></h1>',
    "<form><math><mtext></form><form><mglyph><style></math><img src onerror=alert(1)>",
    "<svg><foreignObject><p><style><img src=x onerror=alert(1)></style></p></foreignObject></svg>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    "<noscript><style></noscript><img src=x onerror=alert(1)></style>",
    "<template><img src=x onerror=alert(1)></template>"
    "<template><script>alert(1)</script></template>",
    '<math><annotation-xml encoding="text/html"><style><img src=x onerror=alert(1)></style>'
    "</annotation-xml></math>",
    '<svg><desc><style><a title="</style><img src=x onerror=alert(1)>"></style></desc></svg>',
    '<a href="javascript&colon;alert(1)">x</a><xmp><img src=x onerror=alert(1)></xmp>',
]


@pytest.mark.parametrize("payload", MXSS)
def test_case_11_mutation_xss_comes_out_inert(payload: str) -> None:
    s = sanitize_article(payload, SOURCE)
    page = page_for(s.html)
    lowered = page.lower()
    for bad in ("onerror", "onload", "<script", "<svg", "<math", "<template", "<noscript",
                "javascript:", "<style>", "<iframe"):  # fmt: skip
        body = lowered.split("</head>", 1)[1]
        assert bad not in re.sub(r"&[a-z]+;|&#[0-9]+;", "", body).replace("&lt;", ""), bad
    assert fetching_references(page) == []
    # Reparsing the sanitized body changes nothing (no mutation on a second parse).
    assert sanitize_article(s.html, SOURCE).html == s.html


@pytest.mark.browser
def test_case_11_mutation_xss_runs_nothing_in_chromium(tmp_path: Path) -> None:
    body = "".join(sanitize_article(p, SOURCE).html for p in MXSS)
    (tmp_path / "index.html").write_text(page_for(body), encoding="utf-8")
    with serve_directory(tmp_path) as base, chromium() as b:
        v = visit(b, base + "index.html")
    assert v.errors == [] and v.external == []
    assert v.requested == [base + "index.html"]


def _png(w: int, h: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + b"\x00" * 4


def test_case_12_bad_images_dropped_with_reason_capture_continues() -> None:
    good = _png(100, 50)
    served = {
        "https://img.example/huge.png": good + b"\x00" * (5 * 1024 * 1024),
        "https://img.example/type.png": b"GIF87" + b"not really an image",
        "https://img.example/bomb.png": _png(100_000, 100_000),
        "https://img.example/x.svg": b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
        b"<script>alert(1)</script></svg>",
        "https://img.example/good.png": good,
    }

    def fetch(url: str) -> tuple[bytes, str | None]:
        if url not in served:
            raise NetworkError(f"cannot reach {url}")
        return served[url], "image/png"

    fragment = "".join(f'<p><img src="{u}" alt="{u.rsplit("/", 1)[1]}"></p>' for u in served)
    fragment += (
        '<p><img src="https://img.example/missing.png" alt="missing"></p><p>The text goes on.</p>'
    )
    s = sanitize_article(fragment, SOURCE)
    assert len(s.images) == 6
    result = fetch_images(s.images, fetch)
    reasons = {f.url.rsplit("/", 1)[1]: f.reason for f in result.failed}
    assert set(reasons) == {"huge.png", "type.png", "bomb.png", "x.svg", "missing.png"}
    assert "larger than" in reasons["huge.png"]
    assert "not a PNG" in reasons["type.png"]
    assert "decompression bomb" in reasons["bomb.png"]
    assert "SVG" in reasons["x.svg"]
    assert all(f.to_dict() == {"url": f.url, "reason": f.reason} for f in result.failed)
    page = page_for(s.html, {u: a.path for u, a in result.assets.items()})
    assert result.assets["https://img.example/good.png"].path in page
    assert "[image: x.svg]" in page and "[image: bomb.png]" in page
    assert "The text goes on." in page
    assert "img.example" not in page and fetching_references(page) == []
    assert isinstance(s.images[0], ImageRef)
