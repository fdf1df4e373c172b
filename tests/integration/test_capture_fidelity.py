"""`mirror capture` of pages shaped like real news reports, over real HTTP on 127.0.0.1:
everything the article says is kept (text, headings, quote, list, figures with their
captions and credits, lead, <picture> and lazy-loaded images, the date), and odd
markup (stray control characters, <embed>) loses nothing."""

from __future__ import annotations

import base64
import json
import re
import struct
import zlib
from pathlib import Path

from tests.conftest import Mirror
from tests.helpers.webserver import respond, serve

NEWS = Path(__file__).resolve().parent.parent / "fixtures" / "news" / "report.html"


def png(r: int, g: int, b: int) -> bytes:
    """A real 2x2 PNG of one colour (distinct colours give distinct assets)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + bytes([r, g, b]) * 2 for _ in range(2))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


IMAGES = {
    "/images/lead.png": png(200, 0, 0),
    "/images/boiler-small.png": png(0, 200, 0),
    "/images/boiler-large.png": png(0, 0, 200),
    "/images/queue.png": png(200, 200, 0),
}


def manifest_of(bundle: Path) -> dict:
    envelope = json.loads((bundle / "manifest.json").read_bytes())
    return json.loads(base64.b64decode(envelope["payload"]))


def test_a_news_report_is_captured_whole(mirror: Mirror, tmp_path: Path) -> None:
    with serve() as server:
        server.routes["/news/report"] = respond(NEWS.read_bytes())
        for path, data in IMAGES.items():
            server.routes[path] = respond(data, content_type="image/png")
        out = tmp_path / "report"
        run = mirror("capture", "--allow-private", server.url("/news/report"), "-o", out)
        requested = list(server.requests)
    assert run.exit_code == 0, run.stderr
    md = (out / "article.md").read_text(encoding="utf-8")
    page = (out / "index.html").read_text(encoding="utf-8")
    source = NEWS.read_text(encoding="utf-8")

    # every paragraph, heading, quote and list item of the article
    article = source.split('<div class="article__content">', 1)[1].split('<div class="related">')[0]
    for kind in ("p", "h2", "li"):
        for text in re.findall(rf"<{kind}>(.*?)</{kind}>", article):
            if "donat" in text.lower():
                continue
            assert text in md, text
            assert text.replace("'", "&#x27;") in page or text in page, text
    assert "> We were told to find the money ourselves" in md
    # the lead under the headline opens the text, above the lead picture
    lead = re.search(r'<p class="article__lead">(.*?)</p>', source)
    assert lead and md.startswith(lead.group(1) + "\n") and f"<p>{lead.group(1)}</p>" in page
    # captions and credits, under their images on the reader page
    for caption in (
        "The president at a meeting with regional governors in the capital. "
        "Vladimir Smirnov, TASS / kremlin.ru",
        "Residents queue outside a district heating office. Ivan Sidorov / Riverside Times",
    ):
        assert f"*{caption}*" in md.splitlines()
        assert re.search(r"<figure><img [^>]*><figcaption>" + re.escape(caption), page)
    # all three images stored: the lead photo, the widest <picture> candidate, the lazy one
    stored = {p.read_bytes() for p in (out / "assets").iterdir()}
    assert stored == {
        IMAGES["/images/lead.png"],
        IMAGES["/images/boiler-large.png"],
        IMAGES["/images/queue.png"],
    }
    assert len(re.findall(r'<img src="assets/[0-9a-f]{64}\.png"', page)) == 3
    assert "/images/boiler-small.png" not in requested
    # the date: ISO in the manifest, readable on the page, absent from article.md
    assert manifest_of(out)["article"]["published"] == "2024-03-14T09:30:00+03:00"
    assert '<time datetime="2024-03-14T09:30:00+03:00">14 March 2024</time>' in page
    assert "2024" not in md and "Anna Petrova" not in md
    # the title once, furniture out
    assert page.count("Regional Governors Told to Prepare for a Long Winter</h1>") == 1
    assert md.count("Regional Governors Told") <= 1
    for furniture in ("Donate today", "consider a donation", "We use cookies", "Privacy policy"):
        assert furniture not in md and furniture not in page


def _odd_page(odd: str) -> bytes:
    paras = "".join(
        f"<p>Paragraph {i} of a report that readers must be able to read, "
        f'with <a href="/link/{i}">a link</a>.</p>'
        for i in range(8)
    )
    return (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>Odd report</title>"
        f'</head><body><article><h1>Odd report</h1>{paras}<p><img src="/one.png" alt="one">'
        f'</p>{odd}<p>Text after the odd markup. <a href="/after">After</a>.</p>'
        f'<p><img src="/two.png" alt="two"></p>{paras}</article></body></html>'
    ).encode()


def _capture_odd(mirror: Mirror, tmp_path: Path, odd: str) -> tuple[str, str, int]:
    with serve() as server:
        server.routes["/odd"] = respond(_odd_page(odd))
        server.routes["/one.png"] = respond(png(1, 2, 3), content_type="image/png")
        server.routes["/two.png"] = respond(png(4, 5, 6), content_type="image/png")
        out = tmp_path / "odd"
        run = mirror("capture", "--allow-private", server.url("/odd"), "-o", out)
    assert run.exit_code == 0, run.stderr
    page = (out / "index.html").read_text(encoding="utf-8")
    md = (out / "article.md").read_text(encoding="utf-8")
    return page, md, len(list((out / "assets").iterdir()))


def test_a_stray_control_character_does_not_lose_the_capture(
    mirror: Mirror, tmp_path: Path
) -> None:
    page, md, images = _capture_odd(
        mirror,
        tmp_path,
        '<p><img src="/one.png" alt="odd &#x01; alt"> <a href="/x&#x01;">odd</a></p>',
    )
    assert "Text after the odd markup." in md and md.count("Paragraph 7 of a report") == 2
    assert images == 2
    assert "\x01" not in page and "&#x1;" not in page.lower()


def test_an_embed_does_not_drop_links_and_images(mirror: Mirror, tmp_path: Path) -> None:
    page, md, images = _capture_odd(mirror, tmp_path, '<embed src="/clip.swf">')
    assert "Text after the odd markup." in md and md.count("Paragraph 7 of a report") == 2
    assert images == 2
    body = page.split("</header>", 1)[1]
    # every link kept (links to 127.0.0.1 keep their text, not their target: privacy)
    assert len(re.findall(r"<a\b", body)) == 8 * 2 + 1
    assert "swf" not in page


def test_markup_nested_past_the_parsers_limit_does_not_lose_the_capture(
    mirror: Mirror, tmp_path: Path
) -> None:
    # 300 <font> opened and never closed: libxml2 alone stops reading at 256 levels
    page, md, images = _capture_odd(mirror, tmp_path, "<font>" * 300)
    assert "Text after the odd markup." in md and md.count("Paragraph 7 of a report") == 2
    assert images == 2 and "Text after the odd markup." in page


def test_a_page_nested_too_deep_to_read_is_refused_in_one_line_and_writes_nothing(
    mirror: Mirror, tmp_path: Path
) -> None:
    with serve() as server:
        server.routes["/deep"] = respond(_odd_page("<template>" * 400))
        out = tmp_path / "deep"
        run = mirror("capture", "--allow-private", server.url("/deep"), "-o", out)
    assert run.exit_code == 2, run.stderr
    assert "deeper than 256 levels" in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert not out.exists()


def test_the_same_report_bundled_from_the_publishers_files_stays_whole(
    mirror: Mirror, tmp_path: Path
) -> None:
    """`mirror bundle` of the report as the publisher's own folder: every paragraph,
    heading, quote, list item and caption, all three images, and an export that
    inlines all three."""
    site = tmp_path / "site"
    (site / "images").mkdir(parents=True)
    (site / "index.html").write_bytes(NEWS.read_bytes())
    for path, data in IMAGES.items():
        (site / path.lstrip("/")).write_bytes(data)
    out = tmp_path / "bundle"
    run = mirror("bundle", site, "-o", out)
    assert run.exit_code == 0, run.stderr
    md = (out / "article.md").read_text(encoding="utf-8")
    page = (out / "index.html").read_text(encoding="utf-8")
    article = NEWS.read_text(encoding="utf-8").split('<div class="article__content">', 1)[1]
    article = article.split('<div class="related">')[0]
    for kind in ("p", "h2", "li"):
        for text in re.findall(rf"<{kind}>(.*?)</{kind}>", article):
            assert text in md, text
            assert text.replace("'", "&#x27;") in page or text in page, text
    assert "We were told to find the money ourselves" in md
    lead = re.search(r'<p class="article__lead">(.*?)</p>', NEWS.read_text(encoding="utf-8"))
    assert lead and lead.group(1) in md and lead.group(1) in page
    for credit in ("Vladimir Smirnov, TASS / kremlin.ru", "Ivan Sidorov / Riverside Times"):
        assert credit in md and credit in page
    stored = {p.read_bytes() for p in (out / "assets").iterdir()}
    assert stored == {
        IMAGES["/images/lead.png"],
        IMAGES["/images/boiler-large.png"],
        IMAGES["/images/queue.png"],
    }
    export = tmp_path / "report.html"
    run = mirror("export", out, "-o", export, "--trust", "pub", "--no-minisig", "--json")
    assert run.exit_code == 0, run.stderr
    assert json.loads(run.stdout)["inlined_images"] == 3
    assert mirror("verify", export, "--trust", "pub").exit_code == 0


def test_a_report_only_its_json_ld_states_is_captured_whole(mirror: Mirror, tmp_path: Path) -> None:
    # a page whose script writes the report in: the HTML holds the teaser only
    paras = [
        f"Paragraph {i} of the report that only the page's script writes in." for i in range(20)
    ]
    ld = json.dumps(
        {"@type": "NewsArticle", "headline": "Scripted", "articleBody": "\n".join(paras)}
    )
    teaser = "A teaser of the scripted report. " * 9
    html = (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>Scripted</title>"
        f'<script type="application/ld+json">{ld}</script></head><body>'
        f'<div id="app"><p>{teaser}</p></div><script src="/app.js"></script></body></html>'
    )
    with serve() as server:
        server.routes["/scripted"] = respond(html)
        out = tmp_path / "scripted"
        run = mirror("capture", "--allow-private", server.url("/scripted"), "-o", out)
    assert run.exit_code == 0, run.stderr
    md = (out / "article.md").read_text(encoding="utf-8")
    page = (out / "index.html").read_text(encoding="utf-8")
    assert all(f"{p}\n" in md and f"<p>{p}</p>" in page for p in paras)
    assert "teaser" not in md
