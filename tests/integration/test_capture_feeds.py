"""Batch discovery from RSS, Atom and sitemaps (mirror/capture/feeds.py), over a real
HTTP server on 127.0.0.1, and `mirror capture --feed/--sitemap/--urls-file`."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from mirror.capture import feeds, pipeline
from mirror.capture.fetch import FetchPolicy
from mirror.errors import LimitExceeded, UsageError
from tests.conftest import Mirror
from tests.helpers.webserver import Server, respond, serve

PAGES = Path(__file__).resolve().parent.parent / "fixtures" / "pages"


def rss(links: list[str]) -> bytes:
    items = "".join(f"<item><title>t</title><link>{u}</link></item>" for u in links)
    head = '<?xml version="1.0"?><rss version="2.0"><channel><title>c</title>'
    return f"{head}{items}</channel></rss>".encode()


def atom(links: list[str]) -> bytes:
    entries = "".join(
        f'<entry><title>t</title><link rel="self" href="{u}.json"/><link href="{u}"/></entry>'
        for u in links
    )
    return f'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>f</title>{entries}</feed>'.encode()


def sitemap(links: list[str]) -> bytes:
    urls = "".join(f"<url><loc>{u}</loc></url>" for u in links)
    return f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'.encode()


def sitemap_index(links: list[str]) -> bytes:
    maps = "".join(f"<sitemap><loc>{u}</loc></sitemap>" for u in links)
    return f'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{maps}</sitemapindex>'.encode()


XML = "application/xml"


@pytest.fixture
def fetch() -> feeds.Fetch:
    return pipeline.document_fetch(pipeline.batch_fetcher(FetchPolicy(allow_private=True)))


@pytest.fixture
def server() -> Iterator[Server]:
    with serve() as s:
        yield s


def test_rss_atom_and_html_discovery(server: Server, fetch: feeds.Fetch) -> None:
    links = [server.url(f"/a{i}") for i in range(3)]
    server.routes["/rss"] = respond(
        rss([*links, links[0], "/relative", "javascript:x"]), content_type=XML
    )
    server.routes["/atom"] = respond(atom(links), content_type="application/atom+xml")
    server.routes["/home"] = respond(
        '<html><head><link rel="alternate" type="application/rss+xml" href="/rss"></head></html>'
    )
    assert feeds.feed_urls(server.url("/rss"), fetch) == (*links, server.url("/relative"))
    assert feeds.feed_urls(server.url("/atom"), fetch) == tuple(links)
    assert feeds.feed_urls(server.url("/home"), fetch)[:3] == tuple(links)


def test_sitemap_index_is_followed_one_level_gzip_included(
    server: Server, fetch: feeds.Fetch
) -> None:
    server.routes["/s1.xml"] = respond(
        sitemap([server.url("/p1"), server.url("/p2")]), content_type=XML
    )
    server.routes["/s2.xml.gz"] = respond(
        gzip.compress(sitemap([server.url("/p3")])), content_type="application/gzip"
    )
    server.routes["/s3.xml"] = respond(sitemap_index([server.url("/never")]), content_type=XML)
    server.routes["/index.xml"] = respond(
        sitemap_index([server.url("/s1.xml"), server.url("/s2.xml.gz"), server.url("/s3.xml")]),
        content_type=XML,
    )
    got = feeds.sitemap_urls(server.url("/index.xml"), fetch)
    assert got == (server.url("/p1"), server.url("/p2"), server.url("/p3"))
    assert "/never" not in server.requests


def test_entities_are_never_expanded_nor_loaded() -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaaaaaaaaaaaa">'
        + b"".join(
            b'<!ENTITY %s "%s">' % (bytes([98 + i]), (b"&" + bytes([97 + i]) + b";") * 10)
            for i in range(8)
        )
        + b'<!ENTITY ext SYSTEM "file:///etc/passwd">]>'
        b"<rss><channel><item><link>http://example.org/&i;</link></item>"
        b"<item><link>http://example.org/x&ext;</link></item></channel></rss>"
    )
    got = feeds.parse_feed(laughs, "http://example.org/feed")
    assert all(len(u) < 100 for u in got)
    assert not any("root:" in u for u in got)


def test_limits_and_wrong_documents() -> None:
    many = rss([f"http://example.org/{i}" for i in range(30)])
    with pytest.raises(LimitExceeded):
        feeds.parse_feed(many, "http://example.org/f", feeds.FeedLimits(max_entries=10))
    with pytest.raises(UsageError):
        feeds.parse_feed(b"<html><body>hi</body></html>", "http://example.org/f")
    with pytest.raises(UsageError):
        feeds.parse_sitemap(rss([]), "http://example.org/s")
    with pytest.raises(LimitExceeded):
        feeds.parse_sitemap(
            gzip.compress(b" " * 5000), "http://example.org/s", feeds.FeedLimits(max_bytes=100)
        )


def test_cli_batch_from_feed_sitemap_and_url_list(mirror: Mirror, tmp_path: Path) -> None:
    names = sorted(p.name for p in PAGES.iterdir() if p.is_dir())
    with serve() as server:
        for n in names:
            server.routes[f"/{n}/"] = respond((PAGES / n / "source.html").read_bytes())
        links = [server.url(f"/{n}/") for n in names]
        server.routes["/feed.xml"] = respond(rss(links[:2]), content_type="application/rss+xml")
        server.routes["/sitemap.xml"] = respond(sitemap(links[1:3]), content_type=XML)
        url_list = tmp_path / "urls.txt"
        url_list.write_text(f"# list\n{links[3]}\n\n{links[0]}\n", encoding="utf-8")
        out = tmp_path / "out"
        args = [
            "capture", "--allow-private", "-j", "4", "--feed", server.url("/feed.xml"),
            "--sitemap", server.url("/sitemap.xml"), "--urls-file", url_list, "-o", out,
        ]  # fmt: skip
        run = mirror(*args, "--json")
        assert run.exit_code == 0, run.stderr
        result = json.loads(run.stdout)
        assert result["captured"] == 4 and {a["url"] for a in result["articles"]} == set(links)
        again = mirror(*args)
    assert again.exit_code == 0, again.stderr
    assert sorted(again.stdout.split()) == sorted(a["root_cid"] for a in result["articles"])
    assert "unchanged" in again.stderr
    assert len([p for p in out.iterdir() if p.suffix == ".car"]) == 4


def test_cli_feed_that_cannot_be_read_fails_cleanly(mirror: Mirror, tmp_path: Path) -> None:
    with serve({"/feed.xml": respond(b"<notafeed/>", content_type=XML)}) as server:
        bad = mirror(
            "capture", "--allow-private", "--feed", server.url("/feed.xml"), "-o", tmp_path / "o"
        )
        gone = mirror(
            "capture", "--allow-private", "--feed", server.url("/nope"), "-o", tmp_path / "o"
        )
    assert bad.exit_code == 2 and "not an RSS or Atom feed" in bad.stderr
    assert gone.exit_code == 4 and "404" in gone.stderr
    assert not (tmp_path / "o").exists()
