"""Main article text and metadata of a fetched page.

The page is parsed once with lxml. Metadata comes from the page's own markup
(:mod:`mirror.capture.metadata`: JSON-LD, OpenGraph, ``<meta>``, byline markup); the
article body comes from one trafilatura run (tables, images and links kept, comments
left out), and a second run that favours recall only when the first finds little.
Both outputs are rendered from that single extraction tree:

* ``content_html`` — an HTML fragment with headings, paragraphs, lists, quotes, tables,
  links and images; image ``src`` and link ``href`` are made absolute against the page
  URL (or its ``<base href>``). It is not sanitized here.
* ``markdown`` (``article.md``) — the article *text*: headings as ``#``, paragraphs,
  lists, quotes, tables, bold/italic. Links are rendered as their text only and images
  as their alt text in italics (a line of its own, or inline inside a paragraph;
  nothing when there is no alt),
  so the file reads as prose and holds no URLs: addresses are noise for readers and
  for text search, and the reader page (``index.html``) keeps every link and image.
"""

from __future__ import annotations

import functools
import re
from copy import deepcopy
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml import etree
from lxml.html import HtmlElement

from mirror.capture.metadata import clean_text, read_metadata
from mirror.errors import UsageError

__all__ = ["Article", "extract_article"]

# below this many characters of body text the first pass "found little"
SECOND_PASS_BELOW = 500
# the recall pass must beat the first by this factor to be preferred
SECOND_PASS_GAIN = 1.2

# trafilatura's internal XML -> HTML tags
_HTML_TAGS = {
    "list": "ul", "item": "li", "quote": "blockquote", "lb": "br", "graphic": "img",
    "ref": "a", "row": "tr", "code": "pre", "del": "del",
}  # fmt: skip
_HI_TAGS = {"#b": "b", "#i": "i", "#u": "u", "#t": "code", "#sub": "sub", "#sup": "sup"}


@dataclass(frozen=True, slots=True)
class Article:
    title: str
    authors: tuple[str, ...]
    published: str | None
    site_name: str | None
    language: str | None
    direction: str | None
    description: str | None
    canonical_url: str | None
    content_html: str
    markdown: str

    @property
    def byline(self) -> str:
        return ", ".join(self.authors)


def extract_article(html: str, url: str) -> Article:
    """Article of ``html`` (already decoded), fetched from ``url``.

    Raises UsageError when the page holds no article text at all.
    """
    from trafilatura.utils import load_html

    try:
        tree = load_html(html)
    except (TypeError, ValueError, etree.ParserError) as e:
        raise UsageError(f"no article text found at {url}: the page does not parse") from e
    if tree is None:
        raise UsageError(f"no article text found at {url}")
    meta = read_metadata(tree, url)
    body = _extract_body(tree, url)
    if body is None:
        raise UsageError(f"no article text found at {url}")
    markdown = _markdown(body)
    if not markdown.strip():
        raise UsageError(f"no article text found at {url}")
    content_html = _html(body, _base_url(tree, url))
    title = meta.title or _tag_text(tree, "title") or _tag_text(tree, "h1") or url
    return Article(
        title=title,
        authors=meta.authors,
        published=meta.published,
        site_name=meta.site_name,
        language=meta.language,
        direction=meta.direction,
        description=meta.description,
        canonical_url=meta.canonical_url,
        content_html=content_html,
        markdown=markdown,
    )


def _extract_body(tree: HtmlElement, url: str) -> Any:
    """trafilatura's body tree for the page: one pass, a recall pass if it found little."""
    first = _run(tree, url, recall=False)
    size = len(first[1]) if first else 0
    if size >= SECOND_PASS_BELOW:
        return first[0] if first else None
    second = _run(tree, url, recall=True)
    if second and len(second[1]) > SECOND_PASS_GAIN * size:
        return second[0]
    return first[0] if first else None


def _run(tree: HtmlElement, url: str, *, recall: bool) -> tuple[Any, str] | None:
    from trafilatura import bare_extraction
    from trafilatura.settings import Extractor

    options = Extractor(
        output_format="html",  # skips trafilatura's own text rendering: we render ourselves
        recall=recall,
        comments=False,
        formatting=True,
        links=True,
        images=True,
        tables=True,
        # no URL: link targets stay as written and are resolved against the full page
        # URL below (trafilatura would resolve them against the host only)
        url=None,
    )
    try:
        doc = bare_extraction(tree, options=options)
    except (TypeError, ValueError, AttributeError, etree.LxmlError):
        return None
    body = getattr(doc, "body", None)
    if body is None:
        return None
    return body, str(getattr(doc, "raw_text", "") or "")


def _markdown(body: Any) -> str:
    from trafilatura.xml import xmltotxt

    tree = deepcopy(body)
    # links as their text: no URLs in article.md
    etree.strip_tags(tree, "ref")
    for img in list(tree.iter("graphic")):
        alt = clean_text(img.get("alt") or img.get("title") or "")
        parent = img.getparent()
        if parent is None:
            continue
        if alt:
            # the alt text stands for the image, on a line of its own
            line = etree.Element("p")
            em = etree.SubElement(line, "hi", rend="#i")
            em.text = alt
            line.tail = img.tail
            if parent.tag in ("p", "hi", "item", "cell", "head", "quote"):
                em.tail, line = img.tail, em  # inline context: keep it inline
            parent.replace(img, line)
        else:
            _drop(img)
    text = xmltotxt(tree, True)
    # trafilatura separates blocks with U+2424 placeholders in markdown mode
    text = text.replace("\u2424", "")
    text = re.sub(r"[ \t]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def _drop(el: Any) -> None:
    parent = el.getparent()
    if parent is None:
        return
    if el.tail:
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)


def _html(body: Any, url: str) -> str:
    tree = deepcopy(body)
    for el in list(tree.iter()):
        tag = el.tag
        if not isinstance(tag, str):
            continue
        if tag == "head":
            rend = el.get("rend") or "h2"
            el.tag = rend if re.fullmatch(r"h[1-6]", rend) else "h2"
            el.attrib.clear()
        elif tag == "hi":
            el.tag = _HI_TAGS.get(el.get("rend") or "", "em")
            el.attrib.clear()
        elif tag == "list":
            el.tag = "ol" if el.get("rend") == "ol" else "ul"
            el.attrib.clear()
        elif tag == "cell":
            el.tag = "th" if el.get("role") == "head" else "td"
            el.attrib.clear()
        elif tag == "ref":
            href = _absolute(el.get("target"), url)
            el.tag = "a"
            el.attrib.clear()
            if href:
                el.set("href", href)
        elif tag == "graphic":
            src = _absolute(el.get("src"), url, allow_data=True)
            if not src:
                _drop(el)
                continue
            attrs = {"src": src, "alt": el.get("alt") or ""}
            if el.get("title"):
                attrs["title"] = el.get("title") or ""
            el.tag = "img"
            el.attrib.clear()
            for k, v in attrs.items():
                el.set(k, v)
        else:
            el.tag = _HTML_TAGS.get(tag, tag)
            el.attrib.clear()
    _drop_empty(tree)
    parts = []
    if tree.text and tree.text.strip():
        parts.append(f"<p>{_escape(tree.text)}</p>")
    parts.extend(etree.tostring(child, encoding="unicode", method="html") for child in tree)
    return "\n".join(p.strip() for p in parts if p.strip())


_KEEP_EMPTY = frozenset({"img", "br", "td", "th", "tr"})


def _drop_empty(tree: Any) -> None:
    """Remove elements left with neither text nor an image (emptied links, paragraphs)."""
    for el in reversed(list(tree.iter())):
        if el is tree or not isinstance(el.tag, str) or el.tag in _KEEP_EMPTY:
            continue
        if (el.text or "").strip() or len(el):
            continue
        _drop(el)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _absolute(ref: str | None, base: str, *, allow_data: bool = False) -> str | None:
    ref = (ref or "").strip()
    if not ref:
        return None
    if allow_data and ref.lower().startswith("data:image/"):
        return ref
    if len(ref) > _CACHE_MAX_CHARS or len(base) > _CACHE_MAX_CHARS:
        return _resolve(ref, base)
    return _resolve_cached(ref, base)


def _resolve(ref: str, base: str) -> str | None:
    try:
        absolute = urljoin(base, ref)
    except ValueError:
        return None
    return absolute if urlsplit(absolute).scheme in ("http", "https") else None


# Pages repeat the same links (navigation, footnotes): resolve each once. Long
# references are not kept, so the cache stays small whatever a page holds.
_CACHE_MAX_CHARS = 2048
_resolve_cached = functools.lru_cache(maxsize=4096)(_resolve)


def _base_url(tree: HtmlElement, url: str) -> str:
    """The document's <base href> (resolved against ``url``) when it is http(s)."""
    for el in tree.iter("base"):
        href = _absolute(el.get("href"), url)
        if href:
            return href
    return url


def _tag_text(tree: HtmlElement, tag: str) -> str:
    for el in tree.iter(tag):
        text = clean_text(el.text_content())
        if text:
            return text
    return ""
