"""What a bundle says about its article, shared by capture and local bundles: the
reader page and article.md (reader_content), the manifest's article object
(article_fields) and the record of its images (image_record).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mirror.capture.assets import ImageResult
from mirror.capture.extract import Article
from mirror.capture.page import render_reader_page
from mirror.capture.sanitize import Sanitized

MAX_LISTED_FAILURES = 200  # missing images named in one manifest; the rest are counted


def _plain(value: str) -> str:
    # No lone surrogates in signed JSON (the strict parser refuses them).
    return value.encode("utf-8", "replace").decode("utf-8").strip()


def article_fields(article: Article, *, title: str | None = None) -> dict[str, Any]:
    """The manifest's article object: only fields with a value."""
    fields: dict[str, Any] = {
        "title": title or article.title,
        "byline": article.byline,
        "authors": [_plain(a) for a in article.authors if a.strip()],
        "published": article.published,
        "site_name": article.site_name,
        "language": article.language,
        "direction": article.direction,
        "description": article.description,
        "canonical_url": article.canonical_url,
    }
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if isinstance(value, str):
            value = _plain(value)
        if value:
            out[key] = value
    return out


def reader_content(
    article: Article,
    sanitized: Sanitized,
    images: ImageResult,
    *,
    source_url: str,
    captured_at: str,
    key_id: str,
    title: str | None = None,
) -> dict[str, bytes | Path]:
    """index.html, article.md and assets/ of a bundle (shared by capture and local)."""
    page = render_reader_page(
        body_html=sanitized.html,
        title=title or article.title,
        byline=article.byline,
        published=article.published,
        site_name=article.site_name,
        lang=article.language,
        direction=article.direction,
        source_url=source_url,
        captured_at=captured_at,
        key_id=key_id,
        assets={url: asset.path for url, asset in images.assets.items()},
    )
    content: dict[str, bytes | Path] = {
        "index.html": page,
        "article.md": article.markdown.encode("utf-8", "replace"),
    }
    for asset in images.assets.values():
        content[asset.path] = asset.data
    return content


def image_record(images: ImageResult) -> dict[str, Any]:
    failed = images.failed
    record: dict[str, Any] = {
        "stored": len({a.path for a in images.assets.values()}),
        "missing": [f.to_dict() for f in failed[:MAX_LISTED_FAILURES]],
    }
    if len(failed) > MAX_LISTED_FAILURES:
        record["missing_not_listed"] = len(failed) - MAX_LISTED_FAILURES
    return record
