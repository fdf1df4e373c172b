"""The reader page (index.html of a bundle): sanitized article, local images, banner.

The page must make no network request when opened: a strict Content-Security-Policy
(no scripts at all, images only from the bundle), no referrer, no DNS prefetch, and
the body is passed through nh3 once more here so that only local image paths and
plain links can survive, whatever HTML the caller hands in.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

import nh3

from mirror.capture.days import human_date
from mirror.capture.sanitize import (
    ALLOWED_ATTRIBUTES,
    ALLOWED_TAGS,
    LINK_REL,
    img_attributes,
    safe_link,
)

__all__ = ["CSP", "render_reader_page"]

# No data: in img-src: every image of the bundle is a file under assets/.
CSP = (
    "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'"
)

_ASSET_PATH = re.compile(r"^assets/[0-9a-f]{64}\.(?:png|jpg|gif|webp|avif)$")
_IMG_TAG = re.compile(r"<img\b([^>]*)>")
_LANG = re.compile(r"^[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8}){0,6}$")
_H1 = re.compile(r"^\s*<h1\b[^>]*>(.*?)</h1>", re.S)
_TAGS = re.compile(r"<[^>]*>")
_WS = re.compile(r"\s+")
_DROP_WITH_CONTENT = {"script", "style", "template", "svg", "math", "iframe", "object", "noscript"}

_STYLE = """
:root { color-scheme: light dark; --fg: #1d1d1f; --bg: #fdfdfb; --muted: #5f6368;
  --rule: #d9d9d4; --note: #f3efe2; --link: #1a4f8b; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6e4df; --bg: #161616; --muted: #a6a39c; --rule: #3a3a38;
    --note: #26241e; --link: #8ab4f8; }
}
html { background: var(--bg); color: var(--fg); }
body { margin: 0; padding: 0 1.25rem 4rem; font: 1.125rem/1.65 ui-serif, Georgia, Cambria,
  "Times New Roman", Times, serif; text-rendering: optimizeLegibility;
  overflow-wrap: break-word; }
.mirror-banner { max-width: 45rem; box-sizing: border-box; margin: 0 auto;
  padding: .75rem 1rem; background: var(--note);
  border-bottom: 1px solid var(--rule); font: .875rem/1.45 system-ui, -apple-system,
  "Segoe UI", Roboto, sans-serif; color: var(--muted); }
.mirror-banner p { margin: .2rem 0; }
.mirror-banner .url { overflow-wrap: anywhere; color: var(--fg); }
main { max-width: 45rem; margin: 0 auto; }
article > header { margin: 2.5rem 0 2rem; }
h1, h2, h3, h4, h5, h6 { line-height: 1.25; margin: 2rem 0 .75rem; font-weight: 700; }
h1 { font-size: 2.1rem; margin-top: 0; }
h2 { font-size: 1.5rem; } h3 { font-size: 1.25rem; }
.meta { font: .95rem/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--muted); margin: .5rem 0 0; }
p, ul, ol, dl, blockquote, pre, table, figure { margin: 0 0 1.15rem; }
a { color: var(--link); }
img { max-width: 100%; height: auto; display: block; margin: 0 auto; }
figure { margin-left: 0; margin-right: 0; }
figcaption { font-size: .9rem; color: var(--muted); margin-top: .4rem; }
.missing-image { display: inline-block; font: .85rem/1.4 system-ui, sans-serif;
  color: var(--muted); border: 1px dashed var(--rule); padding: .3rem .6rem; }
blockquote { margin-left: 0; padding-left: 1rem; border-left: 3px solid var(--rule);
  color: var(--muted); }
pre { overflow-x: auto; padding: .75rem; background: var(--note); font-size: .9rem; }
code, kbd, samp { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
  font-size: .9em; }
table { border-collapse: collapse; display: block; overflow-x: auto; max-width: 100%; }
th, td { border: 1px solid var(--rule); padding: .3rem .6rem; text-align: start; }
hr { border: 0; border-top: 1px solid var(--rule); margin: 2rem 0; }
"""


def _final_clean(
    body_html: str, local_paths: frozenset[str], assets: Mapping[str, str], base_url: str
) -> str:
    """nh3 with the article allow-list; image sources must map to a local asset."""

    def attribute_filter(tag: str, attr: str, value: str) -> str | None:
        if attr == "href":
            return safe_link(value, base_url)
        if attr == "src":
            if value in local_paths:
                return value
            local = assets.get(value)
            return local if local in local_paths else None
        return value

    attributes = {k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()}
    return nh3.clean(
        body_html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=_DROP_WITH_CONTENT,
        attributes=attributes,
        attribute_filter=attribute_filter,
        strip_comments=True,
        link_rel=LINK_REL,
        url_schemes={"http", "https"},
        allowed_classes={"span": {"missing-image"}},
    )


def _swap_images(body: str, local_paths: frozenset[str]) -> str:
    """Images without a local copy become their alt text, in a visible placeholder."""

    def one(m: re.Match[str]) -> str:
        attrs = img_attributes(m.group(1))
        alt = attrs.get("alt", "").strip()
        src = attrs.get("src")
        if src in local_paths:
            kept = "".join(
                f' {k}="{html.escape(attrs[k])}"'
                for k in ("src", "alt", "width", "height")
                if k in attrs
            )
            return f"<img{kept}>"
        text = f"[image: {alt}]" if alt else "[image not captured]"
        return f'<span class="missing-image">{html.escape(text)}</span>'

    return _IMG_TAG.sub(one, body)


def _text(fragment: str) -> str:
    return _WS.sub(" ", html.unescape(_TAGS.sub("", fragment))).strip().casefold()


def render_reader_page(
    *,
    body_html: str,
    title: str,
    byline: str,
    published: str | None,
    site_name: str | None,
    lang: str | None,
    direction: str | None,
    source_url: str,
    captured_at: str,
    key_id: str,
    assets: Mapping[str, str],
) -> bytes:
    """The complete reader page as UTF-8 bytes; same inputs give the same bytes.

    `assets` maps an image's absolute URL to its path in the bundle
    (`assets/<sha256>.<ext>`); images not in it are replaced by their alt text.
    """
    local_paths = frozenset(p for p in assets.values() if _ASSET_PATH.match(p))
    body = _final_clean(body_html, local_paths, assets, source_url)
    body = _swap_images(body, local_paths)
    # Second pass: the swapped markup goes through the same allow-list again.
    body = _final_clean(body, local_paths, {}, source_url).strip()

    e = html.escape
    attrs = ""
    if lang and _LANG.match(lang):
        attrs += f' lang="{e(lang)}"'
    if direction in ("ltr", "rtl", "auto"):
        attrs += f' dir="{direction}"'
    page_title = title.strip() or "Untitled article"
    h1 = _H1.match(body)
    heading = "" if h1 and _text(h1.group(1)) == _text(page_title) else f"<h1>{e(page_title)}</h1>"
    meta = [e(x.strip()) for x in (byline, site_name or "") if x and x.strip()]
    if published and published.strip():
        shown = human_date(published.strip(), lang)
        meta.append(f'<time datetime="{e(published.strip())}">{e(shown)}</time>')
    meta_html = f'<p class="meta">{" · ".join(meta)}</p>' if meta else ""
    doc = f"""<!DOCTYPE html>
<html{attrs}>
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="referrer" content="no-referrer">
<meta http-equiv="x-dns-prefetch-control" content="off">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{e(page_title)}</title>
<style>{_STYLE}</style>
</head>
<body>
<div class="mirror-banner" role="note" lang="en" dir="ltr">
<p>Unofficial mirror of <span class="url">{e(source_url)}</span>, captured {e(captured_at)},
signed by <code>{e(key_id)}</code>.</p>
<p>This copy can be verified with <code>mirror verify</code>, or on a phone with the
publisher's verifier page (<code>verify.html</code>, one file, nothing to install): open it and
choose this file.</p>
</div>
<main>
<article>
<header>
{heading}
{meta_html}
</header>
{body}
</article>
</main>
</body>
</html>
"""
    return doc.encode("utf-8")
