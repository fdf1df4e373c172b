"""The publisher's own page as given: its whole body, or the part a site profile selects,
with the metadata the page states; no article extraction.

`mirror bundle` starts here: a publisher bundling its own page wants all of it (an
image straight under <body>, the <h1> as a heading), which an extractor tuned for
other people's pages may drop or merge. `--extract` (a saved full web page) uses the
extractor instead. Markdown for article.md is made from the same HTML: headings,
paragraphs, lists, quotes, and each image as one italic line `*alt — caption*`.
"""

from __future__ import annotations

import re
from copy import deepcopy

import lxml.html
from lxml import etree
from lxml.html import HtmlElement

from mirror.capture.extract import Article, one_spelling
from mirror.capture.markup import parse_fragment, parse_page
from mirror.capture.metadata import clean_text, read_metadata
from mirror.capture.profile import Profile, apply_profile
from mirror.errors import UsageError

__all__ = ["page_article"]

_DROP = ("script", "style", "noscript", "template", "head")
_BLOCKS = {"p", "div", "section", "article", "main", "header", "footer", "aside", "nav"}
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_LIST_PARTS = {"ul", "ol", "li", "dl", "dt", "dd", "blockquote", "table", "tr", "td", "th"}


def _parse(html_text: str) -> HtmlElement:
    tree = parse_page(html_text)
    if tree is None:
        raise UsageError("the page does not parse as HTML")
    return tree


def page_article(
    html_text: str, url: str, *, profile: Profile | None = None
) -> tuple[Article, bool]:
    """(the article, whether `profile` matched). Without a matching profile the whole
    <body> is the article."""
    tree = _parse(html_text)
    meta = read_metadata(tree, url)
    match = apply_profile(profile, tree, url) if profile is not None else None
    if match is not None:
        content = parse_fragment(match.content_html)
        title, authors = match.title or meta.title, match.authors or meta.authors
        published = match.published or meta.published
    else:
        body = tree.find(".//body")
        content = (
            deepcopy(body)
            if body is not None
            else lxml.html.fragment_fromstring("", create_parent="div")
        )
        content.tag = "div"
        title, authors, published = meta.title, meta.authors, meta.published
    for doomed in content.xpath(".//" + " | .//".join(_DROP)):
        doomed.drop_tree()
    title = title or _first_heading(content) or clean_text(tree.findtext(".//title"))
    if not clean_text(content.text_content()) and not content.xpath(".//img"):
        raise UsageError("the page has no text or images to bundle")
    _drop_title_heading(content, title)
    markdown = html_markdown(content)
    article = Article(
        title=title or "",
        authors=authors,
        published=published,
        site_name=meta.site_name,
        language=meta.language,
        direction=meta.direction,
        description=meta.description,
        canonical_url=meta.canonical_url,
        content_html=etree.tostring(content, encoding="unicode", method="html"),
        markdown=markdown,
    )
    return article, match is not None


def _first_heading(content: HtmlElement) -> str:
    for el in content.iter("h1", "h2"):
        text = clean_text(el.text_content())
        if text:
            return text
    return ""


def _drop_title_heading(content: HtmlElement, title: str) -> None:
    """The title lives in the manifest and the reader page's header: a first heading
    saying the same is left out of the body, and so of article.md."""
    for el in content.iter("h1", "h2"):
        if clean_text(el.text_content()).casefold() == title.strip().casefold():
            el.drop_tree()
        return


# -- article.md from HTML ----------------------------------------------------------------


def html_markdown(content: HtmlElement) -> str:
    blocks: list[str] = []
    _blocks(content, blocks)
    text = "\n\n".join(b for b in blocks if b.strip())
    return one_spelling(re.sub(r"\n{3,}", "\n\n", text).strip() + "\n") if text.strip() else ""


def _inline(el: HtmlElement) -> str:
    parts = [el.text or ""]
    for child in el:
        if not isinstance(child.tag, str):
            parts.append(child.tail or "")
            continue
        if child.tag == "br":
            parts.append("\n")
        elif child.tag in _BLOCKS or child.tag in _HEADINGS or child.tag in _LIST_PARTS:
            parts.append(f" {_inline(child)} ")  # a block's words do not run into the next
        elif child.tag != "img":
            parts.append(_inline(child))
        parts.append(child.tail or "")
    return re.sub(r"[ \t\r\f\v]+", " ", "".join(parts))


def _image_line(img: HtmlElement, caption: str = "") -> str:
    alt = clean_text(img.get("alt"))
    text = " — ".join(t for t in (alt, clean_text(caption)) if t)
    return f"*{text}*" if text else ""


def _list(lst: HtmlElement, out: list[str]) -> None:
    """A list's items, a line each. What a page put in the list outside any item (a
    broken page's paragraphs after a <ul> it never closed) stays, as the blocks it is."""
    items: list[str] = []
    stray = lxml.html.Element("div")
    stray.text = lst.text
    number = 0
    for child in lst:
        if isinstance(child.tag, str) and child.tag == "li":
            if clean_text(stray.text_content()):
                out.extend(_flushed(items))
                _blocks(stray, out)
            stray = lxml.html.Element("div")
            number += 1
            items.append(f"{f'{number}.' if lst.tag == 'ol' else '-'} {clean_text(_inline(child))}")
            stray.text = child.tail
        elif isinstance(child.tag, str):
            stray.append(deepcopy(child))
    out.extend(_flushed(items))
    if clean_text(stray.text_content()):
        _blocks(stray, out)


def _flushed(items: list[str]) -> list[str]:
    """The list lines gathered so far as one block, and none left gathered."""
    block = ["\n".join(items)] if items else []
    items.clear()
    return block


def _blocks(el: HtmlElement, out: list[str]) -> None:
    """Block-level Markdown of `el`'s children; loose text between blocks is a paragraph."""
    loose: list[str] = [el.text or ""]

    def flush() -> None:
        text = clean_text("".join(loose))
        if text:
            out.append(text)
        loose.clear()

    for child in el:
        if not isinstance(child.tag, str):
            loose.append(child.tail or "")
            continue
        tag = child.tag
        if tag in _HEADINGS:
            flush()
            out.append("#" * _HEADINGS[tag] + " " + clean_text(child.text_content()))
        elif tag in ("ul", "ol"):
            flush()
            _list(child, out)
        elif tag == "blockquote":
            flush()
            inner: list[str] = []
            _blocks(child, inner)
            out.append("\n>\n".join("> " + b.replace("\n", "\n> ") for b in inner))
        elif tag == "figure":
            flush()
            caption = " ".join(c.text_content() for c in child.iter("figcaption"))
            lines = [_image_line(img, caption) for img in child.iter("img")]
            out.extend(line for line in lines if line)
            if not child.xpath(".//img") and clean_text(caption):
                out.append(f"*{clean_text(caption)}*")
        elif tag == "img":
            flush()
            line = _image_line(child)
            if line:
                out.append(line)
        elif tag == "table":
            flush()
            rows = [
                " | ".join(clean_text(c.text_content()) for c in tr if c.tag in ("td", "th"))
                for tr in child.iter("tr")
            ]
            out.append("\n".join(r for r in rows if r.strip()))
        elif tag in _BLOCKS or tag in ("picture", "li", "dl", "pre", "hr"):
            flush()
            if tag == "pre":
                out.append("```\n" + (child.text_content() or "").strip("\n") + "\n```")
            elif tag != "hr":
                _blocks(child, out)
        else:
            loose.append(_inline(child))
        loose.append(child.tail or "")
    flush()
