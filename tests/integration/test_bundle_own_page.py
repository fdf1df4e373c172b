"""`mirror bundle` of a publisher's own page: kept whole, as given, unless --extract or
a matching --profile; every image it references (img, srcset, picture) is stored, so
the export inlines them all."""

from __future__ import annotations

import json
import re
import struct
import zlib
from pathlib import Path

from mirror import canonjson, envelope
from tests.conftest import Mirror

ROOT = Path(__file__).resolve().parents[2]


def _png(seed: int) -> bytes:
    """A 1x1 PNG whose pixel differs per seed (so each image has its own asset)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"\x00" + bytes([seed % 256, 0, 0])
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _site(tmp: Path) -> Path:
    page = tmp / "site"
    (page / "img").mkdir(parents=True)
    for i, name in enumerate(("lead.png", "small.png", "big.png", "pic.png", "wide.png")):
        (page / "img" / name).write_bytes(_png(i + 1))
    (page / "index.html").write_text(
        "<!doctype html><html lang=ru><head><meta charset=utf-8><title>Отчёт | Сайт</title>"
        '<meta name="author" content="Анна Петрова">'
        '<meta property="article:published_time" content="2026-11-30T10:00:00Z"></head><body>'
        '<img src="img/lead.png" alt="lead photo">'
        "<h1>Отчёт из Москвы</h1>"
        "<p>First paragraph of the report.</p>"
        '<p><img src="img/small.png" srcset="img/small.png 1x, img/big.png 2x" alt="sized"></p>'
        '<picture><source srcset="img/wide.png" media="(min-width: 800px)">'
        '<img src="img/pic.png" alt="in a picture"></picture>'
        '<div class="donate">Support us</div>'
        "<p>Last paragraph.</p></body></html>",
        encoding="utf-8",
    )
    return page


def _manifest(bundle: Path) -> dict:  # type: ignore[type-arg]
    env = envelope.Envelope.from_bytes((bundle / "manifest.json").read_bytes())
    return canonjson.loads(env.payload, max_size=1 << 22)


def test_own_page_is_kept_whole_and_every_image_is_stored(mirror: Mirror, tmp_path: Path) -> None:
    site = _site(tmp_path)
    out = tmp_path / "bundle"
    run = mirror("bundle", site, "-o", out)
    assert run.exit_code == 0, run.stderr
    page = (out / "index.html").read_text(encoding="utf-8")
    md = (out / "article.md").read_text(encoding="utf-8")
    manifest = _manifest(out)
    assert manifest["capture"]["article_from"] == {"method": "as given"}
    # the <h1> stays a heading (in article.md), not merged into the first paragraph
    assert "# Отчёт из Москвы" in md and "First paragraph of the report." in md
    assert "<p>First paragraph of the report.</p>" in page
    assert "Support us" in page  # as given: nothing of the page's body is judged away
    # the lead image straight under <body>, the srcset image and the <picture> image
    assets = [f["path"] for f in manifest["files"] if f["path"].startswith("assets/")]
    assert len(assets) == 3, assets
    assert len(re.findall(r'<img\b[^>]*src="assets/', page)) == 3
    assert "*lead photo*" in md and "*sized*" in md and "*in a picture*" in md
    assert manifest["article"]["language"] == "ru"
    # the export inlines all three
    export = tmp_path / "a.html"
    run = mirror("export", out, "-o", export, "--trust", "pub", "--no-minisig", "--json")
    assert run.exit_code == 0, run.stderr
    assert json.loads(run.stdout)["inlined_images"] == 3
    assert mirror("verify", export, "--trust", "pub").exit_code == 0


def test_extract_runs_the_extractor(mirror: Mirror, tmp_path: Path) -> None:
    site = _site(tmp_path)
    out = tmp_path / "bundle"
    run = mirror("bundle", site, "-o", out, "--extract")
    assert run.exit_code == 0, run.stderr
    assert _manifest(out)["capture"]["article_from"]["method"] in ("extract", "whole page")


def test_profile_selects_the_content_and_is_named_by_its_hash(
    mirror: Mirror, tmp_path: Path
) -> None:
    site = _site(tmp_path)
    html = (site / "index.html").read_text(encoding="utf-8")
    html = html.replace("<h1>", '<article class="story"><h1 class="headline">').replace(
        "<p>Last paragraph.</p>", "<p>Last paragraph.</p></article>"
    )
    (site / "index.html").write_text(html, encoding="utf-8")
    profile = tmp_path / "site.toml"
    profile.write_text(
        'name = "Test site"\ncontent = ["article.story"]\nremove = [".donate"]\n'
        'title = "h1.headline"\n',
        encoding="utf-8",
    )
    out = tmp_path / "bundle"
    run = mirror("bundle", site, "-o", out, "--profile", profile)
    assert run.exit_code == 0, run.stderr
    manifest = _manifest(out)
    how = manifest["capture"]["article_from"]
    assert how["method"] == "profile" and how["name"] == "Test site"
    assert how["sha256"].startswith("sha256:") and len(how["sha256"]) == 71
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "Support us" not in page and "Last paragraph." in page
    assert manifest["article"]["title"] == "Отчёт из Москвы"


def test_example_profile_loads_and_a_bad_profile_is_one_line(
    mirror: Mirror, tmp_path: Path
) -> None:
    site = _site(tmp_path)
    run = mirror(
        "bundle", site, "-o", tmp_path / "b", "--profile", ROOT / "docs/profile-example.toml"
    )
    # the example's URL pattern does not match a local page: the page is taken as given
    assert run.exit_code == 0, run.stderr
    assert _manifest(tmp_path / "b")["capture"]["article_from"] == {"method": "as given"}
    bad = tmp_path / "bad.toml"
    bad.write_text('content = ["a:hover"]\n', encoding="utf-8")
    run = mirror("bundle", site, "-o", tmp_path / "c", "--profile", bad)
    assert run.exit_code == 2 and len(run.stderr.strip().splitlines()) == 1
    assert "Traceback" not in run.stderr and not (tmp_path / "c").exists()
