"""Article metadata from the page's own markup: JSON-LD, OpenGraph, <meta>, bylines.

Sources are read in the order readers of news pages have settled on (the same order
Mozilla Readability uses, which is also our reference for scoring): structured data
first (JSON-LD of an article type), then Dublin Core / OpenGraph / Twitter / Parse.ly
``<meta>`` tags, then the document itself (``<title>``, ``<h1>``, byline markup such as
``rel=author``, ``itemprop=author`` or a class/id naming a byline; the day htmldate
finds, else a day written in the visible text).

Every value is cleaned (whitespace collapsed, a leading "By" dropped from bylines, a
trailing " | Site" removed from titles when it names the site) but never invented: a
field the page does not state stays None.
"""

from __future__ import annotations

import html
import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from lxml import etree
from lxml.html import HtmlElement

from mirror.capture.days import date_written_at, day_in_text, day_in_url
from mirror.capture.markup import BLOCK_TAGS

__all__ = ["PageMetadata", "clean_text", "marks", "read_metadata"]

# schema.org types whose JSON-LD describes the article itself (schema.org type list)
ARTICLE_TYPES = frozenset(
    {
        "article", "advertisercontentarticle", "newsarticle", "analysisnewsarticle",
        "askpublicnewsarticle", "backgroundnewsarticle", "opinionnewsarticle",
        "reportagenewsarticle", "reviewnewsarticle", "report", "satiricalarticle",
        "scholarlyarticle", "medicalscholarlyarticle", "socialmediaposting", "blogposting",
        "liveblogposting", "discussionforumposting", "techarticle", "apireference",
    }
)  # fmt: skip
_PAGE_TYPES = frozenset({"webpage", "itempage", "collectionpage", "profilepage"})
_PERSON_TYPES = frozenset({"person"})
_ORGANISATION_TYPES = frozenset(
    {"organization", "newsmediaorganization", "corporation", "educationalorganization",
     "governmentorganization", "ngo", "onlinebusiness", "localbusiness"}
)  # fmt: skip
# languages written right to left (ISO 639-1/-3 primary subtags)
RTL_LANGUAGES = frozenset(
    {"ar", "arc", "ckb", "dv", "fa", "he", "iw", "ks", "ku", "ps", "sd", "ug", "ur", "yi"}
)
# <meta property=...>: "og:title", "article:author", also "og:article:author"
_PROPERTY = re.compile(
    r"\s*(article|dc|dcterm|og|twitter)\s*:\s*"
    r"(author|creator|description|published_time|title|site_name|locale)\s*",
    re.I,
)
# <meta name=...>: "author", "dc.creator", "parsely-author", "sailthru.author", ...
_NAME = re.compile(
    r"^\s*(?:(dc|dcterm|og|twitter|parsely|sailthru|weibo:(?:article|webpage))\s*[-.:]\s*)?"
    r"(author|creator|byl|pub-date|date|description|title|site_name|label\d|data\d"
    r"|application-name|apple-mobile-web-app-title)\s*$",
    re.I,
)
# "author" but not "authority"/"authorization"
_BYLINE_HINT = re.compile(r"byline|author(?!i[tz])|dateline|writtenby|p-author", re.I)
_NOT_NAMES = frozenset(
    {
        "about", "admin", "administrator", "all", "author", "authors", "by", "contact",
        "edited", "email", "follow", "last", "more", "no", "on", "posted", "profile",
        "published", "share", "staff", "subscribe", "the", "updated", "view", "written",
        # the same labels on German, French, Spanish, Portuguese and Russian pages
        "am", "von", "publiziert", "veröffentlicht", "aktualisiert", "stand", "par", "le",
        "publié", "mis", "à", "jour", "por", "publicado", "actualizado", "el", "em", "de",
        "опубликовано", "обновлено", "автор",
    }
)  # fmt: skip
_WEEKDAYS = frozenset(
    {
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
        "montag", "dienstag", "mittwoch", "donnerstag", "freitag", "samstag", "sonntag",
        "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
        "lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo",
        "lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato", "domenica",
        # as written before a day: "Mi, 25. Oktober 2023", "Wed, 25 Oct 2023"
        "mo", "di", "mi", "do", "fr", "sa", "so", "mon", "tue", "wed", "thu", "fri", "sat",
        "sun",
    }
)  # fmt: skip
_DATE_LABELS = _NOT_NAMES | _WEEKDAYS  # the words before a date in a byline
_COMMENT_HINT = re.compile(r"comment|reply|respond", re.I)
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_TRAILING_DATE = re.compile(
    rf"(?:\s+|(?=\d))(?:(?:updated|published|posted|on)\b\s*:?\s*)?"
    rf"(?:(?:mon|tues?|wed(?:nes)?|thu(?:rs)?|fri|sat(?:ur)?|sun)(?:day)?\.?,?\s+)?"
    rf"(?:(?:am|le|el|il)\s+)?"
    rf"(?:{_MONTH}\s+\d{{1,2}},?\s+\d{{4}}|\d{{1,2}}\.?\s+{_MONTH}\s+\d{{4}}|\d{{4}}-\d\d-\d\d"
    rf"|\d{{1,2}}\.\s?\d{{1,2}}\.\s?\d{{2,4}}).*$",
    re.I,
)
# "By", "Von", "Par"...; "Author:", "Autor:", "Автор:"; "Posted by", "Post author By";
# "ByJane Doe" (<span>By</span><a>Jane Doe</a>: spaced by style sheets, not text)
_BY_PREFIX = re.compile(
    r"^(?:(?:post(?:ed)?\s+)?(?:authors?|autor(?:in|en)?|auteur|autore|автор)(?:\s*:\s*|\s+))?"
    r"(?:(?:written|posted|geschrieben|verfasst|veröffentlicht|publiziert|erstellt|publié"
    r"|escrito|publicado)\s+)?"
    r"(?:(?:by|par|von|por|door|di|av|af)\s*[:\-]?\s+|(?-i:By(?=[A-Z])))?",
    re.I,
)
# "Posted by Jane Doe @ 12:00", "Text von Jan de Vries und Eva Berg am 3. Mai": a name is
# capitalised words, joined by "and" and its kin, with particles (de, van, von...) inside
_NAME_WORD = r"(?=[^\W\d_])(?![a-zа-яё])[\w'’\-]+\.?"  # capitalised: Jane, O’Neil, R.
_PARTICLES = r"(?:(?:de|la|van|von|der|den|da|di|du|le|del|dos|ten|bin|ibn)\s+){0,2}"
_PERSON = rf"{_NAME_WORD}(?:\s+{_PARTICLES}{_NAME_WORD}){{0,2}}"
_BYLINE_VERBS = r"posted|written|text|story|words|geschrieben|verfasst|(?:blog\s*)?beitrag"
_BYLINE_BY = r"by|von|par|por|di|door|av|af|от"
_TEXT_BYLINE = re.compile(
    rf"(?P<verb>(?i:{_BYLINE_VERBS})\s+)?"
    rf"(?i:{_BYLINE_BY})\s+"
    rf"(?P<name>{_PERSON}(?:\s*(?:,|\band\b|\bund\b|\bet\b|\by\b|\bи\b|&)\s*{_PERSON}){{0,3}})"
    r"(?P<rest>$|\s*[,;|•·@–—(]|\s+(?i:on|am|um|le|el|il|the)\s|\s+\d)?",
)
# "06.11.2023 13:30 von Olga", "Posted in News by Kim Navarro on 3 May", "Posted on
# September 21, 2020 by Adi Tzlil" (WordPress themes' line): a dateline or a filing
# line, then the name
_FILED = r"(?i:posted\s+(?:in|on)|veröffentlicht\s+am|publié\s+le|publicado\s+el)\b"
_DATELINE_BYLINE = re.compile(
    rf"(?:\d[\d.:/\- ]{{5,20}}|{_FILED}.{{0,40}}?)\s(?i:by|von|par|por)\s+"
    rf"(?P<name>{_PERSON})(?P<rest>$|\s*[,;|•·@–—(]|\s+(?i:on|am|um|le|el|il)\s|\s+\d)"
)
# "11.12.2019 - Amelie Loevenich", "04.02.2022 | 13:10 Uhr | Uta Helkenberg": a dateline
# whose last part is a name of two words or more, and nothing else
_DATED_NAME = re.compile(
    r"\d{1,4}[./-]\d{1,2}[./-]\d{2,4}(?:\s*[|•·,]?\s*\d{1,2}[:.]\d{2}(?:\s*Uhr)?)?"
    rf"\s*[|•·–—-]\s*(?P<name>{_PERSON})$"
)
# what a byline the markup marks may open with before its "by"
_FILED_PREFIX = re.compile(rf"^{_FILED}.{{0,40}}?\s(?=(?i:by|von|par|por)\s)")
# What an element's own text must open with to be worth reading whole (most do not)
_BYLINE_OPENING = re.compile(rf"\s*(?:{_BYLINE_VERBS}|{_BYLINE_BY})\b", re.I)
_DATELINE_OPENING = re.compile(rf"\s*(?:\d|{_FILED})")
# "Jane Doe, Datum: 15.06.19, Kommentare: 0": a label after the name starts what is not it
_TRAILING_LABEL = re.compile(r"\s*[,;|]\s*\w[\w ]{0,30}:\s.*$")
_SEPARATORS = re.compile(r"\s+[|\-–—\\/>»·:]\s+")
_HIERARCHY = re.compile(r"\s[\\/>»]\s")
# <title> separators (no colon: a colon splits a kicker from a headline)
_TITLE_SEP = re.compile(r"\s[|\-–—\\/>»]\s")
_TITLE_LAST = re.compile(r"^(.*)\s[|\-–—\\/>»]\s.*$", re.S)
_TITLE_FIRST = re.compile(r"^[^|\-–—\\/>»]*[|\-–—\\/>»]\s*")
_WS = re.compile(r"\s+")
_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-f]+|[a-z]+\d?);", re.I)
_URL = re.compile(r"^(?:https?:)?//", re.I)
_INVISIBLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
_LINE_ENDS = BLOCK_TAGS | {"dl", "br"}  # what ends the line an author box opens with
_SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "head", "title", "meta"})
_MAX_JSON_LD = 1_000_000  # bytes of one script block we are willing to parse
_MAX_BYLINE = 100  # longer "bylines" are author bios or whole sections


@dataclass(frozen=True, slots=True)
class PageMetadata:
    title: str | None
    authors: tuple[str, ...]
    published: str | None
    site_name: str | None
    language: str | None
    direction: str | None
    description: str | None
    canonical_url: str | None
    # the article's text as the page's JSON-LD states it (schema.org articleBody)
    article_body: str | None = None


def clean_text(value: Any) -> str:
    """Whitespace collapsed and stripped; non-strings become ""."""
    return " ".join(value.split()) if isinstance(value, str) else ""  # split: re's \s


def read_metadata(tree: HtmlElement, url: str) -> PageMetadata:
    """Metadata stated by the page. ``tree`` is only read, never changed."""
    ld = _json_ld(tree)
    meta = _meta_values(tree)
    doc_title = _document_title(tree)
    site = clean_text(ld.get("site_name")) or meta.get("og:site_name") or None
    title = (
        _ld_title(ld, doc_title)
        or meta.get("dc:title")
        or meta.get("dcterm:title")
        or meta.get("og:title")
        or meta.get("weibo:article:title")
        or meta.get("weibo:webpage:title")
        or meta.get("title")
        or meta.get("twitter:title")
        or meta.get("parsely-title")
        or _heuristic_title(tree, doc_title)
    )
    if title:
        title = strip_site_suffix(_unescaped(title), site, url)
        if _SEPARATORS.search(title):  # what the page calls itself, only when it may tell
            title = strip_site_suffix(title, site, url, named=_self_naming(tree, meta))
        title = _headline_part(title, tree)
    people, organisations = _ld_authors(ld)
    authors = _choose_authors(people, _meta_authors(meta), tree, site, url) or organisations
    language = _language(tree, meta, ld)
    return PageMetadata(
        title=title or None,
        authors=authors,
        published=_published(tree, url, ld, meta),
        site_name=site,
        language=language,
        direction=_direction(tree, language),
        description=clean_text(ld.get("description"))
        or meta.get("dc:description")
        or meta.get("og:description")
        or meta.get("description")
        or meta.get("twitter:description")
        or None,
        canonical_url=_canonical(tree, meta, url),
        article_body=ld["articleBody"] if isinstance(ld.get("articleBody"), str) else None,
    )


def _published(tree: HtmlElement, url: str, ld: dict[str, Any], meta: dict[str, str]) -> str | None:
    """The day of publication: as the page's structured data states it, unless the two
    other readings of the page, htmldate's and the first day in its text, agree on
    another day. Then the stated one is mostly a day of change, or a UTC time on the
    other side of midnight (on trafilatura's evaluation set: right on 10 of 12 such
    pages). With nothing stated: htmldate's, the text's, the one the URL names."""
    stated = _publishers_clock(
        normalise_date(
            clean_text(ld.get("datePublished"))
            or meta.get("article:published_time")
            or meta.get("parsely-pub-date")
            or meta.get("dc:date")
            or _markup_date(tree)
        ),
        tree,
    )
    if stated is None:
        return _found_date(tree, url) or _text_day(tree) or day_in_url(url)
    # htmldate (it prunes a copy of the whole page) only when the text names another day
    in_text = _text_day(tree)
    if in_text and in_text != stated[:10] and _found_date(tree, url) == in_text:
        return in_text
    return stated


def _choose_authors(
    ld: tuple[str, ...], meta: tuple[str, ...], tree: HtmlElement, site: str | None, url: str
) -> tuple[str, ...]:
    """Structured data first; a user handle, or the site's own name given as the
    author, only when neither the markup nor a byline in the text names anybody."""
    publisher = {_key(site or ""), _key(_host(url))} - {""}
    for found in (ld, meta):
        if found and not all(_weak_name(a) or _key(a) in publisher for a in found):
            return found
    return _markup_byline(tree) or _text_byline(tree) or ld or meta


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").removeprefix("www.")  # hostname is lower-case


# ---------------------------------------------------------------- JSON-LD


def _json_ld(tree: HtmlElement) -> dict[str, Any]:
    """The first JSON-LD object of an article type, searched through lists and @graph."""
    page: tuple[dict[str, Any], dict[str, dict[str, Any]]] | None = None  # (object, by @id)
    for script in tree.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json":
            continue
        text = (script.text or "").strip()
        if not text or len(text) > _MAX_JSON_LD:
            continue
        # some CMSs wrap the JSON in a CDATA section or an HTML comment, or end it
        # with a semicolon as if it were a script
        text = re.sub(r"^\s*(?:<!\[CDATA\[|<!--)|(?:\]\]>|-->|;)\s*$", "", text)
        try:
            # strict=False: raw line breaks inside strings (an articleBody pasted as it
            # stands) are common and read one way only
            data = json.loads(text, strict=False)
        except (ValueError, RecursionError):  # deeply nested arrays exhaust the stack
            continue
        objects = list(_ld_objects(data, depth=0))
        # a @graph names its author and publisher once and points at them by @id
        by_id = {o["@id"]: o for o in objects if isinstance(o.get("@id"), str)}
        for obj in objects:
            if _is_of(obj, ARTICLE_TYPES):
                return _ld_fields(obj, by_id)
        if page is None:
            found = next((o for o in objects if _is_of(o, _PAGE_TYPES) and "author" in o), None)
            page = (found, by_id) if found is not None else None
    # no article object: a page object's author still names who wrote it
    return {"author": _ld_fields(*page)["author"]} if page is not None else {}


def _ld_objects(data: Any, depth: int) -> Iterator[dict[str, Any]]:
    if depth > 4:
        return
    if isinstance(data, list):
        for item in data[:100]:
            yield from _ld_objects(item, depth + 1)
    elif isinstance(data, dict):
        yield data
        graph = data.get("@graph")
        if graph is not None:
            yield from _ld_objects(graph, depth + 1)


def _is_of(obj: dict[str, Any], types: frozenset[str]) -> bool:
    kind = obj.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return any(isinstance(k, str) and k.lower() in types for k in kinds)


def _ld_fields(obj: dict[str, Any], by_id: dict[str, dict[str, Any]]) -> dict[str, Any]:
    def resolved(value: Any) -> Any:
        if isinstance(value, list):
            return [resolved(v) for v in value[:50]]
        ref = value.get("@id") if isinstance(value, dict) and "name" not in value else None
        if isinstance(ref, str) and ref in by_id:
            return by_id[ref]
        return value

    publisher = resolved(obj.get("publisher"))
    if isinstance(publisher, list) and publisher:
        publisher = publisher[0]
    return {
        "name": obj.get("name"),
        "headline": obj.get("headline"),
        "author": resolved(obj.get("author") or obj.get("creator")),
        "site_name": publisher.get("name") if isinstance(publisher, dict) else None,
        "datePublished": obj.get("datePublished") or obj.get("dateCreated"),
        "description": obj.get("description"),
        "inLanguage": obj.get("inLanguage"),
        "articleBody": obj.get("articleBody"),
    }


def _ld_title(ld: dict[str, Any], doc_title: str) -> str:
    name, headline = clean_text(ld.get("name")), clean_text(ld.get("headline"))
    if name and headline and name != headline:
        # name is sometimes the site's name: prefer the one that resembles <title>
        if _similar(headline, doc_title) and not _similar(name, doc_title):
            return headline
        return name
    return name or headline


def _ld_authors(ld: dict[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(people, organisations) named as the author: an organisation ("Madame Figaro",
    "Agencies") is a byline only when nobody else is named."""
    author = ld.get("author")
    items = author if isinstance(author, list) else [author]
    people: list[str] = []
    organisations: list[str] = []
    for item in items[:50]:
        value = item.get("name") if isinstance(item, dict) else item
        if isinstance(value, list):  # {"name": ["A", "B"]}
            value = ", ".join(v for v in value if isinstance(v, str))
        name = _clean_byline(value)
        if not name or _URL.match(name) or name in people or name in organisations:
            continue
        is_org = (
            isinstance(item, dict)
            and _is_of(item, _ORGANISATION_TYPES)
            and not _is_of(item, _PERSON_TYPES)  # Yoast types a one-person site as both
        )
        (organisations if is_org else people).append(name)
    return tuple(people), tuple(organisations)


# ---------------------------------------------------------------- <meta>


def _meta_values(tree: HtmlElement) -> dict[str, str]:
    """Normalised meta keys ("og:title", "author", "dc:creator") to their content."""
    values: dict[str, str] = {}
    for el in tree.iter("meta"):
        content = clean_text(el.get("content"))
        if not content:
            continue
        prop = el.get("property")
        if prop:
            for m in _PROPERTY.finditer(prop):
                values[f"{m.group(1)}:{m.group(2)}".lower()] = content
        name = el.get("name") or el.get("itemprop")
        if name and _NAME.match(name):
            values[_WS.sub("", name).lower().replace(".", ":")] = content
        equiv = (el.get("http-equiv") or "").lower()
        if equiv == "content-language":
            values["content-language"] = content
    return values


def _meta_authors(meta: dict[str, str]) -> tuple[str, ...]:
    for key in (
        "dc:creator", "dcterm:creator", "author", "parsely-author", "sailthru:author", "byl",
        "article:author", *_labelled_author(meta),
    ):  # fmt: skip
        name = _clean_byline(meta.get(key))
        if name and not _URL.match(name):
            return (name,)
    return ()


# Yoast SEO (WordPress) writes the author as a Twitter card's labelled datum:
# twitter:label1 "Written by", "Verfasst von", "Escrito por"; twitter:data1 the name
_AUTHOR_LABEL = re.compile(
    rf"^(?:(?:{_BYLINE_VERBS}|écrit|escrito|scritto)\s+)?(?:{_BYLINE_BY}|da)$"
    r"|^(?:authors?|autor(?:in)?|auteur|autore|автор)$",
    re.I,
)


def _labelled_author(meta: dict[str, str]) -> tuple[str, ...]:
    return tuple(
        f"twitter:data{n}"
        for n in range(1, 10)
        if _AUTHOR_LABEL.match(meta.get(f"twitter:label{n}", "").strip(" :"))
    )


# ---------------------------------------------------------------- document markup


def _document_title(tree: HtmlElement) -> str:
    el = tree.find(".//title")
    return clean_text(el.text_content()) if el is not None else ""


def _heuristic_title(tree: HtmlElement, doc_title: str) -> str:
    """<title> without its site part, or the single <h1> when <title> is unusable.

    The trailing part after the last separator is taken to name the site (or the leading
    one, when the rest would be under three words); a colon splits a kicker from the
    headline unless a heading repeats the whole title. Cuts leaving four words or fewer
    are undone: they say too little.
    """
    title = orig = doc_title
    hierarchical = False
    if _TITLE_SEP.search(title):
        hierarchical = bool(_HIERARCHY.search(title))
        title = _TITLE_LAST.sub(r"\1", orig)
        if len(title.split()) < 3:
            title = _TITLE_FIRST.sub("", orig, count=1)
    elif ": " in title:
        headings = {clean_text(h.text_content()) for h in tree.iter("h1", "h2")}
        if title not in headings:
            title = orig[orig.rindex(":") + 1 :].strip()
            if len(title.split()) < 3:
                title = orig[orig.index(":") + 1 :].strip()
            elif len(orig[: orig.index(":")].split()) > 5:
                title = orig
    h1s = [clean_text(h.text_content()) for h in tree.iter("h1")]
    if (len(title) > 150 or len(title) < 15) and len(h1s) == 1 and h1s[0]:
        title = h1s[0]
    words = len(title.split())
    stripped = len(re.sub(r"[|\-–—\\/>»]+", "", orig).split())
    if words <= 4 and (not hierarchical or words != stripped - 1):
        title = orig
    return clean_text(title)


def _unescaped(text: str) -> str:
    """A title escaped twice by its CMS ("Q&amp;amp;A" -> "Q&amp;A" in the attribute)
    read as its words."""
    return html.unescape(text) if _ENTITY.search(text) else text


def _headline_part(title: str, tree: HtmlElement) -> str:
    """The parts of "Headline | Section | Some Site" that a heading of the page repeats
    (the longest such run, at least half the title), or the title as it is: a site
    name nobody declared is still not the headline."""
    parts = _SEPARATORS.split(title)
    if len(parts) < 2:
        return title
    headings = {_key(clean_text(h.text_content())) for h in tree.iter("h1", "h2")} - {""}
    seps = _SEPARATORS.findall(title)
    best = ""
    for start in range(len(parts)):
        run = parts[start]
        for end in range(start + 1, len(parts)):
            if _key(run) in headings and len(run) > len(best):
                best = run
            run += seps[end - 1] + parts[end]
        if start > 0 and _key(run) in headings and len(run) > len(best):
            best = run
    # at least half of it, as for a declared site name: a short heading ("V8", a logo)
    # is not the headline of a longer title
    return best if len(best) >= 0.5 * len(title) else title


def _similar(a: str, b: str) -> bool:
    """True when most words of ``a`` also occur in ``b`` (order ignored)."""
    wa, wb = re.findall(r"\w+", a.lower()), set(re.findall(r"\w+", b.lower()))
    if not wa or not wb:
        return False
    missing = sum(len(w) + 1 for w in wa if w not in wb)
    return 1 - missing / max(1, sum(len(w) + 1 for w in wa)) > 0.75


def strip_site_suffix(
    title: str, site: str | None, url: str, named: tuple[str, ...] = ()
) -> str:
    """Drop a leading or trailing part of ``title`` that names the site.

    The part must match the site name (or the host name); the rest is kept only when it
    is at least half the title, so a short title is not cut to a stub. A trailing part
    the page names itself by (``named``: see _self_naming) goes too when what is left
    reads as a headline (two words, twelve characters).
    """
    title = clean_text(title)
    parts, seps = _SEPARATORS.split(title), _SEPARATORS.findall(title)
    if named and len(parts) >= 2 and len(parts[-1].split()) <= _MAX_SELF_NAME_WORDS:
        head = title[: title.rfind(seps[-1])]
        tail = _key(parts[-1])
        # a page whose logo says the whole title ("Yahoo News - Latest News") is named so;
        # a section page's one word ("Geschichte | Site", "blog | Site") is no headline
        if (
            len(tail) >= _MIN_SELF_NAME
            and len(head) >= _MIN_HEADLINE
            and " " in head.strip()
            and any(tail in n and _key(head) not in n for n in named)
        ):
            return strip_site_suffix(head, site, url)
    names = {_key(site or "")}
    host = _host(url)
    if host:
        names.add(_key(host.split(".")[0]))
        names.add(_key(host))
    names.discard("")
    if len(parts) < 2 or not names:
        return title
    # trailing site parts: "Headline | Section | Site"
    end = len(parts)
    while end > 1 and _key(parts[end - 1]) in names:
        end -= 1
    start = 0
    while start < end - 1 and _key(parts[start]) in names:
        start += 1
    if (start, end) == (0, len(parts)):
        return title
    kept = parts[start]
    for i in range(start + 1, end):
        kept += seps[i - 1] + parts[i]
    return kept if len(kept) >= 0.5 * len(title) else title


# What a page calls itself: its app name, the text or alt of its logo or brand (short),
# and its copyright line. A title's trailing part found there is the site's name.
_SELF_NAMING = re.compile(r"logo|brand|site-?(?:title|name)|masthead|copyright", re.I)
_SELF_NAME_TEXT = 100  # characters: a logo's text, not a header's
_SELF_NAME_NODES = 20  # elements
_COPYRIGHT = re.compile(r"(?:©|\(c\)|copyright)\s*.{0,80}", re.I)
_MIN_SELF_NAME = 4  # characters of a site name's key
_MAX_SELF_NAME_WORDS = 6
_MIN_HEADLINE = 12  # characters, and two words at least, left of a self-name
_SELF_NAMING_READ = 5_000  # elements of a page looked at


def _self_naming(tree: HtmlElement, meta: dict[str, str]) -> tuple[str, ...]:
    """The keys (see _key) of what the page calls itself."""
    said = [meta.get("application-name", ""), meta.get("apple-mobile-web-app-title", "")]
    body = tree.find(".//body")
    for el in itertools.islice((body if body is not None else tree).iter(), _SELF_NAMING_READ):
        if not isinstance(el.tag, str) or el.tag in _SKIP_TAGS:
            continue
        hint = marks(el)
        if el.tag == "img" and _SELF_NAMING.search(f"{hint} {el.get('src') or ''}"):
            said.append(f"{el.get('alt') or ''} {el.get('title') or ''}")
        elif _SELF_NAMING.search(hint):
            said.extend(_logo_text(el))
        if el.text and _COPYRIGHT.search(el.text):
            said.extend(m.group(0) for m in _COPYRIGHT.finditer(el.text))
    return tuple(k for k in map(_key, said) if k)


def _logo_text(el: HtmlElement) -> list[str]:
    """The text and picture alts of a small element (a logo, a brand line); nothing for
    a large one (a header whose class says "brand"). Bounded: logos nest in logos."""
    nodes = list(itertools.islice(el.iter(), _SELF_NAME_NODES + 1))
    if len(nodes) > _SELF_NAME_NODES:
        return []
    pieces = [n.text or "" for n in nodes] + [n.tail or "" for n in nodes[1:]]
    if sum(map(len, pieces)) > _SELF_NAME_TEXT:
        return []
    alts = [f"{n.get('alt') or ''} {n.get('title') or ''}" for n in nodes if n.tag == "img"]
    return [el.text_content(), *alts]


def _key(s: str) -> str:
    return re.sub(r"\W+", "", s.lower())


def _visible(el: HtmlElement) -> bool:
    return not (
        el.get("hidden") is not None
        or _INVISIBLE.search(el.get("style") or "")
        or (el.get("aria-hidden") == "true")
    )


# the elements that carry any of the marks a byline is known by, picked in C: most
# elements of a page carry none
_MARKED = etree.XPath("descendant-or-self::*[@class or @id or @data-testid or @rel or @itemprop]")


def _markup_byline(tree: HtmlElement) -> tuple[str, ...]:
    """The byline the markup marks most clearly, first in document order.

    ``rel=author`` and ``itemprop=author`` name the author alone; a class or id naming a
    byline comes next, then any other author-like class. Hidden elements, long texts
    (author bios) and comment sections are skipped.
    """
    body = tree.find(".//body")
    root = body if body is not None else tree
    best: tuple[int, str] = (0, "")
    for el in _MARKED(root):
        if el.tag in _SKIP_TAGS:
            continue
        itemprop = (el.get("itemprop") or "").lower()
        hint = marks(el)
        if "author" in (el.get("rel") or "").lower().split() or "author" in itemprop:
            rank = 3
        elif "byline" in hint.lower():
            rank = 2
        elif _BYLINE_HINT.search(hint):
            rank = 1
        else:
            continue
        if rank <= best[0] or _hidden_or_in_comments(el):
            continue
        # itemprop=author wrapping itemprop=name: the name alone
        named = [c for c in el.iter() if c.get("itemprop") == "name"] if itemprop else []
        text = _spaced_text(named[0] if named else el)
        if len(text) >= _MAX_BYLINE and not named:
            text = _leading_line(el)
        name = _clean_byline(text) if 0 < len(text) < _MAX_BYLINE else ""
        if name:
            best = (rank, name)
            if rank == 3:
                break
    return (best[1],) if best[1] else ()


def _spaced_text(el: HtmlElement) -> str:
    """The text of ``el`` with words its elements set apart kept apart:
    "Von<a>Eurosport</a>Publiziert", spaced by a style sheet only, reads "Von Eurosport
    Publiziert" ("wien.ORF.at/<a>Agenturen</a>" stays as it is)."""
    text = ""
    for piece in el.itertext():
        if text[-1:].isalnum() and piece[:1].isalnum():
            text += " "
        text += piece
    return clean_text(text)


def _leading_line(el: HtmlElement) -> str:
    """The text of ``el`` before its first block: the "<a>Jane Doe</a>, 21 Jan 2015" of
    an author box that goes on with a rating form or a biography."""
    parts = [el.text or ""]
    for child in el:
        if child.tag in _LINE_ENDS:
            break
        parts += [child.text_content() if isinstance(child.tag, str) else "", child.tail or ""]
    line = clean_text("".join(parts))
    return "" if line.endswith(":") else line  # "Filed under:": a label for what follows


def marks(el: HtmlElement) -> str:
    """An element's class, id and test id (React sites mark their parts with it), the
    words pages mark their parts with."""
    return f"{el.get('class') or ''} {el.get('id') or ''} {el.get('data-testid') or ''}"


def _hidden_or_in_comments(el: HtmlElement) -> bool:
    """``el`` or an element around it is hidden or part of a comment section."""
    return any(
        not _visible(a) or _COMMENT_HINT.search(marks(a)) for a in (el, *el.iterancestors())
    )


def _text_byline(tree: HtmlElement) -> tuple[str, ...]:
    """A short text that opens with "By", "Posted by", "Von", "Text von"... and a name,
    first in document order: the byline of pages whose markup does not mark it.
    Comment sections and hidden elements are skipped."""
    body = tree.find(".//body")
    for el in (body if body is not None else tree).iter():
        if not isinstance(el.tag, str) or el.tag in _SKIP_TAGS:
            continue
        opening_text = el.text if el.text and el.text.strip() else (el[0].text if len(el) else None)
        if len(el) >= 8 or not opening_text:
            continue
        # a box of lines ("<p>Von Lisa Petrich</p><p>Mi, 18. Oktober 2023</p>"): its
        # first line is read by itself, not run into the next
        if any(c.tag in BLOCK_TAGS for c in el):
            continue
        # the cheap tests first: most elements open with something else ("Posted on"
        # opens both forms)
        forms = [form for opening, form in _TEXT_BYLINE_FORMS if opening.match(opening_text)]
        if not forms:
            continue
        # and a line ended by <br> too ("Von Jane Doe<br>Kakuma"): the dateline goes on
        text = _leading_line(el) if el.find("br") is not None else clean_text(el.text_content())
        if len(text) >= _MAX_BYLINE:
            continue
        m = next(filter(None, (_plausible_byline(form, text) for form in forms)), None)
        if m is None:
            continue
        if _hidden_or_in_comments(el) or _in_site_furniture(el):
            continue
        name = _clean_byline(m.group("name"))
        if name:
            return (name,)
    return ()


def _plausible_byline(form: re.Pattern[str], text: str) -> re.Match[str] | None:
    m = form.match(text)
    # "by", "von", "di" also start ordinary phrases ("von Dienstag an"): without a verb
    # ("Posted by") it takes two names and nothing but a date after them (a dateline's
    # form asks for that date itself)
    if m is None or (
        form is _TEXT_BYLINE
        and not (m.group("verb") or (m.group("rest") is not None and " " in m.group("name")))
    ):
        return None
    if form is _DATED_NAME and " " not in m.group("name"):
        return None
    return m


_TEXT_BYLINE_FORMS = (
    (_BYLINE_OPENING, _TEXT_BYLINE),
    (_DATELINE_OPENING, _DATELINE_BYLINE),
    (_DATELINE_OPENING, _DATED_NAME),
)


# "By Studio Nord" in a footer, "Written by Ann Lee" in a menu: the site's credits or
# another page's byline, not this article's
_CREDITS_HINT = re.compile(r"footer|copyright|credits|colophon|site-info", re.I)


def _in_site_furniture(el: HtmlElement) -> bool:
    return any(
        a.tag in ("nav", "footer", "figcaption") or _CREDITS_HINT.search(marks(a))
        for a in (el, *el.iterancestors())
    )


def _clean_byline(value: Any) -> str:
    text = _FILED_PREFIX.sub("", _unescaped(clean_text(value)), count=1)
    text = _TRAILING_LABEL.sub("", _BY_PREFIX.sub("", text, count=1))
    # "Jane Doe • 8h", "Jane Doe | Staff", "Jane Doe — published": the name comes first
    text = re.split(r"\s+[•|·—]\s*", text)[0]
    text = _TRAILING_DATE.sub("", text).strip(" ,;:|-–—")
    # a date in another language's form ("4 de mayo de 2022", "12 mai 2021", "04/05/2022")
    # ends the name too, and is none itself
    at = _date_at(text)
    if at is not None:
        words = text[:at].split()
        # and so does what labels it ("Stand:", "am Samstag,")
        while words and words[-1].strip(" ,;:|-–—").lower() in _DATE_LABELS:
            words.pop()
        text = " ".join(words).strip(" ,;:|-–—")
    # labels and datelines ("Follow Author", "Last updated") name nobody
    if not re.search(r"\w", text) or all(w in _NOT_NAMES for w in re.findall(r"\w+", text.lower())):
        return ""
    return text


_SLASHED_DATE = re.compile(r"(?<![\d/])[0-3]?\d/[01]?\d/(?:19|20)?\d\d(?![\d/])")
# "vor 5 Stunden", "hace 13 horas", "há 2 dias", "il y a 3 heures", "5 hours ago"
_TIME_AGO = re.compile(
    r"(?<!\w)(?:vor|hace|há|il y a)\s+\d+\s+\w"
    r"|\d+\s*(?:h|hrs?|hours?|mins?|minutes?|days?)\s+ago\b",
    re.I,
)


def _date_at(text: str) -> int | None:
    """Where the first date written in ``text`` starts, slashed ones and times ago
    included."""
    found = [m.start() for m in (_SLASHED_DATE.search(text), _TIME_AGO.search(text)) if m]
    written = date_written_at(text)
    return min(found if written is None else [*found, written], default=None)


def _weak_name(name: str) -> bool:
    """A user handle ("CC7567", "@jdoe", "jane.doe"), not a person's or organisation's
    name."""
    return name.startswith("@") or (" " not in name and bool(re.search(r"[\d_]|\w\.\w", name)))


def _markup_date(tree: HtmlElement) -> str:
    for el in tree.iter("time", "meta"):
        if el.get("itemprop") == "datePublished" or el.get("pubdate") is not None:
            value = el.get("datetime") or el.get("content")
            if isinstance(value, str) and value:
                return value
    return ""


def _found_date(tree: HtmlElement, url: str) -> str | None:
    """The day of publication found in the page's text, URL and markup (htmldate),
    when no structured data states it: on trafilatura's evaluation set the right day
    for 82% of pages, against 56% from structured data alone. Not its extensive
    search: that hands free text to dateparser, which took seconds on some pages."""
    # imported here, as the extractor is: commands that never read a page skip it
    from htmldate import find_date

    try:  # it prunes a copy of the tree it is given (checked by a test): the page stays whole
        found = find_date(tree, url=url, original_date=True, extensive_search=False)
    except (ValueError, TypeError, OverflowError, etree.LxmlError):
        return None
    return normalise_date(found) if isinstance(found, str) else None


# Parts of a page that are not the article's: their dates are other articles' or
# readers' (comments), and a clock in the site's furniture shows today.
_NOT_ARTICLE_TAGS = frozenset({*_SKIP_TAGS, "nav", "footer", "aside", "form", "button", "select"})
_NOT_ARTICLE_HINT = re.compile(r"comment|related|footer|sidebar|widget", re.I)
# a teaser of another article links to it; a "teaser text" without a link is the lead
_TEASER_HINT = re.compile(r"teaser", re.I)
_TEASER_LINK_SHARE = 10  # one character in ten, at least, is a link's
_TEASER_READ = 5_000  # characters of a teaser box read to judge it
# the article's day is written near its top: a page's first 200,000 characters of text
# are searched (all of it took a second on a 5 MB page)
_TEXT_DAY_READ = 200_000
_TEXT_DAY_FIRST_LOOK = 4_000  # characters read before the first look, four times more each time


def _text_day(tree: HtmlElement) -> str | None:
    """The first day written in the page's visible text outside its furniture
    ("10. September 2017", "January 22, 2014", "01.11.2023"), when neither the
    markup nor htmldate states one: on trafilatura's evaluation set the right day for
    22 of the 40 pages that had none, a wrong one for 4."""
    body = tree.find(".//body")
    if body is None:
        return None
    # a form around most of the page is the page (ASP.NET writes one), not a form;
    # outermost forms only, so that no text is measured twice, and the page's text
    # only when it has a form
    forms = [f for f in body.iter("form") if next(f.iterancestors("form"), None) is None]
    most = len(body.text_content()) / 2 if forms else 0
    page_forms = {f for f in forms if len(f.text_content()) > most}
    today = date.today()
    parts: list[str] = []
    read, look_at = 0, _TEXT_DAY_FIRST_LOOK
    # depth first in document order, without recursion (pages nest deeply); a
    # skipped element keeps its tail, which is its parent's text
    stack: list[tuple[Any, bool]] = [(body, False)]
    while stack:
        el, tail_only = stack.pop()
        if tail_only:
            piece = el.tail or ""
        else:
            stack.append((el, True))
            if not (el in page_forms or _article_part(el)):
                continue
            piece = el.text or ""
            stack.extend((child, False) for child in reversed(el))
        parts.append(piece)
        read += len(piece)
        if read >= look_at:  # the day is mostly near the top: look before reading on
            text = " ".join(" ".join(parts).split())
            if len(text) >= _TEXT_DAY_READ:
                break
            day = day_in_text(text, before=today, more_follows=True)
            if day is not None:
                return day
            look_at = 4 * read
    text = " ".join(" ".join(parts).split())
    return day_in_text(text[:_TEXT_DAY_READ], before=today)


def _article_part(el: Any) -> bool:
    if not isinstance(el.tag, str) or el.tag in _NOT_ARTICLE_TAGS or not _visible(el):
        return False
    if el.tag == "body":  # its classes describe the page ("no-sidebars"), not a part
        return True
    hint = marks(el)
    if _NOT_ARTICLE_HINT.search(hint):
        return False
    return not (_TEASER_HINT.search(hint) and _links_elsewhere(el))


def _links_elsewhere(teaser: HtmlElement) -> bool:
    """A teaser of another article is mostly its link; a box a site names "teaser" that
    holds this article (TYPO3's "newsSingle") has a few links in much text. Judged on
    the box's first characters: teasers nest in teasers, and each is measured."""
    text = linked = 0
    in_link = 0
    for event, el in etree.iterwalk(teaser, events=("start", "end")):
        is_link = el.tag == "a"
        if event == "start":
            in_link += is_link
            read = len(el.text or "") if isinstance(el.tag, str) else 0
        else:
            in_link -= is_link
            read = len(el.tail or "") if el is not teaser else 0
        text += read
        linked += read if in_link else 0
        if text >= _TEASER_READ:
            break
    return linked > 0 and linked * _TEASER_LINK_SHARE >= text


# A time written in UTC names the publisher's day only when the publisher keeps UTC.
# When the page's scripts (analytics, ad tags) write the same instant with an offset of
# its own, that is the publisher's clock, and its day is the day of publication.
_OFFSET_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?[+-]\d\d:?\d\d")
_OFFSET_TIMES_READ = 200  # at most, on a page


def _publishers_clock(published: str | None, tree: HtmlElement) -> str | None:
    """``published`` as the page's own clock writes it, when it writes the same instant
    with an offset other than UTC's."""
    if not published or "T" not in published:
        return published
    try:
        when = datetime.fromisoformat(published)
    except ValueError:
        return published
    if when.utcoffset() != timedelta(0):
        return published
    read = 0
    for script in tree.iter("script"):
        for m in _OFFSET_TIME.finditer(script.text or ""):
            read += 1
            if read > _OFFSET_TIMES_READ:
                return published
            try:
                local = datetime.fromisoformat(m.group(0))
            except ValueError:
                continue
            if local.utcoffset() and local == when:
                return local.isoformat()
    return published


def normalise_date(value: str | None) -> str | None:
    """ISO 8601 (date, or datetime with its offset when given); None when unparsable."""
    value = clean_text(value)
    if not value:
        return None
    iso = value.replace(" ", "T", 1) if re.match(r"\d{4}-\d\d-\d\d \d", value) else value
    try:
        if re.fullmatch(r"\d{4}-\d\d-\d\d", iso):
            return date.fromisoformat(iso).isoformat()
        return datetime.fromisoformat(iso).isoformat()
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(value).isoformat()
    except (TypeError, ValueError, IndexError):
        pass
    m = re.match(r"(\d{4}-\d\d-\d\d)", value)
    return m.group(1) if m else None


# ---------------------------------------------------------------- language, links


def normalise_language(value: str | None) -> str | None:
    """BCP 47 casing: "en_us" -> "en-US", "zh-hant-tw" -> "zh-Hant-TW"."""
    value = clean_text(value).split(",")[0].strip().replace("_", "-")
    if not re.fullmatch(r"[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*", value):
        return None
    parts = value.split("-")
    out = [parts[0].lower()]
    for p in parts[1:]:
        if len(p) == 2 and p.isalpha():
            out.append(p.upper())
        elif len(p) == 4 and p.isalpha():
            out.append(p.title())
        else:
            out.append(p.lower())
    return "-".join(out)


def _language(tree: HtmlElement, meta: dict[str, str], ld: dict[str, Any]) -> str | None:
    root = tree.getroottree().getroot()
    body = tree.find(".//body")
    candidates = [
        root.get("lang"),
        root.get("xml:lang") or root.get("{http://www.w3.org/XML/1998/namespace}lang"),
        body.get("lang") if body is not None else None,
        meta.get("content-language"),
        meta.get("dc:language"),
        meta.get("og:locale"),
        ld.get("inLanguage") if isinstance(ld.get("inLanguage"), str) else None,
    ]
    for c in candidates:
        lang = normalise_language(c)
        if lang:
            return lang
    return None


def _direction(tree: HtmlElement, language: str | None) -> str | None:
    root = tree.getroottree().getroot()
    body = tree.find(".//body")
    for el in (root, body):
        d = (el.get("dir") or "").strip().lower() if el is not None else ""
        if d in ("rtl", "ltr"):
            return d
    if language:
        return "rtl" if language.split("-")[0] in RTL_LANGUAGES else "ltr"
    return None


def _canonical(tree: HtmlElement, meta: dict[str, str], url: str) -> str | None:
    href = ""
    for el in tree.iter("link"):
        if "canonical" in (el.get("rel") or "").lower().split() and el.get("href"):
            href = el.get("href") or ""
            break
    if not href:
        og = tree.xpath('//meta[@property="og:url"]/@content')
        href = str(og[0]) if og else ""
    href = href.strip()
    if not href:
        return None
    try:
        absolute = urljoin(url, href)
    except ValueError:
        return None
    return absolute if urlsplit(absolute).scheme in ("http", "https") else None
