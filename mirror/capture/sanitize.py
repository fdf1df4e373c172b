"""Privacy-safe article HTML for the reader page.

The reader page must make no network request when opened, so the article fragment
goes through nh3 (ammonia) with a small allow-list: no scripts, no styles, no
embedded content, and an attribute filter that decides every URL itself (nh3 checks
its scheme list before the filter runs, so the filter is the authority).

A pre-pass over an lxml tree of the input finds the real URL of lazy-loaded images
and counts what is removed, for the provenance record. The pre-pass only prepares
input for nh3; nh3's output is what reaches the page.
"""

from __future__ import annotations

import functools
import html as _html
import ipaddress
import re
import socket
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import urljoin, urlsplit

import lxml.html
import nh3

from mirror.capture.markup import LAZY_SRC_ATTRS, LAZY_SRCSET_ATTRS, NOSCRIPT_PICTURE, parse_page

__all__ = [
    "ALLOWED_ATTRIBUTES",
    "ALLOWED_TAGS",
    "CachedCheck",
    "ImageRef",
    "Sanitized",
    "clean_url",
    "image_source",
    "is_local_host",
    "page_image_url",
    "safe_link",
    "sanitize_article",
]

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "article", "b", "bdi", "bdo", "blockquote", "br", "caption", "cite",
        "code", "dd", "del", "details", "dfn", "div", "dl", "dt", "em", "figcaption",
        "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li",
        "mark", "ol", "p", "pre", "q", "s", "samp", "section", "small", "span", "strong",
        "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "time",
        "tr", "u", "ul", "var", "wbr",
    }
)  # fmt: skip

# Only attributes that never make a browser fetch anything; URLs are in href/src alone
# and both go through the filter below.
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "*": {"lang", "dir", "title"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "ol": {"start", "reversed", "type"},
    "li": {"value"},
    "time": {"datetime"},
    "abbr": {"title"},
}

# Removed together with their content: text inside them is not article text.
_DROP_WITH_CONTENT = frozenset(
    {
        "script", "style", "template", "svg", "math", "iframe", "frame", "frameset",
        "object", "applet", "noscript", "noembed", "noframes", "textarea", "select",
        "title", "xmp", "portal", "video", "audio", "head", "xml", "button", "datalist",
        "canvas", "map", "menu", "dialog", "plaintext", "listing",
    }
)  # fmt: skip

LINK_REL = "noopener noreferrer nofollow"

# How removals are reported (provenance "what the sanitizer removed").
_KIND_OF_TAG = {
    "script": "script",
    "style": "style",
    "link": "link",
    "meta": "meta",
    "base": "base",
    "iframe": "iframe",
    "frame": "iframe",
    "frameset": "iframe",
    "portal": "iframe",
    "object": "embed",
    "embed": "embed",
    "applet": "embed",
    "param": "embed",
    "svg": "svg",
    "math": "math",
    "template": "template",
    "noscript": "noscript",
    "form": "form",
    "input": "form",
    "button": "form",
    "select": "form",
    "textarea": "form",
    "isindex": "form",
    "video": "media",
    "audio": "media",
    "source": "media",
    "track": "media",
    "bgsound": "media",
    "canvas": "media",
}

# Attributes that make a browser fetch (or report to) a URL on its own.
_FETCHING_ATTRS = frozenset(
    {
        "src", "srcset", "poster", "background", "data", "lowsrc", "dynsrc", "ping",
        "action", "formaction", "imagesrcset", "codebase", "manifest", "longdesc",
        "attributionsrc", "archive", "movie", "profile", "xlink:href", "icon", "code",
        "usemap", "cite", "srcdoc",
    }
)  # fmt: skip

# Ports of a local IPFS node: RPC API and gateway. A link there would act on the
# reader's own node.
_IPFS_PORTS = frozenset({5001, 8080})
_C0_OR_SPACE = "".join(chr(c) for c in range(0x21))
_TAB_NEWLINE = re.compile(r"[\t\n\r]")
# What a clean URL never holds: C0 controls, space, quotes, angle brackets, backtick.
_BAD_URL_CHAR = re.compile(r"[\x00-\x1f <>\"'`]")
R = TypeVar("R")
_CACHE_SIZE = 4096
_CACHE_MAX_CHARS = 2048
_DIGITS = re.compile(r"^[0-9]{1,5}$")
_IMG_TAG = re.compile(r"<img\b([^>]*)>")
_ATTR = re.compile(r'\s([a-zA-Z_:][-a-zA-Z0-9_:.]*)="([^"]*)"')


@dataclass(frozen=True, slots=True)
class ImageRef:
    """An image the article shows: absolute http(s) URL and its alt text."""

    url: str
    alt: str


@dataclass(frozen=True, slots=True)
class Sanitized:
    """Sanitized article HTML, the images it references, and removal counts by kind."""

    html: str
    images: tuple[ImageRef, ...]
    removed: dict[str, int]


class CachedCheck(Generic[R]):
    """A pure function of strings with its recent answers remembered: the same links
    are checked by the sanitizer and twice more by the reader page, and a page's links
    name a few hosts many times over. Long arguments are worked out each time, not
    kept, so the cache stays small whatever a page holds."""

    def __init__(self, fn: Callable[..., R]) -> None:
        self.fn = fn
        self.cached = functools.lru_cache(maxsize=_CACHE_SIZE)(fn)

    def __call__(self, *args: str) -> R:
        if any(len(a) > _CACHE_MAX_CHARS for a in args):
            return self.fn(*args)
        return self.cached(*args)


def clean_url(value: str, base_url: str) -> str | None:
    """Resolve a URL as a browser would and return it when it is plain http(s).

    Follows the WHATWG rules that matter for a differential between Python and the
    browser: leading/trailing C0 and space stripped, tabs and newlines removed
    anywhere, backslash as slash. Refuses credentials, protocol-relative input and
    anything that does not round-trip through a simple http(s) form.
    """
    return _CLEAN_URL(value, base_url)


def _clean_url(value: str, base_url: str) -> str | None:
    v = _TAB_NEWLINE.sub("", value.strip(_C0_OR_SPACE)).replace("\\", "/")
    if not v or v.startswith("//"):
        return None
    try:
        absolute = urljoin(base_url, v)
        parts = urlsplit(absolute)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    if "@" in parts.netloc or port == 0:
        return None
    if _BAD_URL_CHAR.search(absolute):
        return None
    return absolute


_CLEAN_URL = CachedCheck(_clean_url)


def is_local_host(host: str) -> bool:
    """True for loopback, private, link-local and other non-public addresses (also
    written as `0x7f000001`, `2130706433` or `127.1`) and for localhost names."""
    return _IS_LOCAL_HOST(host)


def _is_local_host(host: str) -> bool:
    h = host.strip("[]").rstrip(".").lower()
    if h == "localhost" or h.endswith(".localhost") or h.endswith(".local"):
        return True
    addr: ipaddress.IPv4Address | ipaddress.IPv6Address | None
    try:
        addr = ipaddress.ip_address(h)
    except ValueError:
        try:
            # Legacy IPv4 forms (hex, octal, fewer dots) that browsers also accept.
            addr = (
                ipaddress.IPv4Address(socket.inet_aton(h))
                if re.fullmatch(r"[0-9a-fx.]+", h)
                else None
            )
        except OSError:
            addr = None
    if addr is None:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return not addr.is_global or addr.is_multicast


_IS_LOCAL_HOST = CachedCheck(_is_local_host)


def safe_link(value: str, base_url: str) -> str | None:
    """The absolute http(s) URL a reader may follow, or None to make the link inert."""
    return _SAFE_LINK(value, base_url)


def _safe_link(value: str, base_url: str) -> str | None:
    url = clean_url(value, base_url)
    if url is None:
        return None
    parts = urlsplit(url)
    if is_local_host(parts.hostname or "") or parts.port in _IPFS_PORTS:
        return None
    if parts.path.startswith("/api/v0/"):
        return None
    return url


_SAFE_LINK = CachedCheck(_safe_link)


def _image_url(value: str, base_url: str) -> str | None:
    v = value.strip(_C0_OR_SPACE).lower()
    if not v or v.startswith(("data:", "about:", "#")):
        return None
    return clean_url(value, base_url)


# The widest srcset candidate up to this many pixels across (or 2x density) is the
# best one: wider copies only cost bytes against the image limits of a capture.
MAX_IMAGE_WIDTH = 1600
MAX_IMAGE_DENSITY = 2.0


def page_image_url(value: str, base_url: str) -> str | None:
    """Like _image_url, but a protocol-relative URL takes the page's scheme, as in a
    browser (for reading the page itself; the sanitizer refuses them in its input)."""
    v = value.strip(_C0_OR_SPACE)
    if v.startswith("//"):
        value = urlsplit(base_url).scheme + ":" + v
    return _image_url(value, base_url)


def _best_srcset(value: str, base_url: str, page: bool = False) -> str | None:
    """The widest candidate of a srcset within the limits above (the narrowest one when
    all are wider); a candidate without a descriptor counts as 1x."""
    fitting: tuple[float, str] | None = None
    smallest: tuple[float, str] | None = None
    for raw in value.split(","):
        fields = raw.split()
        if not fields:
            continue
        url = (page_image_url if page else _image_url)(fields[0], base_url)
        if url is None:
            continue
        size, limit = 1.0, MAX_IMAGE_DENSITY
        if len(fields) > 1 and fields[1][:-1].replace(".", "", 1).isdigit():
            size = float(fields[1][:-1])
            limit = MAX_IMAGE_WIDTH if fields[1][-1:].lower() == "w" else MAX_IMAGE_DENSITY
        if size <= limit and (fitting is None or size > fitting[0]):
            fitting = (size, url)
        if smallest is None or size < smallest[0]:
            smallest = (size, url)
    best = fitting or smallest
    return best[1] if best else None


def image_source(img: Any, base_url: str, *, page: bool = False) -> str | None:
    """An <img>'s real URL across lazy-loading conventions: the best srcset candidate
    (of the image or of its <picture>'s sources), else a lazy-loading attribute, else
    ``src``. ``page``: the image is read from the fetched page itself, where
    protocol-relative URLs are resolved as a browser does."""
    one = page_image_url if page else _image_url
    for name in LAZY_SRCSET_ATTRS:
        url = _best_srcset(img.get(name) or "", base_url, page)
        if url:
            return url
    # libxml2 may nest <img> inside a preceding <source>: look at the whole <picture>.
    for picture in img.iterancestors("picture"):
        for source in picture.iter("source"):
            if source.get("media"):  # art direction for other screens: not this copy
                continue
            srcset = source.get("srcset") or source.get("data-srcset") or ""
            url = _best_srcset(srcset, base_url, page)
            if url:
                return url
    for name in LAZY_SRC_ATTRS:
        url = one(img.get(name) or "", base_url)
        if url:
            return url
    return one(img.get("src") or "", base_url)


def _prepare(fragment_html: str, base_url: str, removed: Counter[str]) -> str:
    """Count what will go, localise lazy images, unwrap image fallbacks in <noscript>."""
    doc = parse_page(fragment_html)
    if doc is None:
        return ""
    for el in doc.iter():
        tag = el.tag if isinstance(el.tag, str) else ""
        kind = _KIND_OF_TAG.get(tag.lower())
        if kind:
            removed[kind] += 1
        for name, value in el.attrib.items():
            n = name.lower()
            if n == "href" and tag == "a":
                if safe_link(value, base_url) is None:
                    removed["unsafe-link"] += 1
            elif n.startswith("on"):
                removed["event-handler"] += 1
            elif n == "style":
                removed["style"] += 1
            elif (
                (n in _FETCHING_ATTRS or (n == "href" and tag not in ("area", "link", "base")))
                and value.strip()
                and not (tag == "img" and n in ("src", "srcset"))
            ):
                removed["remote-attr"] += 1
    # the parser made a lazy picture and its <noscript> copy one <img>; a <noscript>
    # holding a picture alone is shown for what it holds
    for ns in list(doc.iter("noscript")):
        if next(ns.iter("img"), None) is None or ns.getparent() is None:
            continue
        ns.drop_tag()
        removed["noscript"] -= 1
    if removed["noscript"] <= 0:
        del removed["noscript"]
    for img in doc.iter("img"):
        url = image_source(img, base_url)
        for name in (*LAZY_SRC_ATTRS, *LAZY_SRCSET_ATTRS, "src", NOSCRIPT_PICTURE):
            img.attrib.pop(name, None)
        if url:
            img.set("src", url)
        else:
            removed["image-unresolved"] += 1
    body = doc.find("body")
    if body is None:
        return ""
    parts = [_html.escape(body.text or "", quote=False)] + [
        lxml.html.tostring(c, encoding="unicode") for c in body
    ]
    return "".join(parts)


# Sanitizing the result again must change nothing. The pre-pass parses with libxml2,
# which nests a few things otherwise than nh3's HTML5 parser (a table inside a link,
# once an <svg> around it is gone, moves out of the link on the next pass), so the
# result is run again until it is its own result.
_MAX_PASSES = 3


def sanitize_article(fragment_html: str, base_url: str) -> Sanitized:
    """Sanitize an article fragment (or a whole page) for the reader page.

    Links keep only plain http(s) targets (others lose their href but keep their
    text); images keep an absolute http(s) `src` (the reader page swaps it for a local
    copy or for the alt text). Everything else that could fetch is removed. What was
    removed is counted on the input as given.
    """
    result = _sanitize_once(fragment_html, base_url)
    for _ in range(_MAX_PASSES - 1):
        again = _sanitize_once(result.html, base_url)
        if again.html == result.html:
            break
        result = Sanitized(html=again.html, images=again.images, removed=result.removed)
    return result


def _sanitize_once(fragment_html: str, base_url: str) -> Sanitized:
    removed: Counter[str] = Counter()
    prepared = _prepare(fragment_html, base_url, removed)

    def attribute_filter(tag: str, attr: str, value: str) -> str | None:
        if attr == "href":
            return safe_link(value, base_url)
        if attr == "src":
            return _image_url(value, base_url)
        if attr in ("width", "height", "colspan", "rowspan", "start", "value"):
            return value if _DIGITS.match(value.strip()) else None
        return value

    html = nh3.clean(
        prepared,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(_DROP_WITH_CONTENT),
        attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
        attribute_filter=attribute_filter,
        strip_comments=True,
        link_rel=LINK_REL,
        url_schemes={"http", "https"},
    ).strip()
    images: dict[str, ImageRef] = {}
    for m in _IMG_TAG.finditer(html):
        attrs = img_attributes(m.group(1))
        src = attrs.get("src")
        if src and src not in images:
            images[src] = ImageRef(url=src, alt=attrs.get("alt", ""))
    return Sanitized(
        html=html, images=tuple(images.values()), removed=dict(sorted(removed.items()))
    )


def img_attributes(attr_text: str) -> dict[str, str]:
    """Attributes of an <img> tag as nh3 serialises it (double-quoted, escaped)."""
    return {m.group(1): _html.unescape(m.group(2)) for m in _ATTR.finditer(attr_text)}
