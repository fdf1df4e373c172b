"""Main article text and metadata of a fetched page.

The page is parsed once with lxml. Metadata comes from the page's own markup
(:mod:`mirror.capture.metadata`: JSON-LD, OpenGraph, ``<meta>``, byline markup); the
article body comes from one trafilatura run (tables, images and links kept, comments
left out), and a second run that favours recall only when the first finds little;
what trafilatura leaves out with the boxes it drops is read back from the page: the
lead written between headline and body, images with their captions, links, emphasis.
Both outputs are rendered from that single extraction tree:

* ``content_html`` — an HTML fragment with headings, paragraphs, lists, quotes, tables,
  links and images; image ``src`` and link ``href`` are made absolute against the page
  URL (or its ``<base href>``). It is not sanitized here.
* ``markdown`` (``article.md``) — the article *text*: headings as ``#``, paragraphs,
  lists, quotes, tables. Links are rendered as their text only and each image as a
  line of its own in italics, ``*alt — caption*``, with only the parts that tell the
  reader something (no file names, addresses, generic words, the title again, an alt
  that retells the text around it or that the page hides from screen readers, or a
  line repeated; nothing when neither part says anything), so the file reads as prose
  and holds no URLs: addresses are noise for readers and for text search, and the
  reader page (``index.html``) keeps every link and image.
"""

from __future__ import annotations

import bisect
import itertools
import re
import unicodedata
from copy import deepcopy
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml import etree
from lxml.html import HtmlElement

from mirror.capture.markup import (
    BLOCK_TAGS,
    NOSCRIPT_PICTURE,
    drop_templates,
    parse_fragment,
    parse_page,
)
from mirror.capture.metadata import clean_text, marks, read_metadata
from mirror.capture.sanitize import CachedCheck, image_source, page_image_url
from mirror.errors import UsageError

__all__ = ["Article", "extract_article", "one_spelling"]

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
    tree = parse_page(_SERVER_ERROR.sub("", html))
    if tree is None:
        raise UsageError(f"no article text found at {url}: the page does not parse")
    drop_templates(tree)  # a browser shows none of a template: it is no article text
    meta = read_metadata(tree, url)
    found, size = _extract_body(tree, url)  # takes the page's appeal boxes out first
    order, sources = _page_index(tree)
    found, size = _sibling_boxes(tree, url, found, size, order, sources)
    body = _stated_body(found, size, meta.article_body)
    if body is None:
        raise UsageError(f"no article text found at {url}")
    _unwrap_layout_tables(body)
    _unwrap_boxes(body)
    base = _base_url(tree, url)
    title = meta.title or _tag_text(tree, "title") or _tag_text(tree, "h1") or url
    _rehydrate(body, order, sources)
    _restore_lists(body, order, sources)
    _restore_sublists(body, tree)
    page_urls = (url, meta.canonical_url or url)
    hosts = _site_hosts(base, meta.canonical_url)
    _drop_pointers(body, order, sources, base, {_page_url(u) for u in page_urls}, hosts)
    _illustrate(body, tree, base, order, sources, meta.authors, page_urls)
    _restore_lead(body, order, sources, title, tree, base)
    _describe_images(body, title)
    # the title lives in the manifest and the reader page's header: neither the page
    # nor article.md (the body only) repeats it as the body's first heading
    _drop_title_heading(body, title)
    markdown = _markdown(body)
    if not markdown.strip():
        raise UsageError(f"no article text found at {url}")
    content_html = _html(body, base)
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


# What PHP writes into a page when a plugin fails ("<b>Warning</b>: Use of undefined
# constant ... in <b>/htdocs/wp-content/plugins/x.php</b> on line <b>928</b>"): the
# server's diagnostics, never the article's text (a sidebar full of them outweighed a
# short post). The markup is PHP's own, so the form is exact.
_SERVER_ERROR = re.compile(
    r"<b>(?:Warning|Notice|Deprecated|Strict Standards|Fatal error|Parse error)</b>:"
    r"[^<>]{0,1000}(?:<b>[^<>]{0,500}</b>[^<>]{0,200})? on line <b>\d+</b>"
)


# A table that lays out a page rather than tabulating data: one cell of it holds most
# of its text, in two paragraphs (headings, lists, quotes) or one long one (a data
# table's cells each hold a little: an infobox with lists in a few cells stays whole)
_CELL_BLOCKS = frozenset({"p", "head", "list", "quote", "code"})
_LONG_CELL_BLOCK = 200
_CELL_SHARE = 0.5


def _unwrap_layout_tables(body: Any) -> None:
    """Each such table gives way to its cells' contents, in reading order: article.md
    then writes its paragraphs as paragraphs (not one table row of all of them), and
    its pictures find their places among them."""
    for table in reversed(list(body.iter("table"))):  # inner tables first
        if not _lays_out(table):
            continue
        parent = table.getparent()
        if parent is None:
            continue
        boxes = []
        # its own rows (a copied table may hold them in a <tbody>), not a nested table's
        for row in table.iter("row", "tr"):
            if next(row.iterancestors("table"), None) is not table:
                continue
            for cell in (c for c in row if c.tag in ("cell", "td", "th")):
                box = etree.Element("div")
                box.text = cell.text
                box.extend(list(cell))
                boxes.append(box)
        if boxes:
            boxes[-1].tail = table.tail
            for box in boxes:  # in place, not by index: a page may hold many such tables
                table.addprevious(box)
            parent.remove(table)


def _unwrap_boxes(body: Any) -> None:
    """The boxes (``<div>``) around the body's blocks give way to what they hold:
    trafilatura's fallback extractors hand back the page's boxes, a layout table's
    cells are boxes, and the steps after this one place pictures, leads and captions
    among the body's own blocks."""
    if not any(child.tag == "div" for child in body):
        return
    blocks: list[Any] = []
    todo = list(reversed(body))  # one pass and one assignment: a page of many boxes
    while todo:
        el = todo.pop()
        if el.tag == "div":
            todo.extend(reversed(_box_parts(el)))  # a box in a box is looked at next
        else:
            blocks.append(el)
    body[:] = blocks


def _box_parts(box: Any) -> list[Any]:
    """What ``box`` holds as blocks: its blocks, its loose text and inline markup as
    paragraphs, and then the text after it as one."""
    parts: list[Any] = []
    para: Any = None

    def paragraph() -> Any:
        nonlocal para
        if para is None:
            para = etree.Element("p")
            parts.append(para)
        return para

    def add_text(text: str | None) -> None:
        if not text or (para is None and not text.strip()):
            return
        p = paragraph()
        if len(p):
            p[-1].tail = (p[-1].tail or "") + text
        else:
            p.text = (p.text or "") + text

    add_text(box.text)
    for child in list(box):
        tail, child.tail = child.tail, None
        if not isinstance(child.tag, str):
            pass  # a comment
        elif child.tag in _MD_BLOCKS or _has_block(child):
            parts.append(child)
            para = None
        elif para is not None or child.tag != "lb":  # no paragraph opens with a break
            paragraph().append(child)
        add_text(tail)
    para = None
    add_text(box.tail)
    return parts


def _lays_out(table: Any) -> bool:
    most = _CELL_SHARE * len("".join(table.itertext()))
    for cell in table.iter("cell", "td", "th"):
        blocks = [c for c in cell if c.tag in _CELL_BLOCKS]
        prose = len(blocks) >= 2 or any(
            len("".join(b.itertext())) >= _LONG_CELL_BLOCK for b in blocks
        )
        if prose and len("".join(cell.itertext())) >= most:
            return True
    return False


def _drop_title_heading(body: Any, title: str) -> None:
    """A first heading of the body that only repeats the title would show it twice."""
    for child in body:
        if not isinstance(child.tag, str):
            continue
        if child.tag == "head" and _same_text("".join(child.itertext()), title):
            _drop(child)
        return


def _same_text(a: str, b: str) -> bool:
    def norm(s: str) -> str:
        return re.sub(r"\W+", " ", s).strip().casefold()

    return bool(norm(a)) and norm(a) == norm(b)


# Boxes that ask the reader for something (money, an e-mail address, consent to
# cookies) or point elsewhere (related links) are never the article, wherever a page
# puts them. Measured on both development sets (bench/EXTRACTION-LOG.md): these words
# take out boilerplate on trafilatura's evaluation set and change nothing on the
# Readability pages; "subscri", "consent", "paywall", "share", "social" lost article
# text there.
_APPEAL = re.compile(r"donat|newsletter|cookie|related", re.I)
_APPEAL_MAX = 0.2  # share of the page's text such a box may hold: more is no box
# elements with a class or an id (XPath: far fewer than all to look at)
_marked = etree.XPath("//*[@class or @id]")


def _without_appeals(tree: HtmlElement) -> HtmlElement:
    """``tree`` without such boxes, removed in place: the metadata is read before, and
    no image of the article is in them (a copy of the whole page, made for every page
    with a cookie banner, is not needed)."""
    boxes = [el for el in _marked(tree) if _is_appeal(el)]
    if not boxes:
        return tree
    most = _APPEAL_MAX * (len(tree.text_content()) or 1)
    # a box holding half the page's paragraphs is the article, whatever its class says
    # ("...-related-to-my-size")
    prose = _APPEAL_PROSE * _prose(tree)
    for el in boxes:
        if el.getparent() is not None and len(el.text_content()) <= most:
            if prose and _prose(el) >= prose:
                continue
            el.drop_tree()
    return tree


_APPEAL_PROSE = 0.5


def _prose(el: Any) -> int:
    return sum(len(p.text_content()) for p in el.iter("p"))


def _is_appeal(el: Any) -> bool:
    if not isinstance(el.tag, str) or el.tag in ("html", "body", "article", "main"):
        return False
    hint = marks(el)
    return bool(hint.strip()) and bool(_APPEAL.search(hint))


def _extract_body(tree: HtmlElement, url: str) -> tuple[Any, int]:
    """trafilatura's body tree for the page (one pass, a recall pass if it found
    little) and the length of its text."""
    tree = _without_appeals(tree)
    first = _run(tree, url, recall=False)
    size = len(first[1]) if first else 0
    if size < SECOND_PASS_BELOW:
        second = _run(tree, url, recall=True)
        if second and len(second[1]) > SECOND_PASS_GAIN * size:
            first, size = second, len(second[1])
    return _container_fallback(tree, url, first, size)


# The page's own article container: schema.org's articleBody, else a page's only
# <article>. When it holds this much more text than the extraction kept, the
# extraction lost text: extract from the container alone.
_HOLDS_MORE = 1.5
_BODY_MARK = re.compile(r"\barticleBody\b")
_BODY_MARKS = etree.XPath("descendant-or-self::*[contains(@itemprop, 'articleBody')]")


def _container_fallback(
    tree: HtmlElement, url: str, found: tuple[Any, str] | None, size: int
) -> tuple[Any, int]:
    box = _article_container(tree)
    if box is not None and _holds_more(_held_text(box), size):
        alone = _extract_alone(tree, [deepcopy(box)], url)
        if alone and len(alone[1]) > size:
            return alone[0], len(alone[1])
    return (found[0], size) if found else (None, 0)


def _held_text(box: Any) -> int:
    """Characters of the paragraphs, items and quotes ``box`` holds."""
    return sum(len(clean_text(p.text_content())) for p in box.iter("p", "li", "blockquote"))


def _holds_more(held: int, size: int) -> bool:
    return held > _HOLDS_MORE * size and held >= SECOND_PASS_BELOW


def _extract_alone(tree: HtmlElement, parts: list[Any], url: str) -> tuple[Any, str] | None:
    """The recall pass on a page of the page's head and ``parts`` (copies: moved there)."""
    page = etree.Element("html")
    head = tree.find("head")
    if head is not None:
        page.append(deepcopy(head))
    page_body = etree.SubElement(page, "body")
    for part in parts:
        page_body.append(part)
    alone_tree = parse_page(etree.tostring(page, encoding="unicode"))
    return _run(alone_tree, url, recall=True) if alone_tree is not None else None


# An article a page writes as a run of sibling boxes of one class (a text module, a
# picture module, a text module...): trafilatura keeps one box of the run, Readability
# joins the siblings that share its class. The first run, from the kept blocks' box
# upwards, that holds more text than was kept (_holds_more) is extracted alone, its
# boxes' contents in one box (grid rows repeat a class too, and hold little).
_KIN_LEVELS = 4  # boxes looked at, from the kept blocks' nearest common one upwards


def _sibling_boxes(
    tree: HtmlElement, url: str, found: Any, size: int, order: dict[Any, int], sources: Sources
) -> tuple[Any, int]:
    """``found`` and its ``size``, or the run of sibling boxes its blocks came from."""
    if found is None:
        return found, size
    kept, after = [], -1
    for block in found.iter(*_TEXT_BLOCKS):
        el = _source(sources, "".join(block.itertext()), order, after)
        if el is not None:
            kept.append(el)
            after = order[el]
    if not kept:
        return found, size
    box = _common_ancestor(kept)
    for _ in range(_KIN_LEVELS):
        parent = box.getparent()
        if parent is None or box.tag in ("body", "html"):
            break
        mark = box.get("class")
        kin = [c for c in parent if c.tag == box.tag and c.get("class") == mark] if mark else []
        if len(kin) > 1 and _holds_more(sum(map(_held_text, kin)), size):
            joined = etree.Element("div")
            for el in list(parent)[parent.index(kin[0]) : parent.index(kin[-1]) + 1]:
                joined.extend(_contents(el) if el in kin else [deepcopy(el)])
            alone = _extract_alone(tree, [joined], url)
            if alone and len(alone[1]) > size:
                return alone[0], len(alone[1])
            break  # the run the page wrote its article in: no higher one is
        box = parent
    return found, size


def _contents(box: Any) -> list[Any]:
    """Copies of what ``box`` holds inside the wrappers that hold one element each."""
    inner = deepcopy(box)
    while len(inner) == 1 and isinstance(inner[0].tag, str) and not _own_text(inner):
        inner = inner[0]
    return [inner] if _own_text(inner) else list(inner)


def _own_text(el: Any) -> bool:
    return bool((el.text or "").strip()) or any((c.tail or "").strip() for c in el)


# A page whose article only a script writes into the page (its HTML holds a caption, a
# teaser): the text its JSON-LD states as the articleBody, when that is this much more.
_STATED_MORE = 3
_STATED_TAG = re.compile(r"<[a-z][^>]*>", re.I)


def _stated_body(found: Any, size: int, stated: str | None) -> Any:
    """``found`` (the extracted body, ``size`` characters of text), or the ``stated``
    articleBody as one when the page's HTML held far less."""
    if not stated or size >= SECOND_PASS_BELOW or len(stated) < _STATED_MORE * size:
        return found
    if _STATED_TAG.search(stated):  # some CMSs state it as HTML
        stated = _block_lines(parse_fragment(stated))
    lines = [clean_text(line) for line in stated.splitlines()]
    if sum(map(len, lines)) < SECOND_PASS_BELOW:
        return found
    body = etree.Element("body")
    for line in filter(None, lines):
        etree.SubElement(body, "p").text = line
    return body


def _block_lines(fragment: Any) -> str:
    """The text of ``fragment``, a line for each of its blocks."""
    for el in list(fragment.iter("script", "style", "template")):
        el.drop_tree()
    for el in fragment.iter(*BLOCK_TAGS, "br"):
        el.text = "\n" + (el.text or "")
        el.tail = "\n" + (el.tail or "")
    return str(fragment.text_content())


def _article_container(tree: HtmlElement) -> HtmlElement | None:
    for el in _BODY_MARKS(tree):
        if _BODY_MARK.search(el.get("itemprop") or ""):
            return el
    articles = list(tree.iter("article"))
    return articles[0] if len(articles) == 1 else None


def _run(tree: HtmlElement, url: str, *, recall: bool) -> tuple[Any, str] | None:
    from trafilatura import bare_extraction
    from trafilatura.settings import Extractor

    options = Extractor(
        output_format="html",  # skips trafilatura's own text rendering: we render ourselves
        fast=_many_blocks(tree),
        recall=recall,
        comments=False,
        formatting=False,
        links=False,
        # links and emphasis come back from the page itself (_rehydrate), and so do
        # images (_illustrate): trafilatura's link, formatting and image modes each cost
        # text precision on its own evaluation set
        images=False,
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


# justext, one of the extractors trafilatura falls back on, looks for each paragraph's
# neighbours in time that grows with the square of their number: a page of 25,000
# blocks took 13 s (trafilatura alone too), four times as many blocks would take
# sixteen times as long. Past this many, trafilatura runs without its fallbacks (the
# most on a page of either development set is 9,216).
_FALLBACK_BLOCKS = 10_000
_JUSTEXT_BLOCKS = ("p", "div", "td", "th", "tr", "li", "dd", "dt", "ul", "ol", "dl", "table",
                   "blockquote", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "form", "option",
                   "textarea", "br")  # fmt: skip


def _many_blocks(tree: HtmlElement) -> bool:
    blocks = tree.iter(*_JUSTEXT_BLOCKS)
    return next(itertools.islice(blocks, _FALLBACK_BLOCKS, None), None) is not None


# Where an extracted block came from: the first characters of its text.
_KEY_CHARS = 60
_KEY_SCAN = 4 * _KEY_CHARS
_KEY_MIN = 20
_SOURCE_BLOCKS = ("p", "h1", "h2", "h3", "h4", "h5", "h6", "li", "blockquote", "pre", "td",
                  "th", "dd", "dt", "figcaption")  # fmt: skip
# The element that holds an article on most sites; the lead image is often in it but
# outside the part trafilatura keeps.
_CONTAINERS = frozenset({"article", "main"})
# Site furniture around and inside articles (the same words Readability's
# "unlikely candidates" use): images there are not the article's.
_FURNITURE = re.compile(
    r"related|recommend|promo|teaser|newsletter|donat|subscri|advert|sponsor|sidebar"
    r"|comment|cookie|banner|widget|author|avatar|logo|menu|breadcrumb|footer|popular"
    r"|trending|masthead",
    re.I,
)
_FURNITURE_TAGS = frozenset({"nav", "aside", "footer", "form", "button", "noscript"})
_MIN_SIDE = 48  # both declared sides below this: an icon
_SLIVER = 16  # one declared side this thin: a spacer, a tracking pixel
_MAX_CAPTION = 600


def _key(text: str) -> str:
    # from the first characters only when they make a whole key: a block's text may be
    # a whole page (a layout table's cell), and this runs for every block of it
    head = " ".join(text[:_KEY_SCAN].split()).casefold()
    if len(head) > _KEY_CHARS or len(text) <= _KEY_SCAN:
        return head[:_KEY_CHARS]
    return " ".join(text.split()).casefold()[:_KEY_CHARS]


Sources = dict[str, list[Any]]


def _page_index(tree: HtmlElement) -> tuple[dict[Any, int], Sources]:
    """Document order of every element, and the text blocks of the page by key."""
    order: dict[Any, int] = {el: i for i, el in enumerate(tree.iter())}
    sources: Sources = {}
    for el in tree.iter(*_SOURCE_BLOCKS):
        k = _key(el.text_content())
        if len(k) >= _KEY_MIN:
            sources.setdefault(k, []).append(el)
    # a <div> a page writes as a paragraph (text of its own, no block inside): the
    # source of a text no paragraph, heading or item of the page holds
    written_as_divs: Sources = {}
    for el in tree.iter("div"):
        if (el.text or "").strip() and not _holds_block(el):
            k = _key(el.text_content())
            if len(k) >= _KEY_MIN and k not in sources:
                written_as_divs.setdefault(k, []).append(el)
    sources.update(written_as_divs)
    return order, sources


def _holds_block(el: Any) -> bool:
    return any(isinstance(c.tag, str) and c.tag in BLOCK_TAGS for c in el)


# A lead (standfirst, deck, teaser text) that a page writes between its headline and
# the body, in a box of its own: trafilatura leaves it out with the box. Measured on
# both development sets (bench/EXTRACTION-LOG.md).
_LEAD_MIN = 80  # characters: shorter is a kicker, a date line, a label
_LEAD_MAX = 1500  # all of the lead: more is a list of teasers, not a lead
_LEAD_SCAN = 1000  # elements before the body searched for its headline
_LEAD_TAGS = frozenset({"p", "h2", "h3", "div", "span", "strong", "em", "b", "section", "header",
                        "blockquote"})  # fmt: skip
_NOT_LEAD_TAGS = _FURNITURE_TAGS | {"figure", "figcaption", "a", "time", "address", "textarea"}
_NOT_LEAD_INSIDE = ("script", "style", "noscript", "template", "time", "textarea", "select",
                    "input", "button", "label")  # fmt: skip
_NOT_LEAD = re.compile(
    r"related|recommend|promo|newsletter|donat|subscri|advert|sponsor|sidebar"
    r"|comment|cookie|banner|widget|author|avatar|logo|menu|breadcrumb|footer|popular"
    r"|trending|masthead|caption|credit|share|social|byline|date|time|tag",
    re.I,
)
_NOT_LEAD_PROP = re.compile(r"author|date|publisher|headline|name", re.I)
_LEAD_LINKED = 0.3  # share of a lead's text that links: more is a list of links
_HEADLINE_TAGS = frozenset({"h1", "h2", "h3"})


def _restore_lead(
    body: Any, order: dict[Any, int], sources: Sources, title: str, tree: HtmlElement, base: str
) -> None:
    """The lead back at the top of ``body``: the text blocks between the page's
    headline and the body's first block that are no site furniture, byline, date,
    caption or the title again."""
    found = _first_block(body, order, sources)
    if found is None:
        return
    anchor, first = found
    elements = list(order)
    start = order[first]
    heading = _headline(elements[max(0, start - _LEAD_SCAN) : start], title)
    if heading is None:
        return
    region = elements[order[heading] + 1 : start]
    # one pass from the end: the boxes that hold a block (their descendants come after
    # them in document order, so before them here); the body's own boxes hold its first
    holds_block = set(first.iterancestors())
    for el in reversed(region):
        if el.tag in BLOCK_TAGS or el in holds_block:
            parent = el.getparent()
            if parent is not None:
                holds_block.add(parent)
    headed = set(heading.iterancestors())
    body_text = _flat("".join(body.itertext()))
    kept: set[str] = set()
    leads: list[Any] = []
    size = 0
    for el in region:
        if el.tag not in _LEAD_TAGS or el in holds_block:
            continue
        if any(a in leads for a in el.iterancestors()):
            continue
        text = clean_text(el.text_content())
        if len(text) < _LEAD_MIN or _key(text) in kept or _says_title(text, title):
            continue
        if _flat(text) in body_text:  # the body holds it already, further down
            continue
        if not _reads_as_lead(el, text, headed):
            continue
        kept.add(_key(text))  # a page may write its lead twice (small and large screens)
        leads.append(el)
        size += len(text)
        if size > _LEAD_MAX:
            return
    # under the headline, above the lead picture, as newspapers set it
    at = next(i for i, c in enumerate(body) if c is anchor or c.tag != "head")
    for i, el in enumerate(leads):
        made = _captioned_picture(el, tree, base)
        if made is None:
            made = etree.Element("p")
            _copy_inline(el, made)
        body.insert(at + i, made)


def _captioned_picture(el: Any, tree: HtmlElement, base: str) -> Any | None:
    """The one picture a lead box holds, or the one right before it in a box of its
    own, as a figure with its caption, when the lead box's text is that caption (a lead
    picture that is no <figure>); else None."""
    imgs = list(el.iter("img"))
    before = _sibling_element(el, preceding=True)
    if not imgs and before is not None and not clean_text(before.text_content()):
        imgs = list(before.iter("img"))
    if len(imgs) != 1:
        return None
    made = _illustration(imgs[0], base, _described(tree, imgs[0]))
    caption = made.find("figcaption") if made is not None else None
    if caption is None or _flat(caption.text or "") != _flat(el.text_content()):
        return None
    return made


def _headline(before: list[Any], title: str) -> Any | None:
    """The article's headline among the elements ``before`` the body: the last heading
    that says the title (pages put the headline in an <h2> or <h3> too, and an <h1>
    around the logo), else the last <h1>."""
    last_h1 = None
    for el in reversed(before):
        if el.tag in _HEADLINE_TAGS and _says_title(clean_text(el.text_content()), title):
            return el
        if last_h1 is None and el.tag == "h1":
            last_h1 = el
    return last_h1


def _first_block(body: Any, order: dict[Any, int], sources: Sources) -> tuple[Any, Any] | None:
    """The body's first text block (no heading, no picture) and the page element it
    came from."""
    for child in body:
        if not isinstance(child.tag, str) or child.tag in ("head", "figure", "graphic"):
            continue
        el = _block_source(sources, child, order, -1)
        if el is not None:
            return child, el
    return None


def _says_title(text: str, title: str) -> bool:
    """``text`` is the title, maybe with a kicker or a site name around it."""
    said, told = " ".join(_words(text)), " ".join(_words(title))
    return bool(told) and told in said and len(said) < 2 * len(told)


def _reads_as_lead(el: Any, text: str, headed: set[Any]) -> bool:
    if next(el.iter(*_NOT_LEAD_INSIDE), None) is not None:
        return False
    linked = sum(len(clean_text(a.text_content())) for a in el.iter("a"))
    if linked > _LEAD_LINKED * len(text):
        return False
    # up to the box the headline shares with it: the article's header, not the page's
    for a in (el, *el.iterancestors()):
        if a.tag in _NOT_LEAD_TAGS:
            return False
        # the article's own box is no furniture whatever its classes say (a CMS lists
        # the post's tags, dates and categories there: "tag-arbeitsrecht")
        hint = marks(a) if a.tag not in _CONTAINERS else ""
        if hint.strip() and _NOT_LEAD.search(hint):
            return False
        if _NOT_LEAD_PROP.search(a.get("itemprop") or ""):
            return False
        if a in headed:
            return True
    return True


# Inline markup read back from the page: links and emphasis.
_INLINE = {
    "b": "#b", "strong": "#b", "i": "#i", "em": "#i", "u": "#u", "code": "#t", "kbd": "#t",
    "tt": "#t", "sub": "#sub", "sup": "#sup",
}  # fmt: skip
_TEXT_BLOCKS = ("p", "head", "item", "cell", "code")
_SKIP_INLINE = frozenset({"script", "style", "noscript", "template", "svg", "button"})


def _rehydrate(body: Any, order: dict[Any, int], sources: Sources) -> None:
    """Links and emphasis of each kept block, read back from the page element it came
    from when both hold exactly the same text (trafilatura keeps the text better
    without its link and formatting modes; nothing it left out can come back)."""
    after = -1
    for block in body.iter(*_TEXT_BLOCKS):
        if any(isinstance(c.tag, str) and c.tag not in ("lb",) for c in block):
            continue  # already holds markup (or nested blocks): leave it
        text = "".join(block.itertext())
        el = _source(sources, text, order, after)
        if el is None:
            continue
        after = order[el]
        if _flat(text) != _flat(el.text_content()) or not _has_inline(el):
            continue
        tail = block.tail
        for child in list(block):
            block.remove(child)
        block.text = None
        _copy_inline(el, block)
        block.tail = tail


def _flat(text: str) -> str:
    return "".join(text.split())  # str.split's whitespace is re's \s (all of Unicode's)


def _has_inline(el: Any) -> bool:
    return any(isinstance(d.tag, str) and (d.tag == "a" or d.tag in _INLINE) for d in el.iter())


def _copy_inline(src: Any, dest: Any, skip: frozenset[str] = frozenset()) -> None:
    """``src``'s text into ``dest`` as trafilatura XML: ref, hi, lb; other tags flatten,
    and those in ``skip`` are left out."""

    def add_text(text: str | None) -> None:
        if not text:
            return
        if len(dest):
            dest[-1].tail = (dest[-1].tail or "") + text
        else:
            dest.text = (dest.text or "") + text

    add_text(src.text)
    for child in src:
        if not isinstance(child.tag, str) or child.tag in _SKIP_INLINE or child.tag in skip:
            add_text(child.tail)
            continue
        if child.tag == "br":
            etree.SubElement(dest, "lb")
        elif child.tag == "a" and child.get("href"):
            _copy_inline(child, etree.SubElement(dest, "ref", target=child.get("href") or ""))
        elif child.tag in _INLINE:
            _copy_inline(child, etree.SubElement(dest, "hi", rend=_INLINE[child.tag]))
        else:
            _copy_inline(child, dest)
        add_text(child.tail)


# A list the page writes between two blocks trafilatura kept, which it dropped (its
# items read to it as a menu: ingredients, pros and cons, steps). Only one written
# as prose comes back: items of 20 characters on average, under a third of its text
# in links, no script, control, date or picture in it, no furniture around it (menus,
# teasers, share bars, slides and tables of contents are lists too). Measured on
# both development sets (bench/EXTRACTION-LOG.md).
_LIST_ITEM_CHARS = 20
_LIST_LINKED = 0.3
_NOT_IN_LISTS = ("script", "button", "form", "input", "select", "time", "nav",
                 "img", "picture", "figure", "video", "iframe")  # fmt: skip


def _restore_lists(body: Any, order: dict[Any, int], sources: Sources) -> None:
    """The prose lists of the page between two kept blocks, back in their place."""
    kept = [  # (start, end, source, block)
        (order[el], _end(el, order), el, child)
        for child, el in _block_sources(body, order, sources)
        if el is not None
    ]
    if len(kept) < 2:
        return
    kept.sort(key=lambda k: k[0])
    starts = [k[0] for k in kept]
    container = _common_ancestor([k[2] for k in kept])
    known = {_flat("".join(b.itertext()))[:_KEY_CHARS] for b in body.iter(*_TEXT_BLOCKS)}
    last: dict[Any, Any] = {}  # a kept block: the list last put after it
    for lst in list(container.iter("ul", "ol")):
        if _in_list(lst, container):
            continue  # a nested list comes back with its outer one
        start, end = order[lst], _end(lst, order)
        at = bisect.bisect_left(starts, start)
        if at == 0 or at == len(kept) or kept[at - 1][1] >= start or starts[at] <= end:
            continue  # not between two kept blocks, or inside one
        items = [li for li in lst if li.tag == "li" and clean_text(li.text_content())]
        if len(items) < 2 or not _reads_as_prose(lst, items, container):
            continue
        keys = [_flat(li.text_content())[:_KEY_CHARS] for li in items]
        if any(k in known for k in keys):
            continue  # kept in part, or written twice (small and large screens)
        restored = _list_copy(lst)
        before = kept[at - 1][3]
        last.get(before, before).addnext(restored)
        last[before] = restored
        known.update(keys)


_LIST_TAGS = frozenset({"ul", "ol"})
_SHARING = re.compile(r"share|social", re.I)  # "Share on": Facebook, X, e-mail


def _restore_sublists(body: Any, tree: HtmlElement) -> None:
    """The list a kept item of the page holds, where trafilatura kept only the item's
    own words (a list of nothing but links reads to it as a menu)."""
    bare = [item for item in body.iter("item") if item.find("list") is None]
    if not bare:
        return
    holders: dict[str, list[Any]] = {}  # an item's own words: the page's items with a list
    for li in tree.iter("li"):
        if any(c.tag in _LIST_TAGS for c in li) and not _in_furniture(li, tree):
            words = _flat(_own_words(li))
            if words:
                holders.setdefault(words, []).append(li)
    if not holders:
        return
    known = {_flat("".join(b.itertext()))[:_KEY_CHARS] for b in body.iter(*_TEXT_BLOCKS)}
    for item in bare:
        found = holders.get(_flat("".join(item.itertext())))
        if not found:
            continue
        li = found.pop(0)
        for lst in (c for c in li if c.tag in _LIST_TAGS):
            items = [c for c in lst if c.tag == "li" and clean_text(c.text_content())]
            keys = [_flat(c.text_content())[:_KEY_CHARS] for c in items]
            if not items or any(k in known for k in keys):
                continue  # kept elsewhere already
            if next(lst.iter(*_NOT_IN_LISTS), None) is not None or _SHARING.search(
                marks(li) + " " + marks(lst)
            ):
                continue
            item.append(_list_copy(lst))
            known.update(keys)


def _own_words(li: Any) -> str:
    """The text of a list item without the lists it holds."""
    parts = [li.text or ""]
    for c in li:
        if c.tag not in _LIST_TAGS:
            parts.append(c.text_content() if isinstance(c.tag, str) else "")
        parts.append(c.tail or "")
    return "".join(parts)


def _list_copy(lst: Any) -> Any:
    """A page's ``<ul>`` or ``<ol>`` as trafilatura XML, the lists it nests nested."""
    copy = etree.Element("list", rend=lst.tag)
    for li in lst:
        if li.tag != "li" or not clean_text(li.text_content()):
            continue
        item = etree.SubElement(copy, "item")
        _copy_inline(li, item, skip=_LIST_TAGS)
        item.extend(_list_copy(sub) for sub in li if sub.tag in _LIST_TAGS)
    return copy


def _in_list(el: Any, scope: Any) -> bool:
    for a in el.iterancestors():
        if a is scope:
            return False
        if a.tag in ("ul", "ol"):
            return True
    return False


def _reads_as_prose(lst: Any, items: list[Any], scope: Any) -> bool:
    text = clean_text(lst.text_content())
    linked = sum(len(clean_text(a.text_content())) for a in lst.iter("a"))
    return (
        len(text) >= _LIST_ITEM_CHARS * len(items)
        and linked <= _LIST_LINKED * len(text)
        and next(lst.iter(*_NOT_IN_LISTS), None) is None
        and not _in_furniture(lst, scope)
    )


# A line that only points to another article of the site: a short label ("Read more:",
# "Lea también:", "Czytaj też:", ">>") and one link whose text is that article's
# headline. Measured on both development sets (bench/EXTRACTION-LOG.md).
_POINTER_BLOCKS = ("p", "head", "quote")
_POINTER_LABEL_WORDS = 4
_HEADLINE_WORDS = 4


def _drop_pointers(
    body: Any, order: dict[Any, int], sources: Sources, base: str, page: set[str], hosts: set[str]
) -> None:
    """Lines that only point to another article of the site, and the summaries of a
    stream of teaser cards."""
    after = -1
    teasers = []
    for child in list(body):
        if not isinstance(child.tag, str):
            continue
        text = "".join(child.itertext())
        el = _source(sources, text, order, after)
        if el is None:
            continue
        after = order[el]
        if child.tag in _POINTER_BLOCKS and _is_pointer(el, text, hosts):
            _drop(child)
        elif child.tag == "p" and _is_teaser(el, base, page, hosts):
            teasers.append(child)
    if len(teasers) >= _TEASER_STREAM:
        for child in teasers:
            _drop(child)


_TEASER_HEADINGS = frozenset({"h2", "h3", "h4"})
# teaser cards come as a stream ("more stories"); one or two linked headings over
# their paragraphs are an article's sections that link to their own pages
_TEASER_STREAM = 3


def _is_teaser(el: Any, base: str, page: set[str], hosts: set[str]) -> bool:
    """A paragraph right under a heading that is only a link to another page of the
    site: the summary of a teaser card, not the article."""
    prev = _sibling_element(el, preceding=True)
    if prev is None or prev.tag not in _TEASER_HEADINGS:
        return False
    links = [a for a in prev.iter("a") if (a.get("href") or "").strip()]
    if len(links) != 1 or _flat(links[0].text_content()) != _flat(prev.text_content()):
        return False
    href = (links[0].get("href") or "").strip()
    if href.startswith("#") or not _same_site(href, hosts):
        return False
    return _page_url(_absolute(href, base)) not in page


def _is_pointer(el: Any, text: str, hosts: set[str]) -> bool:
    links = [a for a in el.iter("a") if (a.get("href") or "").strip()]
    if len(links) != 1 or _flat(text) != _flat(el.text_content()):
        return False
    headline = clean_text(links[0].text_content())
    if len(headline.split()) < _HEADLINE_WORDS or _ADDRESS.match(headline):
        return False
    whole = clean_text(el.text_content())
    at = whole.find(headline)
    if at < 0 or len(whole) - at - len(headline) > 3:
        return False  # text after the link: a sentence that links, not a pointer
    label = whole[:at].strip()
    if not label or len(label.split()) > _POINTER_LABEL_WORDS:
        return False
    if not re.search(r"[:»>|]$", label):
        return False
    return _same_site(links[0].get("href") or "", hosts)


def _site_hosts(base: str, canonical: str | None) -> set[str]:
    hosts = set()
    for u in (base, canonical or ""):
        host = (urlsplit(u).hostname or "") if "://" in u else ""
        if host:
            hosts.add(host.removeprefix("www."))
    return hosts


def _same_site(href: str, hosts: set[str]) -> bool:
    href = href.strip()
    if not re.match(r"(?i)^(?:https?:)?//", href):
        return not re.match(r"(?i)^(?:[a-z][a-z0-9+.-]*:|#)", href)  # a path of this site
    try:
        host = urlsplit(href if "://" in href else "http:" + href).hostname or ""
    except ValueError:
        return False
    return host.removeprefix("www.") in hosts


def _illustrate(
    body: Any,
    tree: HtmlElement,
    base: str,
    order: dict[Any, int],
    sources: Sources,
    authors: tuple[str, ...] = (),
    page_urls: tuple[str, ...] = (),
) -> None:
    """Put the article's images back where the page has them, figures with their
    captions and credits.

    trafilatura keeps the text; the images are read from the page itself: every
    ``<figure>`` and ``<img>`` of the article container (the common ancestor of the
    blocks trafilatura kept, widened to its ``<article>``/``<main>``) that lies before
    the last kept block and not inside site furniture, at its place in document order.
    In a container that is no ``<article>``/``<main>``, from the first kept block on,
    and the last ``<figure>`` before it (the lead picture above the headline).
    """
    blocks = _block_sources(body, order, sources)
    children = [child for child, _el in blocks]
    found = [el for _child, el in blocks]
    origins = [el for el in found if el is not None]
    if not origins:
        return
    container = _common_ancestor(origins)
    page_wide = container.tag in ("html", "body")
    if page_wide and not _written_in(container, origins):
        return  # blocks from all over the page: no part of it is the article's
    widened = (
        next((a for a in container.iterancestors() if a.tag in _CONTAINERS), None)
        if container.tag not in _CONTAINERS
        else container
    )
    first = min(order[el] for el in origins)
    last = max(order[el] for el in origins)
    scope = widened if widened is not None else container
    # inside the page's article element, all of it; else from the first kept block to
    # the end of the last one, and the last figure before them in the box that holds
    # them (a lead picture above the headline)
    lowest, highest = order[scope], _end(scope, order)
    lead_from = None
    if widened is None:
        lowest, highest = first, _end(next(e for e in origins if order[e] == last), order)
        if not page_wide:
            lead_from = order[container]
    lead: tuple[int, Any] | None = None
    placed: list[tuple[int, Any]] = []
    headlined = _Headlines(tree, base, {_page_url(u) for u in (base, *page_urls)})
    shown: dict[tuple[tuple[str, str], ...], int] = {}
    for img in tree.iter("img"):
        key = _picture_key(img)
        shown[key] = shown.get(key, 0) + 1
    described = _described(tree, scope)
    for el in scope.iter("figure", "img"):
        at = order.get(el, -1)
        before = lead_from is not None and lead_from <= at < lowest and el.tag == "figure"
        if not (before or lowest <= at <= highest) or _in_furniture(el, scope, headlined):
            continue
        if el.tag == "img" and _portrait_of(el, authors):
            continue
        if el.tag == "img" and _repeated(el, shown):
            continue
        if el.tag == "img" and next(el.iterancestors("figure"), None) is not None:
            continue  # its figure speaks for it
        made = _illustration(el, base, described)
        if made is not None and before:
            lead = (at, made)  # the last such figure is the one nearest the text
        elif made is not None:
            placed.append((at, made))
    if lead is not None:
        placed.append(lead)
    if not placed:
        return
    captions = {_key("".join(f.itertext())) for _, f in placed if f.tag == "figure"} - {""}
    if _key(body.text or "") in captions:
        body.text = None  # the caption trafilatura kept as loose text
    positions = []
    for child, el in zip(children, found, strict=True):
        if el is not None:
            positions.append(order[el])
        else:
            positions.append(positions[-1] if positions else -1)
        if _key(child.tail or "") in captions:
            child.tail = None
        if captions and _key("".join(child.itertext())) in captions:
            _drop(child)  # the caption trafilatura kept as a paragraph
    # the first child whose position is past the picture's: the first whose running
    # maximum is (one bisection, not a scan per picture)
    reached = list(itertools.accumulate(positions, max))
    # in document order: pictures before the same block, or after the last one, keep
    # the page's order among themselves
    for at, made in sorted(placed, key=lambda p: p[0]):
        index = bisect.bisect_right(reached, at)
        # the block itself, or the next one still there (a caption paragraph went)
        following = itertools.islice(children, index, None)
        anchor = next((c for c in following if c.getparent() is body), None)
        if anchor is not None:
            anchor.addprevious(made)
        else:
            body.append(made)


def _source(sources: Sources, text: str, order: dict[Any, int], after: int) -> Any:
    """The page element a kept block came from: the first with its text after the
    previous block's (pages repeat paragraphs), else the first."""
    candidates = sources.get(_key(text))
    if not candidates:
        return None
    # in document order: found by bisection (a page may repeat a paragraph many times)
    at = bisect.bisect_right(candidates, after, key=order.__getitem__)
    return candidates[at] if at < len(candidates) else candidates[0]


def _block_sources(body: Any, order: dict[Any, int], sources: Sources) -> list[tuple[Any, Any]]:
    """Each block of ``body`` with the page element it came from (None where none is
    found), each looked for after the one found before it."""
    placed = []
    after = -1
    for child in body:
        if not isinstance(child.tag, str):
            continue
        el = _block_source(sources, child, order, after)
        placed.append((child, el))
        if el is not None:
            after = order[el]
    return placed


def _block_source(sources: Sources, block: Any, order: dict[Any, int], after: int) -> Any:
    """The page element a kept block of the body came from, as ``_source`` finds it;
    for a list, a quote or a table, the element its first block came from."""
    el = _source(sources, "".join(block.itertext()), order, after)
    if el is None and len(block):
        el = _source(sources, "".join(block[0].itertext()), order, after)
    return el


def _end(el: Any, order: dict[Any, int]) -> int:
    """Document position of the last element inside ``el``."""
    last = el
    while len(last):
        last = last[-1]
    return order.get(last, order[el])


def _common_ancestor(elements: list[Any]) -> Any:
    path = [elements[0], *elements[0].iterancestors()]
    depth = {id(a): i for i, a in enumerate(path)}
    best = 0
    for el in elements[1:]:
        for a in (el, *el.iterancestors()):
            if id(a) in depth:
                best = max(best, depth[id(a)])
                break
    return path[best]


def _written_in(page: Any, blocks: list[Any]) -> bool:
    """Most of the kept blocks are children of the page's ``<body>`` (or ``<html>``)
    itself: a page that writes its article there, with no box around it."""
    return 2 * sum(1 for el in blocks if el.getparent() is page) >= len(blocks)


class _Headlines:
    """The page's links that have words of their own (a headline), by target: a
    picture linked to one of these targets is a teaser. Links to the page itself and
    the links of a caption are not headlines (looked at only for the targets asked)."""

    def __init__(self, tree: HtmlElement, base: str, page: set[str]) -> None:
        self._links: dict[str, list[Any]] = {}
        for a in tree.iter("a"):
            href = (a.get("href") or "").strip()
            if href and not href.startswith("#") and len(a.text_content().split()) >= 2:
                self._links.setdefault(href, []).append(a)
        self._base, self._page = base, page
        self._known: dict[str, bool] = {}

    def __contains__(self, href: str) -> bool:
        if href not in self._links:
            return False
        if href not in self._known:
            self._known[href] = _page_url(_absolute(href, self._base)) not in self._page and any(
                next(a.iterancestors("figcaption"), None) is None for a in self._links[href]
            )
        return self._known[href]


def _in_furniture(el: Any, scope: Any, headlined: _Headlines | None = None) -> bool:
    for a in (el, *el.iterancestors()):
        if a is scope:
            return False
        if a.tag in _FURNITURE_TAGS:
            return True
        if a.tag == "a" and a is not el and clean_text(a.text_content()):
            return True  # a picture inside a link with a headline: a teaser
        if a.tag == "a" and headlined is not None and (a.get("href") or "").strip() in headlined:
            return True  # a picture linked where a headline links: a teaser too
        hint = marks(a)
        if hint.strip() and _FURNITURE.search(hint):
            return True
    return False


def _page_url(url: str | None) -> str:
    return (url or "").split("#", 1)[0].rstrip("/")


# A picture the page shows this often is the site's (a logo, an icon, a banner, a
# spacer), unless it sits in a sentence (a formula, a symbol).
_SHOWN_OFTEN = 3
_NOT_THE_PICTURE = frozenset({"alt", "title", "id", "class", "style"})


def _picture_key(img: Any) -> tuple[tuple[str, str], ...]:
    """What says which picture an <img> shows: its source attributes, lazy-loading
    ones included (lazy pictures share a placeholder ``src``)."""
    return tuple(sorted((k, v) for k, v in img.items() if k not in _NOT_THE_PICTURE))


def _repeated(img: Any, shown: dict[tuple[tuple[str, str], ...], int]) -> bool:
    if not img.get("src") or shown.get(_picture_key(img), 0) < _SHOWN_OFTEN:
        return False
    block = next(img.iterancestors(*_SOURCE_BLOCKS), None)
    return block is None or not clean_text(block.text_content())


def _portrait_of(img: Any, authors: tuple[str, ...]) -> bool:
    """An image whose alt text is the name of the article's author: their avatar,
    not a picture of the article."""
    alt = _words(img.get("alt") or "")
    return bool(alt) and any(alt == _words(a) for a in authors)


def _words(text: str) -> list[str]:
    # soft hyphens are hyphenation hints inside a word ("Sche\u00adma\u00adtisch")
    return re.findall(r"\w+", text.replace("\u00ad", "").casefold())


def _illustration(el: Any, base: str, described: dict[str, Any]) -> Any | None:
    """trafilatura-style XML for one image or figure, or None when it holds no image
    (``described``: the captions images name, by id)."""
    imgs = [el] if el.tag == "img" else list(el.iter("img"))
    # the picture a reader without script sees first: the others of its figure are
    # placeholders a script replaces (a blurred thumbnail, an empty frame)
    imgs.sort(key=lambda img: img.get(NOSCRIPT_PICTURE) is None)
    graphic = None
    for img in imgs:
        if _tiny(img):
            continue
        src = image_source(img, base, page=True)
        if src:  # the same picture twice in an article shows twice, as on the page
            graphic = etree.Element("graphic", src=src, alt=clean_text(img.get("alt") or ""))
            if (img.get("aria-hidden") or "").strip().lower() == "true":
                graphic.set("aria-hidden", "true")
            break
    if graphic is None and el.tag == "figure":
        src = _named_picture(el, base)
        graphic = etree.Element("graphic", src=src, alt="") if src else None
    if graphic is None:
        return None
    if el.tag == "img":
        cap = described.get(_described_by(el))
        if cap is None:
            cap = _caption_after(el)
        if cap is None:
            return graphic
    else:
        cap = el.find(".//figcaption")
        if cap is None:  # a caption written right after its figure
            cap = _sibling_element(el)
            cap = cap if cap is not None and cap.tag == "figcaption" else None
    figure = etree.Element("figure")
    figure.append(graphic)
    # spans of caption and credit often touch: join their texts with a space
    text = clean_text(" ".join(cap.itertext())) if cap is not None else ""
    if text and len(text) <= _MAX_CAPTION:
        etree.SubElement(figure, "figcaption").text = text
    return figure


# A caption a page writes as the element right after its picture, named so by its class
# ("media-caption", "image-caption", "wp-caption-text", "photo-credit")
_CAPTION_CLASS = re.compile(r"caption|credit", re.I)
_WRAPPER_DEPTH = 4  # elements around a picture that hold nothing else
_ALT_CAPTION_WORDS = 3
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")


def _caption_after(img: Any) -> Any | None:
    """The caption written right after ``img`` or after the elements that only wrap it,
    or None."""
    el = img
    for _ in range(_WRAPPER_DEPTH):
        nxt = _sibling_element(el)
        if nxt is not None and nxt.tag == "br":
            return _line_after(el, nxt)
        if nxt is not None:
            return nxt if _captions(nxt, img) else None
        parent = el.getparent()
        if parent is None or (parent.text or "").strip() or (el.tail or "").strip():
            return None
        # the parent holds nothing more than the picture (a <picture>'s sources are it)
        if [c for c in parent if isinstance(c.tag, str) and c.tag != "source"] != [el]:
            return None
        el = parent
    return None


def _line_after(picture: Any, br: Any) -> Any | None:
    """The caption a page writes as the line under its picture, in italics, to the end
    of the paragraph (``<img><br><em>Photo: ...</em></p>``), or None."""
    cap = _sibling_element(br)
    if cap is None or cap.tag not in ("em", "i") or _sibling_element(cap) is not None:
        return None
    loose = (picture.tail, br.tail, cap.tail)
    return None if any((text or "").strip() for text in loose) else cap


def _captions(el: Any, img: Any) -> bool:
    """``el``, written right after the picture ``img``, is its caption: a <figcaption>,
    named a caption or credit by its class, or a plain text (no heading, no link: a
    card's title, a shop's or a download's button) that opens with the picture's alt
    text of three words or more (a caption the page also wrote into the alt)."""
    if next(el.iter("img"), None) is not None:
        return False
    named = f"{el.get('class') or ''} {el.get('id') or ''}"
    if el.tag == "figcaption" or _CAPTION_CLASS.search(named):
        return True
    alt = _words(img.get("alt") or "")
    if len(alt) < _ALT_CAPTION_WORDS or next(el.iter("a", *_HEADINGS), None) is not None:
        return False
    return _words(el.text_content())[: len(alt)] == alt


def _described_by(img: Any) -> str:
    """The id of the caption an image names with ``aria-describedby`` (WordPress
    writes every captioned image so, with the caption in a <p> beside it, not a
    <figure>), or ""."""
    ids = (img.get("aria-describedby") or "").split()
    return ids[0] if ids else ""


def _described(tree: HtmlElement, scope: Any) -> dict[str, Any]:
    """The captions the images of ``scope`` name, by id: one pass over the page, not
    one search per image."""
    wanted = {_described_by(img) for img in scope.iter("img")} - {""}
    if not wanted:
        return {}
    found: dict[str, Any] = {}
    for el in tree.iter():
        name = el.get("id") if isinstance(el.tag, str) else None
        if name in wanted:
            found.setdefault(name, el)
    return found


_IMAGE_OBJECT = re.compile(r"(?:^|/)ImageObject$")
_IMAGE_URL_PROPS = frozenset({"url", "contentUrl", "contentURL"})


def _named_picture(figure: Any, base: str) -> str | None:
    """The picture of a figure that holds no <img> (a script loads it), as the page
    names it in schema.org microdata: an ImageObject's ``itemid``, ``url`` or
    ``contentUrl``."""
    obj = next(
        (o for o in figure.iter() if _IMAGE_OBJECT.search(o.get("itemtype") or "")), None
    )  # the first one only: each is read once, however they nest
    if obj is None:
        return None
    named = [obj.get("itemid")] + [
        p.get("content") or p.get("href") or p.get("src")
        for p in obj.iter()
        if isinstance(p.tag, str) and p.get("itemprop") in _IMAGE_URL_PROPS
    ]
    for value in named:
        src = page_image_url(value, base) if value else None
        if src:
            return src
    return None


def _sibling_element(el: Any, *, preceding: bool = False) -> Any | None:
    """The element right after ``el`` (or before it), comments and the like aside."""
    return next(el.itersiblings(etree.Element, preceding=preceding), None)


def _tiny(img: Any) -> bool:
    """An icon (both sides declared small) or a spacer or tracker (one side a sliver)."""
    sides = []
    for name in ("width", "height"):
        value = (img.get(name) or "").strip().removesuffix("px")
        sides.append(int(value) if value.isdigit() and int(value) > 0 else None)  # 0: unset
    if any(s is not None and s <= _SLIVER for s in sides):
        return True
    return all(s is not None and s < _MIN_SIDE for s in sides)


def _markdown(body: Any) -> str:
    """article.md: the body as plain Markdown blocks (see the module doc)."""
    blocks: list[str] = []
    _md_children(body, blocks)
    text = "\n\n".join(b for b in blocks if b.strip())
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"
    return one_spelling(text)


def one_spelling(text: str) -> str:
    """article.md's spelling of a text, so that a search for its words finds them
    whichever form the page used: composed characters (NFC, as the Web writes them),
    and no soft hyphens ("Ita\u00adli\u00adens": hyphenation hints for a browser,
    which the reader page keeps, but in plain text they cut every word they mark)."""
    return unicodedata.normalize("NFC", text.replace("\u00ad", ""))


_MD_BLOCKS = frozenset(
    {"p", "head", "list", "quote", "table", "graphic", "figure", "div", "code", "item", "note"}
)
_MD_LEAD = re.compile(r"^(\s*)([#>])")


def _md_children(el: Any, out: list[str]) -> None:
    """Blocks of ``el``'s children; loose text between them is a paragraph."""
    loose: list[str] = [el.text or ""]

    def flush() -> None:
        para = _md_line("".join(loose))
        if para:
            out.append(para)
        loose.clear()

    for child in el:
        if not isinstance(child.tag, str):
            loose.append(child.tail or "")
            continue
        if child.tag == "lb":
            loose.append("\n")
        elif _is_block(child) or _has_block(child):
            flush()
            _md_block(child, out)
        else:
            loose.append(_md_inline(child, out))
        loose.append(child.tail or "")
    flush()


def _is_block(el: Any) -> bool:
    if el.tag == "code":  # a code block stands alone; code inside running text is inline
        parent = el.getparent()
        return parent is None or parent.tag in ("body", "div", "quote")
    return el.tag in _MD_BLOCKS


def _has_block(el: Any) -> bool:
    return any(isinstance(c.tag, str) and c.tag != "graphic" and _is_block(c) for c in el)


def _md_block(el: Any, out: list[str]) -> None:
    tag = el.tag
    if tag == "head":
        rend = el.get("rend") or "h2"
        level = int(rend[1]) if re.fullmatch(r"h[1-6]", rend) else 2
        text = _md_line(_md_inline(el, out, images=False))
        if text:
            out.append("#" * level + " " + text)
    elif tag == "list":
        ordered = el.get("rend") == "ol"
        lines = []
        for n, item in enumerate((c for c in el if c.tag == "item"), start=1):
            inner: list[str] = []
            _md_children(item, inner)
            body = "\n".join(inner).replace("\n", "\n   " if ordered else "\n  ")
            lines.append(f"{n}. {body}" if ordered else f"- {body}")
        if lines:
            out.append("\n".join(lines))
    elif tag == "quote":
        inner = []
        _md_children(el, inner)
        if inner:
            out.append("\n>\n".join("> " + b.replace("\n", "\n> ") for b in inner))
    elif tag == "table":
        rows = []
        # trafilatura's rows, or a table it copied as the page wrote it (one inside a
        # paragraph keeps its HTML rows)
        for row in el.iter("row", "tr"):
            # a Markdown row is one line: a cell's line breaks and blocks become spaces
            cells = [
                _md_line(_md_inline(c, out, images=False)).replace("\n", " ").replace("|", "\\|")
                for c in row
            ]
            rows.append("| " + " | ".join(cells) + " |")
            if len(rows) == 1:
                rows.append("|" + " --- |" * max(1, len(cells)))
        if rows:
            out.append("\n".join(rows))
    elif tag in ("graphic", "figure"):
        line = _md_image(el)
        if line:
            out.append(line)
    elif tag == "code":
        text = _code_text(el).strip("\n")
        if text.strip():
            out.append("```\n" + text + "\n```")
    else:  # p, div, item, note and unknown blocks
        _md_children(el, out)


def _md_inline(el: Any, out: list[str], *, images: bool = True) -> str:
    """Text of an inline element; its images become lines of their own in ``out``."""
    parts = [el.text or ""]
    for child in el:
        if isinstance(child.tag, str):
            if child.tag == "lb":
                parts.append("\n")
            elif child.tag == "graphic":
                line = _md_image(child) if images else ""
                if line:
                    out.append(line)
            elif _is_block(child):  # a paragraph inside a cell or a heading: its own line
                parts.append("\n" + _md_inline(child, out, images=images) + "\n")
            else:
                parts.append(_md_inline(child, out, images=images))
        parts.append(child.tail or "")
    return "".join(parts)


def _code_text(el: Any) -> str:
    """A code block's text with its line breaks (``lb``) as newlines."""
    parts = [el.text or ""]
    for child in el:
        if isinstance(child.tag, str):
            parts.append("\n" if child.tag == "lb" else _code_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _md_line(text: str) -> str:
    lines = [" ".join(line.split()) for line in text.split("\n")]
    text = "\n".join(line for line in lines if line)
    # a paragraph that starts like a heading or a quote must not become one
    return _MD_LEAD.sub(r"\1\\\2", text)


def _md_image(el: Any) -> str:
    """``*alt — caption*`` for an image or a figure (see _describe_images)."""
    line = el.get("line")
    return line if line is not None else _image_line(el, "")


# What an image line says: the alt text and the caption, each only when it tells the
# reader something. An alt that is a file name, an address, a generic word ("image",
# "photo 3", "Image for post"), or the article's title again, says nothing the page
# does not say; an alt the caption already holds is written once.
_GENERIC_ALT = frozenset(
    {
        "image", "images", "img", "photo", "photos", "photograph", "picture", "pictures",
        "pic", "pics", "thumbnail", "thumb", "logo", "icon", "screenshot", "screen", "shot",
        "banner", "avatar", "graphic", "illustration", "placeholder", "featured", "header",
        "cover", "post", "untitled", "default", "foto", "fotos", "bild", "bilder", "imagen",
        "imagem", "immagine", "grafik", "abbildung", "zdjęcie", "for", "of", "the", "a", "an",
    }
)  # fmt: skip
_FILE_NAME = re.compile(r"^\S+\.(?:jpe?g|png|gif|webp|svg|avif|bmp|tiff?|heic)$", re.I)
_ADDRESS = re.compile(r"^(?:https?://|www\.)\S*$", re.I)
_MARKUP = re.compile(r"<[^>]*>")


def _describe_images(body: Any, title: str) -> None:
    """The image line of each image and figure of ``body`` (set as its ``line``); an
    image line that only repeats an earlier one is left out (the image stays)."""
    seen: set[str] = set()
    text_pairs = _word_pairs(" ".join(body.itertext()))
    for el in body.iter("figure", "graphic"):
        if el.tag == "graphic" and next(el.iterancestors("figure"), None) is not None:
            continue
        line = _image_line(el, title, text_pairs)
        if line in seen:
            line = ""
        seen.add(line)
        el.set("line", line)


def _image_line(el: Any, title: str, text_pairs: frozenset[tuple[str, str]] = frozenset()) -> str:
    img = el if el.tag == "graphic" else el.find(".//graphic")
    alt = clean_text(img.get("alt") or img.get("title") or "") if img is not None else ""
    alt = _useful_alt(alt, title)
    # an alt the text already tells, or the alt of a picture the page hides from screen
    # readers (MediaWiki's formulas: TeX, beside the MathML that is read), tells nothing
    if _already_told(alt, text_pairs) or (img is not None and img.get("aria-hidden") == "true"):
        alt = ""
    cap = el.find("figcaption") if el.tag == "figure" else None
    caption = clean_text("".join(cap.itertext())) if cap is not None else ""
    if alt and caption:  # the same words twice: once (punctuation and case aside)
        said, told = " ".join(_words(alt)), " ".join(_words(caption))
        if said in told:
            alt = ""
        elif told in said:
            caption = ""
    text = " — ".join(x for x in (alt, caption) if x).replace("*", "\\*")
    return f"*{text}*" if text else ""


# An alt text that repeats what the text around the image says is redundant (W3C's
# alt decision tree: "the text alternative would repeat nearby text"); a photo essay's
# alts retell its captions. Judged on word pairs, so that "back yard" for "backyard"
# or a changed comma still reads as the same sentence, and only for alts long enough
# to be a sentence.
_ALT_TOLD = 0.8  # share of an alt's word pairs the text holds
_ALT_TOLD_PAIRS = 3  # an alt of at least four words


def _word_pairs(text: str) -> frozenset[tuple[str, str]]:
    return frozenset(itertools.pairwise(_words(text)))


def _already_told(alt: str, text_pairs: frozenset[tuple[str, str]]) -> bool:
    pairs = list(itertools.pairwise(_words(alt)))
    if len(pairs) < _ALT_TOLD_PAIRS:
        return False
    return sum(p in text_pairs for p in pairs) >= _ALT_TOLD * len(pairs)


def _useful_alt(alt: str, title: str) -> str:
    alt = clean_text(_MARKUP.sub(" ", alt)) if "<" in alt else alt
    if not alt or _FILE_NAME.match(alt) or _ADDRESS.match(alt):
        return ""
    if " " not in alt and ("_" in alt or alt.count("-") >= 2):
        return ""  # a slug: a file name without its extension
    words = _words(alt)
    if all(w in _GENERIC_ALT or w.isdigit() for w in words):
        return ""
    # "Image: <the title>", "<the title> 1"
    while words and (words[0] in _GENERIC_ALT or words[0].isdigit()):
        words.pop(0)
    while words and (words[-1] in _GENERIC_ALT or words[-1].isdigit()):
        words.pop()
    if words == _words(title):
        return ""
    return alt


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
            try:
                el.tag = _HTML_TAGS.get(tag, tag)
            except ValueError:  # a name libxml2 read from broken markup ("html!lang")
                el.tag = "div"
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
    return _RESOLVE(ref, base)


def _resolve(ref: str, base: str) -> str | None:
    try:
        absolute = urljoin(base, ref)
    except ValueError:
        return None
    return absolute if urlsplit(absolute).scheme in ("http", "https") else None


_RESOLVE = CachedCheck(_resolve)  # pages repeat the same links (navigation, footnotes)


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
