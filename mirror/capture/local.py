"""Content of a bundle made from the publisher's own local files (`mirror bundle`).

The publisher's own page stays whole: by default its whole body is the article, as
given (capture/given.py; `--extract` runs the extractor instead, for a saved full web
page; a matching `--profile` selects the content by the publisher's own selectors). It
is sanitized on the same allow-list as a capture, every image it references is taken
from the page's folder through the same type, size and pixel limits into
``assets/<sha256>.<ext>``, and the reader page carries the same CSP and banner. The
manifest's capture record says how the article was found (``article_from``).
Nothing is fetched from the network: an image that is not a local file is left out
and listed as missing, with its reason.

What goes into the bundle:
  index.html, article.md, assets/...   as for a captured page
  source/page.raw                      the original page, byte for byte
  source/files/<path>.raw              every other regular file of a source folder,
                                       each name suffixed ``.raw`` so no gateway or
                                       browser renders it (an ``.html`` or ``.svg``
                                       there could otherwise run as a web page);
                                       images the page shows are not repeated here:
                                       their bytes are under assets/
The manifest's capture record maps each original path to its bundle path.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

from mirror.bundle import BundleResult, collect_folder, write_bundle
from mirror.capture.assets import ImageResult, fetch_images
from mirror.capture.charset import decode_html
from mirror.capture.content import article_fields, image_record, reader_content
from mirror.capture.extract import Article, extract_article
from mirror.capture.given import page_article
from mirror.capture.profile import MAX_PROFILE_BYTES, Profile, load_profile
from mirror.capture.sanitize import Sanitized, sanitize_article
from mirror.clock import now_text, sha256_tag
from mirror.errors import UsageError
from mirror.signer import Signer
from mirror.store import read_bytes

__all__ = ["MAX_PAGE", "LocalOptions", "bundle_local", "local_content"]

MAX_PAGE = 32 << 20
MAX_IMAGE = 5 << 20
# Relative references of a local page are resolved against this base when no
# original URL is given, so local images can be told apart from remote ones.
LOCAL_BASE = "http://mirror-local.invalid/"
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.S | re.I)
_BODY = re.compile(r"<body\b[^>]*>(.*)</body>", re.S | re.I)
_LOCAL_HREF = re.compile(r'\shref="' + re.escape(LOCAL_BASE) + r'[^"]*"')


def _page_title(text: str) -> str | None:
    match = _TITLE.search(text)
    if not match:
        return None
    return html.unescape(re.sub(r"\s+", " ", match.group(1))).strip() or None


def _fallback_article(text: str, title: str | None) -> Article:
    """The whole page body as the article (a short page the extractor finds too small)."""
    match = _BODY.search(text)
    body = match.group(1) if match else text
    plain = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body))).strip()
    return Article(
        title=title or "",
        authors=(),
        published=None,
        site_name=None,
        language=None,
        direction=None,
        description=None,
        canonical_url=None,
        content_html=body,
        markdown=plain + "\n" if plain else "",
    )


class _LocalImages:
    """Maps image URLs (resolved against ``base``) back to files under ``root``."""

    def __init__(self, root: Path, base: str) -> None:
        self.root = root.resolve()
        self.base = base
        base_parts = urlsplit(base)
        self._prefix = (base_parts.scheme, base_parts.netloc)
        self._dir = base_parts.path.rsplit("/", 1)[0] + "/"
        self.used: dict[str, str] = {}  # original relative path -> asset path

    def file_for(self, url: str) -> Path | None:
        parts = urlsplit(url)
        if (parts.scheme, parts.netloc) != self._prefix or not parts.path.startswith(self._dir):
            return None
        rel = unquote(parts.path[len(self._dir) :])
        if not rel:
            return None
        candidate = (self.root / rel).resolve()
        if not candidate.is_relative_to(self.root) or not candidate.is_file():
            return None
        if any(p.startswith(".") for p in candidate.relative_to(self.root).parts):
            return None
        return candidate

    def fetch(self, url: str) -> tuple[bytes, str | None]:
        path = self.file_for(url)
        if path is None:
            raise UsageError("not a file of the page's folder (mirror bundle fetches nothing)")
        return read_bytes(path, limit=MAX_IMAGE, what="image"), None

    def collect(self, sanitized: Sanitized) -> ImageResult:
        result = fetch_images(sanitized.images, self.fetch, max_bytes_each=MAX_IMAGE)
        for url, asset in result.assets.items():
            path = self.file_for(url)
            if path is not None:
                self.used[path.relative_to(self.root).as_posix()] = asset.path
        return result


def _strip_local_links(html_text: str) -> str:
    # Links into a local folder mean nothing to a reader elsewhere: keep their text.
    return _LOCAL_HREF.sub("", html_text)


@dataclass(frozen=True, slots=True)
class LocalOptions:
    """How a local page becomes the article: as given (the default), through the
    extractor (`extract`, for a saved full web page), or through a site profile."""

    url: str | None = None
    title: str | None = None
    extract: bool = False
    profile: Profile | None = None


def _article(text: str, base: str, options: LocalOptions) -> tuple[Article, dict[str, Any]]:
    """The article and how it was found (for the provenance record)."""
    if options.profile is not None:
        article, matched = page_article(text, base, profile=options.profile)
        if matched:
            profile = options.profile
            return article, {"method": "profile", "name": profile.name, "sha256": profile.sha256}
    if options.extract:
        try:
            return extract_article(text, base), {"method": "extract"}
        except UsageError:
            return _fallback_article(text, _page_title(text)), {"method": "whole page"}
    return page_article(text, base)[0], {"method": "as given"}


def local_content(
    src: Path,
    options: LocalOptions,
    *,
    key_id: str | None = None,
    captured_at: str | None = None,
) -> tuple[dict[str, bytes | Path], dict[str, Any], dict[str, Any]]:
    """(bundle content, article metadata, capture provenance) for a local page.

    ``src`` is an HTML file (its images are looked up beside it) or a folder holding
    index.html (every other regular file is carried under source/files/).
    """
    url, title = options.url, options.title
    if src.is_dir():
        files = collect_folder(src)
        if "index.html" not in files:
            raise UsageError(f"{src} has no index.html")
        page_path, root = src / "index.html", src
    elif src.is_file():
        files, page_path, root = {}, src, src.parent
    else:
        raise UsageError(f"not a file or folder: {src}")
    raw = read_bytes(page_path, limit=MAX_PAGE, what="page")
    text, encoding = decode_html(raw, None)
    base = url or LOCAL_BASE
    if url is not None:
        # Resolve relative references against the page's own place under the URL.
        base = urljoin(url, page_path.name) if url.endswith("/") else url
    article, how = _article(text, base, options)
    sanitized = sanitize_article(article.content_html, base)
    if url is None:
        sanitized = Sanitized(
            _strip_local_links(sanitized.html), sanitized.images, sanitized.removed
        )
    images = _LocalImages(root, base)
    image_result = images.collect(sanitized)
    page_title = title or article.title or _page_title(text) or src.name
    when = captured_at or now_text()
    content = reader_content(
        article,
        sanitized,
        image_result,
        source_url=url or f"local file {page_path.name}",
        captured_at=when,
        key_id=key_id or "(see manifest.json)",
        title=page_title,
    )
    content["source/page.raw"] = raw
    carried: dict[str, str] = {}
    for rel, path in sorted(files.items()):
        if rel == "index.html" or rel in images.used:
            continue
        target = f"source/files/{rel}.raw"
        content[target] = path
        carried[rel] = target
    article_meta = article_fields(article, title=page_title)
    if url:
        article_meta.setdefault("canonical_url", url)
    capture: dict[str, Any] = {
        "origin": "local files",
        "requested_url": url,
        "final_url": url,
        "fetched_at": when,
        "charset": encoding,
        "body_size": len(raw),
        "body_sha256": sha256_tag(raw),
        "source_included": True,
        "article_from": how,
        "sanitizer_removed": dict(sanitized.removed),
        "images": image_record(image_result),
        "local_files": {**{rel: path for rel, path in sorted(images.used.items())}, **carried},
    }
    return content, article_meta, {k: v for k, v in capture.items() if v is not None}


def read_profile(path: Path | None) -> Profile | None:
    """The site profile in `path` (None: no profile)."""
    if path is None:
        return None
    return load_profile(read_bytes(path, limit=MAX_PROFILE_BYTES, what="profile"))


def bundle_local(src: Path, out: Path, options: LocalOptions, *, signer: Signer) -> BundleResult:
    """A bundle from the publisher's own files: an HTML file (with the local images it
    references) or a folder holding index.html (every regular file goes in)."""
    content, article, capture = local_content(src, options, key_id=signer.key.public.key_id)
    return write_bundle(out, content, article=article, capture=capture, signer=signer)
