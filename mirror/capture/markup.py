"""A page's markup read into a tree, all of it: the one parser every page goes through.

libxml2, lxml's HTML parser, is fast and forgiving, but a few things a browser reads
without trouble make it drop part of a page, or all of it, without an error:

* characters XML cannot hold (C0 controls, raw or as character references) made
  trafilatura's tree building fail, and the page "had no text";
* void elements it does not know as void (``<embed>``, ``<source>``...) swallow all
  that follows them, and so does an ``<svg>`` or ``<math>`` left open (trafilatura
  then deletes it with the rest of the article), or an anchor with no address left
  open (trafilatura takes what it holds for link text);
* a heading closed with another level's end tag (``<h2>...</h3>``) stays open and
  holds the rest of the page (a browser ends it at that tag);
* a self-closing ``<html/>`` empties the document, a ``<body/>`` (or ``<head/>``) and
  a ``</body>`` before the end put what follows outside the body, a ``</html>`` drops
  it (a browser reads all of them as if the slash, or the tag, were not there);
* past 256 levels of nesting it stops reading and keeps only what came before; broken
  pages do nest that deep (a ``<font>`` or ``<div>`` opened in a loop and never
  closed);
* AMP pages write their pictures as ``<amp-img>``, which only AMP's script shows;
* a picture a script loads is written as an ``<img>`` with a placeholder (or nothing)
  for its source, and a ``<noscript>`` right after it holds the real one, which is
  what a reader without script sees; each such pair is read as one ``<img>`` with the
  copy's source (a blurred thumbnail had been the article's picture, on Medium);
* and a text node of nothing but zero-width characters (``&#8203;`` between two
  boxes, an editor's ``<p>&#8203;</p>``) is blank to a reader but text to an
  extractor: it became a paragraph of its own, and it stood between a picture and its
  caption, or before the heading that repeats the title.

:func:`parse_page` repairs each before or after parsing. A page nested past the limit
is read again without the start and end tags of every element but the article's
own (``<article>``, ``<main>``), paragraphs, list items, links, figures with their
images and captions, line breaks, and the elements whose text is no page text
(scripts, styles, templates...): its words stay, its boxes and styling go. A page
nested deeper still is refused: what it would keep is a guess. The limit stays
libxml2's: code that walks a page's tree may recurse (Python's limit is 1,000), and
nh3's HTML5 parser is quadratic in nesting (100,000 levels: 34 s).

A ``<template>`` holds markup a script may stamp out later, and a browser shows none of
it; libxml2 reads it as any box. :func:`drop_templates` takes templates out for the
extractor, which had read their text as article text (and moved its choice of the
article); the tree keeps them for the sanitizer, which removes them itself and counts
them in the provenance record of what it removed.
"""

from __future__ import annotations

import re

import lxml.html
from lxml import etree
from lxml.html import HtmlElement

from mirror.errors import UsageError

__all__ = [
    "BLOCK_TAGS",
    "LAZY_SRCSET_ATTRS",
    "LAZY_SRC_ATTRS",
    "MAX_NESTING",
    "NOSCRIPT_PICTURE",
    "drop_templates",
    "parse_fragment",
    "parse_page",
]

MAX_NESTING = 256  # libxml2's limit

# C0 controls (but tab, newline, carriage return), DEL and the two non-characters:
# XML cannot hold them. Form feed reads as a space.
_CONTROLS = tuple(
    chr(c) for c in (*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F, 0xFFFE, 0xFFFF)
)
_CONTROL = re.compile("[" + re.escape("".join(_CONTROLS)) + "]")
# Character references to those same characters only (decimal 0-8, 11, 12, 14-31, 127,
# 65534, 65535; hex the same), so that the thousands of "&#8217;" a page may hold
# never reach a Python callback. &#12; (form feed) is a space, as in a browser.
_CONTROL_REF = re.compile(
    r"&#(?:0*(?:(?P<ff>12)|[0-8]|1[14-9]|2[0-9]|3[01]|127|6553[45])(?![0-9])"
    r"|[xX]0*(?:(?P<xff>[cC])|[0-8bBeEfF]|1[0-9a-fA-F]|7[fF]|[fF]{3}[eEfF])(?![0-9a-fA-F]));?"
)
# libxml2 reads <html/>, <head/> and <body/> as the element's end; a browser ignores the
# slash (only void elements close themselves)
_SELF_CLOSED = re.compile(r"(<(?:html|head|body)\b[^<>]*?)\s*/>", re.I)
_DOCUMENT_END = re.compile(r"</(?:body|html)\s*>", re.I)  # the parser closes both at the end
# A heading closed with another level's end tag ("<h2>...</h3>"): a browser ends the
# open heading there, libxml2 ignores the tag and the heading holds the rest of the page
_HEADING_TAG = re.compile(r"<(/?)h([1-6])\b", re.I)
# Read again past the limit without these tags, but for the ones named here
_FLATTENED = re.compile(
    r"</?(?!(?:html|head|body|title|meta|link|base|script|style|template|textarea|"
    r"article|main|p|li|a|br|hr|figure|figcaption|picture|img|source|wbr)\b)"
    r"[a-z][\w:-]*\b[^<>]*>",
    re.I,
)
_TOO_DEEP = "Excessive depth"


def _strip_controls(html: str) -> str:
    """``html`` without the characters (raw or as character references) XML refuses."""
    # regexes, not str.translate: this runs over every page (measured: translate with
    # a table took a sixth of the extraction time on the Readability pages); and a
    # substring test for each character first, three times faster than the regex's scan
    if any(c in html for c in _CONTROLS):
        html = _CONTROL.sub(lambda m: " " if m.group(0) == "\x0c" else "", html)
    if "&#" not in html or not _CONTROL_REF.search(html):
        return html
    return _CONTROL_REF.sub(lambda m: " " if m.group("ff") or m.group("xff") else "", html)


def parse_page(html: str) -> HtmlElement | None:
    """The document tree of ``html`` (its ``<html>`` element), or None when it does
    not parse. Raises UsageError for a page nested deeper than MAX_NESTING levels
    even without its boxes' tags."""
    text = _DOCUMENT_END.sub("", _SELF_CLOSED.sub(r"\1>", _strip_controls(html)))
    text = _matched_headings(text)
    tree, too_deep = _parse(text)
    if too_deep:
        tree, too_deep = _parse(_FLATTENED.sub(" ", text))
        if too_deep:
            raise UsageError(f"the page nests its markup deeper than {MAX_NESTING:,} levels")
    if tree is not None:
        _unnest(tree)
        _amp_pictures(tree)
        _noscript_pictures(tree)
        if any(c in text for c in _INVISIBLE) or _INVISIBLE_REF.search(text):
            _blank_invisible(tree)
    return tree


def _matched_headings(html: str) -> str:
    """``html`` with each heading's end tag of its own level, as a browser pairs them:
    an end tag of any level ends the heading that is open."""
    pieces: list[str] = []
    done, open_level = 0, ""
    for m in _HEADING_TAG.finditer(html):
        closing, level = m.group(1), m.group(2)
        if not closing:
            open_level = level
        elif open_level:
            if level != open_level:
                pieces += [html[done : m.start(2)], open_level]
                done = m.end(2)
            open_level = ""
    return "".join(pieces) + html[done:] if pieces else html


def parse_fragment(html: str) -> HtmlElement:
    """``html``, a part of a page, as the children of one ``<div>``."""
    doc = parse_page(html)
    body = doc.find("body") if doc is not None else None
    div = lxml.html.Element("div")
    if body is not None:
        div.text = body.text
        div.extend(list(body))
    return div


# HTML's elements that make a block of their own (what ends a line of text, starts a
# paragraph, or boxes others): for the walks that read a page's text by its blocks
BLOCK_TAGS = frozenset(
    {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "table", "section",
     "header", "figure", "blockquote", "article", "aside", "nav", "footer", "form"}
)  # fmt: skip


# Every element an HtmlElement, chosen in C: lxml.html's own lookup is a Python call
# for each element a walk touches (a form's parts get their own classes there, which
# nothing here uses): extraction is about 5% faster without it.
_ELEMENT_CLASSES = etree.ElementDefaultClassLookup(
    element=lxml.html.HtmlElement,
    comment=lxml.html.HtmlComment,
    pi=lxml.html.HtmlProcessingInstruction,
    entity=lxml.html.HtmlEntity,
)


def _parse(text: str) -> tuple[HtmlElement | None, bool]:
    """(the tree, whether libxml2 stopped at its nesting limit)."""
    # a parser per call: an lxml parser must not serve two threads at once
    parser = lxml.html.HTMLParser(
        encoding="utf-8",
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
        default_doctype=False,
    )
    parser.set_element_class_lookup(_ELEMENT_CLASSES)
    try:
        tree = lxml.html.document_fromstring(
            (text or "<html></html>").encode("utf-8", "replace"), parser=parser
        )
    except (etree.ParserError, ValueError):
        return None, False
    return tree, any(_TOO_DEEP in e.message for e in parser.error_log)


# Void elements libxml2's HTML parser does not know as void: it nests everything that
# follows them inside, and trafilatura then deletes <embed>, <source>... with all that
# content (one <embed> lost every later link and image).
_VOIDS = ("embed", "source", "track", "param", "wbr", "keygen")


# An <svg> or <math> left open: a browser ends it at the first HTML block that follows
# (HTML's "breakout" elements); libxml2 nests the rest of the page inside it, and
# trafilatura deletes <svg> and <math> with all of it. One that holds such blocks is
# read as a box.
_FOREIGN = ("svg", "math")
_OPEN_ANCHOR = 3  # paragraphs
_BREAKOUT = frozenset(
    {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "dl", "li", "table",
     "blockquote", "pre", "figure", "section", "article", "img", "br", "hr", "center"}
)  # fmt: skip


# AMP pages write their pictures as <amp-img> (<amp-anim> for animations), shown by
# AMP's script: with no script, a reader page, an extractor or a sanitizer sees none.
# Each is read as the <img> it stands for; what it holds is its placeholder or its
# <noscript> fallback, the same picture again.
_AMP_PICTURES = ("amp-img", "amp-anim")


def _amp_pictures(tree: HtmlElement) -> None:
    for el in list(tree.iter(*_AMP_PICTURES)):
        for child in list(el):
            el.remove(child)  # tails too: an <img> holds no text
        el.text = None
        el.tag = "img"


# Where the pages' lazy-loading scripts keep a picture's real source
LAZY_SRC_ATTRS = ("data-src", "data-original", "data-lazy-src", "data-hi-res-src", "data-url")
LAZY_SRCSET_ATTRS = ("data-srcset", "data-lazy-srcset", "srcset")
# Marks an <img> that took its source from the <noscript> copy after it
NOSCRIPT_PICTURE = "data-mirror-noscript"
_COPY_IF_MISSING = ("alt", "width", "height", "title")
_SHOWN_SOURCES = ("src", "srcset", "sizes")
_SOURCES = (*_SHOWN_SOURCES, *LAZY_SRC_ATTRS, *LAZY_SRCSET_ATTRS)


def _noscript_pictures(tree: HtmlElement) -> None:
    """Each ``<img>`` followed by a ``<noscript>`` that holds a picture is that picture,
    as a browser without script shows it: the ``<noscript>`` goes, the ``<img>`` takes
    its sources, and its alt text and size when it has none."""
    for ns in list(tree.iter("noscript")):
        copy = next(ns.iter("img"), None)
        img = ns.getprevious()
        if copy is None or img is None or img.tag != "img" or img.get(NOSCRIPT_PICTURE) is not None:
            continue
        if any((copy.get(side) or "").strip() in ("0", "1") for side in ("width", "height")):
            continue  # a tracking pixel for readers without script, not this picture
        taken: tuple[str, ...] = _COPY_IF_MISSING
        if any(copy.get(name) for name in _SOURCES):
            # what the image shows before its script runs is a placeholder (a blur, a
            # pixel, nothing); the sources only the script reads stay, and are read
            # first (they often hold more sizes than the copy)
            for name in _SHOWN_SOURCES:
                img.attrib.pop(name, None)
            taken = (*_SOURCES, *_COPY_IF_MISSING)
        for name in taken:
            value = copy.get(name)
            if value and not img.get(name):
                img.set(name, value)
        img.set(NOSCRIPT_PICTURE, "")
        ns.drop_tree()  # its tail stays


def drop_templates(tree: HtmlElement) -> None:
    """Each ``<template>`` out, what it holds with it; but a declarative shadow root
    (``shadowrootmode``), which a browser shows in place, is read as its contents."""
    for el in list(tree.iter("template")):
        if el.get("shadowrootmode") is not None or el.get("shadowroot") is not None:
            el.drop_tag()
        else:
            el.drop_tree()  # its tail stays


# Zero-width space, non-joiner, joiner, word joiner, zero-width no-break space, raw or
# as references. Substring tests and a regex that starts with a literal "&": one class
# of all five characters and the references took half the time of parsing the page.
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"
_INVISIBLE_REF = re.compile(
    r"&(?:#(?:820[345]|8288|65279|[xX]0*(?:200[bBcCdD]|2060|[fF][eE][fF][fF]))"
    r"|ZeroWidthSpace|zwn?j|NoBreak)"
)
_BLANK = " \t\n\r\f" + _INVISIBLE
_INVISIBLE_OUT = dict.fromkeys(map(ord, _INVISIBLE))


def _blank_invisible(tree: HtmlElement) -> None:
    """Text and tails of only white space and zero-width characters made white space
    (within words those characters stay: Persian and Hindi spell with the joiners)."""
    for el in tree.iter():
        if el.text and not el.text.strip(_BLANK) and not el.text.isspace():
            el.text = _without_invisible(el.text)
        if el.tail and not el.tail.strip(_BLANK) and not el.tail.isspace():
            el.tail = _without_invisible(el.tail)


def _without_invisible(blank: str) -> str | None:
    # the white space stays as it was: a line break can be a break (white-space: pre)
    return blank.translate(_INVISIBLE_OUT) or None


def _unnest(tree: HtmlElement) -> None:
    """What libxml2 nested inside an element that a browser ends sooner: moved out
    after a void element; an open <svg> or <math> holding the page's blocks read as a
    box. An anchor with no address left open (``<a name=x/>``: the slash is part of the
    name) that holds paragraphs of the page is no link either: extraction would take
    them all for link text, and drop them. (One holding a paragraph or two is a
    component a script makes clickable: a byline box, a teaser card.)"""
    for el in list(tree.iter(*_FOREIGN)):
        if any(d.tag in _BREAKOUT for d in el.iterdescendants()):
            el.tag = "div"
    for el in list(tree.iter("a")):
        if el.get("href") is None and len(el) and sum(1 for _ in el.iter("p")) >= _OPEN_ANCHOR:
            el.drop_tag()
    for el in list(tree.iter(*_VOIDS)):
        parent = el.getparent()
        if parent is None or (not len(el) and not el.text):
            continue
        kids, text, tail = list(el), el.text or "", el.tail or ""
        el.text = None
        at = parent.index(el)
        if kids:
            el.tail = text or None
            for i, kid in enumerate(kids, start=1):
                parent.insert(at + i, kid)
            kids[-1].tail = (kids[-1].tail or "") + tail or None
        else:
            el.tail = text + tail
