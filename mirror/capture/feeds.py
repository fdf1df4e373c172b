"""Article URLs of an RSS/Atom feed or a sitemap, for batch capture.

Documents come through the safe Fetcher (size cap, deadline, address guard) and are
parsed by lxml with entity expansion, DTD loading and network access all off, so a
"billion laughs" or an external entity cannot expand or reach anything. Every list is
bounded: at most ``max_entries`` URLs in total, and a sitemap index is followed one
level deep for at most ``max_sitemaps`` child sitemaps.

An HTML page given as a feed is searched for its ``<link rel="alternate">`` feed,
which is then read once (no further discovery from there).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from lxml import etree

from mirror.errors import LimitExceeded, UsageError

__all__ = [
    "FEED_ACCEPT",
    "SITEMAP_ACCEPT",
    "Document",
    "FeedLimits",
    "feed_urls",
    "merge",
    "parse_feed",
    "parse_sitemap",
    "sitemap_urls",
]

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, "
    "text/html;q=0.5, */*;q=0.1"
)
SITEMAP_ACCEPT = "application/xml, text/xml;q=0.9, */*;q=0.1"
_FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/rdf+xml")


@dataclass(frozen=True, slots=True)
class FeedLimits:
    max_bytes: int = 10 * 1024 * 1024  # one feed or sitemap document
    max_entries: int = 10_000  # article URLs taken from one feed/sitemap (index included)
    max_sitemaps: int = 50  # child sitemaps read from one sitemap index


@dataclass(frozen=True, slots=True)
class Document:
    """A fetched document: the URL it came from (after redirects) and its bytes."""

    url: str
    body: bytes


# (url, accept, max_bytes) -> Document; the capture pipeline passes the safe Fetcher.
Fetch = Callable[[str, str, int], Document]


def _parser() -> etree.XMLParser:
    # A new parser per document: lxml parsers are not shared between threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        recover=True,  # real feeds are often slightly broken; nothing is expanded anyway
    )


def _root(body: bytes, url: str, what: str) -> etree._Element:
    try:
        root = etree.fromstring(body, parser=_parser())
    except (etree.XMLSyntaxError, ValueError) as e:
        raise UsageError(f"{url} is not a readable {what}: {str(e)[:120]}") from e
    if root is None:
        raise UsageError(f"{url} is not a readable {what}: empty document")
    return root


def _gunzip(body: bytes, url: str, cap: int) -> bytes:
    """A ``.xml.gz`` sitemap (served as a gzip file, not a content coding), bounded."""
    if not body.startswith(b"\x1f\x8b"):
        return body
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, cap + 1)
    except zlib.error as e:
        raise UsageError(f"{url} is not a readable gzip file: {e}") from e
    if len(data) > cap:
        raise LimitExceeded(f"{url} inflates to more than {cap} bytes")
    return data


def _local(el: etree._Element) -> str:
    tag = el.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1].lower()


def _text(el: etree._Element) -> str:
    return (el.text or "").strip()


def _http(ref: str, base: str) -> str | None:
    """An absolute http(s) URL without fragment, or None."""
    if not ref or len(ref) > 4096:
        return None
    try:
        absolute = urljoin(base, ref.strip())
        parts = urlsplit(absolute)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts._replace(fragment="").geturl()


class _Collector:
    """Ordered, de-duplicated URLs with a hard cap."""

    def __init__(self, limit: int, source: str) -> None:
        self.urls: dict[str, None] = {}
        self.limit = limit
        self.source = source

    def add(self, url: str | None) -> None:
        if url is None or url in self.urls:
            return
        if len(self.urls) >= self.limit:
            raise LimitExceeded(f"{self.source} lists more than {self.limit} articles")
        self.urls[url] = None

    def result(self) -> tuple[str, ...]:
        return tuple(self.urls)


def _looks_like_html(body: bytes) -> bool:
    head = body[:2048].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html")) or b"<html" in head


def _html_feed_link(body: bytes, base: str) -> str | None:
    """The first RSS/Atom feed a web page announces with <link rel=alternate>."""
    import lxml.html

    try:
        doc = lxml.html.document_fromstring(body[: 2 * 1024 * 1024])
    except (etree.ParserError, ValueError):
        return None
    for link in doc.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        kind = (link.get("type") or "").lower().strip()
        if "alternate" in rel and kind in _FEED_TYPES:
            return _http(link.get("href") or "", base)
    return None


def parse_feed(body: bytes, url: str, limits: FeedLimits | None = None) -> tuple[str, ...]:
    """Article links of an RSS 2.0, RSS 1.0 (RDF) or Atom document, in feed order."""
    limits = limits or FeedLimits()
    root = _root(body, url, "RSS or Atom feed")
    kind = _local(root)
    out = _Collector(limits.max_entries, url)
    if kind == "feed":  # Atom
        for entry in root:
            if _local(entry) != "entry":
                continue
            out.add(_atom_link(entry, url))
    elif kind in ("rss", "rdf"):
        for item in root.iter():
            if _local(item) != "item":
                continue
            out.add(_rss_link(item, url))
    else:
        raise UsageError(f"{url} is not an RSS or Atom feed (root element <{kind}>)")
    return out.result()


def _atom_link(entry: etree._Element, base: str) -> str | None:
    fallback = None
    for link in entry:
        if _local(link) != "link":
            continue
        rel = (link.get("rel") or "alternate").strip().lower()
        href = _http(link.get("href") or "", base)
        if rel == "alternate" and href:
            return href
        fallback = fallback or (href if rel in ("", "self") else None)
    return fallback


def _rss_link(item: etree._Element, base: str) -> str | None:
    guid = None
    for child in item:
        name = _local(child)
        if name == "link":
            found = _http(_text(child) or child.get("href") or "", base)
            if found:
                return found
        elif name == "guid" and (child.get("isPermaLink") or "true").lower() != "false":
            guid = _http(_text(child), base)
    return guid


def parse_sitemap(
    body: bytes, url: str, limits: FeedLimits | None = None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(page URLs, child sitemap URLs) of a sitemap or a sitemap index."""
    limits = limits or FeedLimits()
    root = _root(_gunzip(body, url, limits.max_bytes), url, "sitemap")
    kind = _local(root)
    if kind not in ("urlset", "sitemapindex"):
        raise UsageError(f"{url} is not a sitemap (root element <{kind}>)")
    child = "url" if kind == "urlset" else "sitemap"
    out = _Collector(limits.max_entries if kind == "urlset" else limits.max_sitemaps, url)
    for entry in root:
        if _local(entry) != child:
            continue
        for loc in entry:
            if _local(loc) == "loc":
                out.add(_http(_text(loc), url))
                break
    return (out.result(), ()) if kind == "urlset" else ((), out.result())


def feed_urls(url: str, fetch: Fetch, limits: FeedLimits | None = None) -> tuple[str, ...]:
    """Article URLs of the feed at ``url`` (or of the feed an HTML page links to)."""
    limits = limits or FeedLimits()
    doc = fetch(url, FEED_ACCEPT, limits.max_bytes)
    if _looks_like_html(doc.body):
        link = _html_feed_link(doc.body, doc.url)
        if link is None:
            raise UsageError(f"{url} is a web page that names no RSS or Atom feed")
        doc = fetch(link, FEED_ACCEPT, limits.max_bytes)
    return parse_feed(doc.body, doc.url, limits)


def sitemap_urls(url: str, fetch: Fetch, limits: FeedLimits | None = None) -> tuple[str, ...]:
    """Page URLs of the sitemap at ``url``; an index is followed one level deep."""
    limits = limits or FeedLimits()
    doc = fetch(url, SITEMAP_ACCEPT, limits.max_bytes)
    pages, children = parse_sitemap(doc.body, doc.url, limits)
    out = _Collector(limits.max_entries, url)
    for page in pages:
        out.add(page)
    for child in children:
        sub = fetch(child, SITEMAP_ACCEPT, limits.max_bytes)
        sub_pages, _nested = parse_sitemap(sub.body, sub.url, limits)  # nested indexes: ignored
        for page in sub_pages:
            out.add(page)
    return out.result()


def merge(groups: Iterable[Iterable[str]]) -> tuple[str, ...]:
    """URLs of several sources in order, each once."""
    return tuple(dict.fromkeys(u for group in groups for u in group))
