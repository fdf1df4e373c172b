"""Content of a bundle made from the publisher's own local files (`mirror bundle`)."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ..bundle import collect_folder
from ..errors import UsageError
from ..store import read_bytes

MAX_PAGE = 32 << 20
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.S | re.I)
_SRC = re.compile(rb"""<img\b[^>]*?\bsrc\s*=\s*["']?([^"'\s>]+)""", re.I)


def _page_title(page: bytes) -> str | None:
    match = _TITLE.search(page)
    if not match:
        return None
    return html.unescape(match.group(1).decode("utf-8", "replace")).strip() or None


def local_content(
    src: Path, *, url: str | None, title: str | None
) -> tuple[dict[str, bytes | Path], dict[str, Any], dict[str, Any]]:
    if src.is_dir():
        files: dict[str, bytes | Path] = dict(collect_folder(src))
        if "index.html" not in files:
            raise UsageError(f"{src} has no index.html")
        page = read_bytes(src / "index.html", limit=MAX_PAGE, what="page")
    elif src.is_file():
        page = read_bytes(src, limit=MAX_PAGE, what="page")
        files = {"index.html": page}
        for match in _SRC.finditer(page):
            ref = unquote(match.group(1).decode("utf-8", "replace"))
            if urlsplit(ref).scheme or ref.startswith("/"):
                continue  # remote or absolute: not a local image
            image = (src.parent / ref).resolve()
            if image.is_file() and image.is_relative_to(src.parent.resolve()):
                files[image.relative_to(src.parent.resolve()).as_posix()] = image
    else:
        raise UsageError(f"not a file or folder: {src}")
    article = {"title": title or _page_title(page) or src.name, "canonical_url": url}
    capture = {"requested_url": url, "final_url": url, "origin": "local files"}
    return files, {k: v for k, v in article.items() if v is not None}, capture
