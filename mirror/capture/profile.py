"""Site profiles: a publisher's own description of where the article is on its pages.

A profile is a small TOML file, used instead of the extractor when it matches a page::

    name = "Riverside Times"
    urls = ["https://www.example.org/news/*"]    # optional: shell-style URL patterns
    content = ["article .article__content"]      # required: where the article body is
    remove = [".donate-inline", ".related"]      # optional: taken out of the content
    title = "h1.article__title"                  # optional, text of the first match
    byline = [".article__byline a"]              # optional, texts of all matches
    date = "time.article__date"                  # optional, `datetime` or its text

Selectors are a subset of CSS, enough for a publisher's own markup: type, ``*``,
``.class``, ``#id``, attribute tests (``[a]``, ``[a=v]``, ``~=``, ``^=``, ``$=``,
``*=``), descendant and child (``>``) combinators and comma-separated lists. They are
translated to XPath here (lxml's CSS support needs the separate cssselect package).
Anything else is refused with a clear error rather than matched loosely.

Everything here is pure: :func:`load_profile` parses bytes, :func:`apply_profile`
reads a parsed page and returns what the profile found. The caller names the profile
by :attr:`Profile.sha256` in the manifest's provenance.
"""

from __future__ import annotations

import fnmatch
import re
import tomllib
from copy import deepcopy
from dataclasses import dataclass
from typing import Any

import lxml.html
from lxml import etree
from lxml.html import HtmlElement

from mirror.capture.metadata import clean_text, normalise_date
from mirror.clock import sha256_tag
from mirror.errors import UsageError

__all__ = ["Profile", "ProfileMatch", "apply_profile", "css_to_xpath", "load_profile"]

MAX_PROFILE_BYTES = 64 * 1024
_FIELDS = {"name", "urls", "content", "remove", "title", "byline", "date"}


@dataclass(frozen=True, slots=True)
class Profile:
    name: str
    urls: tuple[str, ...]
    content: tuple[str, ...]
    remove: tuple[str, ...]
    title: tuple[str, ...]
    byline: tuple[str, ...]
    date: tuple[str, ...]
    sha256: str  # "sha256:<hex>" of the file's bytes, for the provenance record

    def matches_url(self, url: str) -> bool:
        return not self.urls or any(fnmatch.fnmatchcase(url, p) for p in self.urls)


@dataclass(frozen=True, slots=True)
class ProfileMatch:
    content_html: str  # the content elements (removals applied), not sanitized
    title: str | None
    authors: tuple[str, ...]
    published: str | None  # ISO 8601, as metadata.normalise_date gives it


def load_profile(data: bytes) -> Profile:
    """Parse and check a profile; UsageError (exit 2) names what is wrong."""
    if len(data) > MAX_PROFILE_BYTES:
        raise UsageError(f"profile is larger than {MAX_PROFILE_BYTES} bytes")
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise UsageError(f"profile is not valid TOML: {e}") from e
    unknown = sorted(set(doc) - _FIELDS)
    if unknown:
        raise UsageError(f"profile has unknown fields: {', '.join(unknown)}")
    name = doc.get("name", "")
    if not isinstance(name, str):
        raise UsageError("profile field 'name' must be a string")
    fields = {k: _strings(doc, k) for k in ("urls", "content", "remove", "title", "byline", "date")}
    if not fields["content"]:
        raise UsageError("profile needs 'content': the selector of the article body")
    for key in ("content", "remove", "title", "byline", "date"):
        for selector in fields[key]:
            css_to_xpath(selector)  # refuse a selector now, not on the first page
    return Profile(
        name=name,
        urls=fields["urls"],
        content=fields["content"],
        remove=fields["remove"],
        title=fields["title"],
        byline=fields["byline"],
        date=fields["date"],
        sha256=sha256_tag(data),
    )


def _strings(doc: dict[str, Any], key: str) -> tuple[str, ...]:
    value = doc.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise UsageError(f"profile field {key!r} must be a string or a list of strings")
    return tuple(v.strip() for v in value)


def apply_profile(profile: Profile, tree: HtmlElement, url: str) -> ProfileMatch | None:
    """What ``profile`` finds on the page ``tree`` fetched from ``url``; None when it does
    not match (another URL, or no content element on this page)."""
    if not profile.matches_url(url):
        return None
    content = _select(tree, profile.content)
    if not content:
        return None
    parts = []
    for el in _outermost(content):
        copy = deepcopy(el)
        for doomed in _select(copy, profile.remove):
            if doomed is not copy and doomed.getparent() is not None:
                doomed.drop_tree()
        copy.tail = None
        parts.append(etree.tostring(copy, encoding="unicode", method="html"))
    title = next((t for t in (_text(e) for e in _select(tree, profile.title)) if t), None)
    authors = tuple(
        dict.fromkeys(a for a in (_text(e) for e in _select(tree, profile.byline)) if a)
    )
    published = None
    for el in _select(tree, profile.date):
        published = normalise_date(el.get("datetime") or el.get("content") or _text(el))
        if published:
            break
    return ProfileMatch(
        content_html="\n".join(parts), title=title, authors=authors, published=published
    )


def _text(el: HtmlElement) -> str:
    return clean_text(" ".join(el.itertext()))


def _select(tree: HtmlElement, selectors: tuple[str, ...]) -> list[HtmlElement]:
    """Elements matching any of ``selectors``, in document order, each once."""
    if not selectors:
        return []
    xpath = " | ".join(css_to_xpath(s) for s in selectors)
    found = tree.xpath(xpath)
    return [el for el in found if isinstance(el, lxml.html.HtmlElement)]


def _outermost(elements: list[HtmlElement]) -> list[HtmlElement]:
    """Leave out matches inside another match (their text is already in it)."""
    chosen = set(elements)
    return [el for el in elements if not any(a in chosen for a in el.iterancestors())]


# ------------------------------------------------------------------ CSS -> XPath

_IDENT = r"-?[_a-zA-Z][-_a-zA-Z0-9]*"
_TOKEN = re.compile(
    rf"""
    (?P<ws>\s*>\s*|\s+)
  | (?P<type>{_IDENT}|\*)
  | \.(?P<cls>{_IDENT})
  | \#(?P<id>{_IDENT})
  | \[\s*(?P<attr>{_IDENT})\s*(?:(?P<op>[~^$*]?=)\s*(?P<val>"[^"]*"|'[^']*'|{_IDENT})\s*)?\]
    """,
    re.X,
)


def css_to_xpath(selector: str) -> str:
    """XPath (relative to the context node, ``descendant-or-self``) for ``selector``;
    UsageError for anything outside the supported subset."""
    alternatives = [s.strip() for s in selector.split(",")]
    if not all(alternatives):
        raise UsageError(f"selector {selector!r}: empty part")
    return " | ".join(_one(s) for s in alternatives)


def _one(selector: str) -> str:
    steps: list[str] = []
    axis, tag = "descendant-or-self::", ""
    tests: list[str] = []
    pos = 0
    while pos < len(selector):
        m = _TOKEN.match(selector, pos)
        if m is None or m.end() == pos:
            raise UsageError(f"selector {selector!r}: not supported at {selector[pos:]!r}")
        pos = m.end()
        if m.group("ws") is not None:
            steps.append(axis + (tag or "*") + "".join(tests))
            axis = "/" if ">" in m.group("ws") else "//"
            tag, tests = "", []
        elif m.group("type"):
            if tag or tests:
                raise UsageError(f"selector {selector!r}: type must come first")
            tag = m.group("type").lower()
        elif m.group("cls"):
            tests.append(f"[contains(concat(' ', normalize-space(@class), ' '), ' {m['cls']} ')]")
        elif m.group("id"):
            tests.append(f"[@id='{m['id']}']")
        else:
            tests.append(_attribute(m["attr"], m["op"], m["val"]))
    if not (tag or tests):
        raise UsageError(f"selector {selector!r}: ends with a combinator")
    steps.append(axis + (tag or "*") + "".join(tests))
    return "".join(steps)


def _attribute(name: str, op: str | None, raw: str | None) -> str:
    a = f"@{name.lower()}"
    if op is None or raw is None:
        return f"[{a}]"
    value = raw[1:-1] if raw[:1] in "\"'" else raw
    if "'" in value:
        raise UsageError(f"attribute value {value!r}: a single quote is not supported")
    v = f"'{value}'"
    return {
        "=": f"[{a}={v}]",
        "~=": f"[contains(concat(' ', normalize-space({a}), ' '), concat(' ', {v}, ' '))]",
        "^=": f"[starts-with({a}, {v})]",
        "$=": f"[substring({a}, string-length({a}) - string-length({v}) + 1) = {v}]",
        "*=": f"[contains({a}, {v})]",
    }[op]
