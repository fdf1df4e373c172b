"""Fetch an article's images into the bundle, with limits, within a deadline.

Image types are sniffed from magic bytes (the server's Content-Type is not trusted)
and dimensions read from the headers without decoding, so a decompression bomb is
refused before anything ever decodes it. SVG is refused: it can carry scripts and
references of its own.
"""

from __future__ import annotations

import hashlib
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mirror.capture.sanitize import ImageRef
from mirror.errors import MirrorError

__all__ = [
    "Asset",
    "Failure",
    "ImageInfo",
    "ImageResult",
    "fetch_images",
    "sniff_image",
]

MiB = 1024 * 1024

Fetch = Callable[[str], tuple[bytes, str | None]]


@dataclass(frozen=True, slots=True)
class ImageInfo:
    mime: str
    ext: str
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Asset:
    """An image stored in the bundle at `path` (`assets/<sha256 hex>.<ext>`)."""

    path: str
    data: bytes
    mime: str
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Failure:
    """An image left out of the bundle and why (listed in the manifest)."""

    url: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"url": self.url, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class ImageResult:
    assets: dict[str, Asset]  # absolute image URL -> asset, in article order
    failed: tuple[Failure, ...]


class ImageRejected(MirrorError):
    """An image that is not one the reader page may show."""

    exit_code = 5


def _png(data: bytes) -> ImageInfo | None:
    # PNG spec: 8-byte signature, then the IHDR chunk (length, type, width, height).
    if not data.startswith(b"\x89PNG\r\n\x1a\n") or len(data) < 24 or data[12:16] != b"IHDR":
        return None
    w, h = struct.unpack(">II", data[16:24])
    return ImageInfo("image/png", "png", w, h)


def _gif(data: bytes) -> ImageInfo | None:
    if data[:6] not in (b"GIF87a", b"GIF89a") or len(data) < 10:
        return None
    w, h = struct.unpack("<HH", data[6:10])
    return ImageInfo("image/gif", "gif", w, h)


# JPEG start-of-frame markers carry the dimensions; C4, C8 and CC share the range but
# are other segments (ITU T.81, table B.1).
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg(data: bytes) -> ImageInfo | None:
    if not data.startswith(b"\xff\xd8\xff"):
        return None
    i = 2
    n = len(data)
    while i + 4 <= n:  # every step moves i forward, so the loop ends
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # standalone markers, no length
            i += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image / start of scan before a frame
            return None
        length = struct.unpack(">H", data[i + 2 : i + 4])[0]
        if length < 2:
            return None
        if marker in _SOF:
            if i + 9 > n:
                return None
            h, w = struct.unpack(">HH", data[i + 5 : i + 9])
            return ImageInfo("image/jpeg", "jpg", w, h)
        i += 2 + length
    return None


def _webp(data: bytes) -> ImageInfo | None:
    # RIFF container, WebP spec (RFC 9649): VP8 (lossy), VP8L (lossless), VP8X (extended).
    if len(data) < 30 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    chunk = data[12:16]
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        w, h = struct.unpack("<HH", data[26:30])
        return ImageInfo("image/webp", "webp", w & 0x3FFF, h & 0x3FFF)
    if chunk == b"VP8L" and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return ImageInfo("image/webp", "webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    if chunk == b"VP8X":
        w = int.from_bytes(data[24:27], "little") + 1
        h = int.from_bytes(data[27:30], "little") + 1
        return ImageInfo("image/webp", "webp", w, h)
    return None


def _avif(data: bytes) -> ImageInfo | None:
    # ISO-BMFF: an ftyp box naming the avif/avis brand; the size is in an `ispe`
    # (image spatial extents) property box: version/flags, width, height.
    if len(data) < 16 or data[4:8] != b"ftyp":
        return None
    size = struct.unpack(">I", data[:4])[0]
    brands = data[8 : min(max(size, 16), 256)]
    if b"avif" not in brands and b"avis" not in brands:
        return None
    best: tuple[int, int] | None = None
    head = data[: 256 * 1024]
    at = head.find(b"ispe")
    while at != -1 and at + 16 <= len(head):  # bounded by the slice length
        w, h = struct.unpack(">II", head[at + 8 : at + 16])
        if best is None or w * h > best[0] * best[1]:
            best = (w, h)
        at = head.find(b"ispe", at + 4)
    if best is None:
        return None
    return ImageInfo("image/avif", "avif", best[0], best[1])


def _looks_like_svg(data: bytes) -> bool:
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<?xml", b"<svg", b"<!doctype svg")) or b"<svg" in head


def sniff_image(data: bytes, *, max_pixels: int) -> ImageInfo:
    """Type and size of an image from its bytes; raises ImageRejected with a reason."""
    for probe in (_png, _jpeg, _gif, _webp, _avif):
        info = probe(data)
        if info is not None:
            break
    else:
        if _looks_like_svg(data):
            raise ImageRejected("SVG images are not kept (they can carry scripts)")
        raise ImageRejected("not a PNG, JPEG, GIF, WebP or AVIF image")
    if info.width <= 0 or info.height <= 0:
        raise ImageRejected(f"invalid image dimensions {info.width}x{info.height}")
    if info.width * info.height > max_pixels:
        raise ImageRejected(
            f"image of {info.width}x{info.height} pixels is over the limit of {max_pixels}"
            " (decompression bomb?)"
        )
    return info


def _one(url: str, fetch: Fetch, max_bytes_each: int, max_pixels: int) -> Asset | Failure:
    try:
        data, _content_type = fetch(url)
        if len(data) > max_bytes_each:
            return Failure(url, f"image larger than {max_bytes_each} bytes")
        info = sniff_image(data, max_pixels=max_pixels)
    except MirrorError as e:
        return Failure(url, str(e))
    digest = hashlib.sha256(data).hexdigest()
    return Asset(f"assets/{digest}.{info.ext}", data, info.mime, info.width, info.height)


def fetch_images(
    images: Sequence[ImageRef],
    fetch: Fetch,
    *,
    max_images: int = 40,
    max_bytes_each: int = 5 * MiB,
    max_total: int = 25 * MiB,
    max_pixels: int = 40_000_000,
    deadline_s: float = 45.0,
    workers: int = 6,
) -> ImageResult:
    """Fetch images in parallel; every image that cannot be kept gets a reason.

    Returns within `deadline_s` even when no host answers: unfinished images fail
    with "timed out" and their threads (daemons) are not waited for. The total-size
    budget is applied in article order, so the result does not depend on timing.
    """
    urls = list(dict.fromkeys(img.url for img in images))
    todo, over = urls[:max_images], urls[max_images:]
    results: dict[int, Asset | Failure | BaseException] = {}
    lock = threading.Condition()
    next_index = 0

    def worker() -> None:
        nonlocal next_index
        while True:
            with lock:
                if next_index >= len(todo):
                    return
                i = next_index
                next_index += 1
            outcome: Asset | Failure | BaseException
            try:
                outcome = _one(todo[i], fetch, max_bytes_each, max_pixels)
            except BaseException as e:  # re-raised in the caller's thread below
                outcome = e
            with lock:
                results[i] = outcome
                lock.notify_all()

    end = time.monotonic() + deadline_s
    for _ in range(min(workers, len(todo))):
        threading.Thread(target=worker, name="mirror-image", daemon=True).start()
    with lock:
        while len(results) < len(todo):
            left = end - time.monotonic()
            if left <= 0:
                break
            lock.wait(left)
        done = dict(results)
        next_index = len(todo)  # workers stop taking new images

    assets: dict[str, Asset] = {}
    failed: list[Failure] = []
    total = 0
    for i, url in enumerate(todo):
        outcome = done.get(i)
        if outcome is None:
            failed.append(Failure(url, f"timed out (image deadline of {deadline_s:g} s)"))
        elif isinstance(outcome, BaseException):
            raise outcome
        elif isinstance(outcome, Failure):
            failed.append(outcome)
        elif total + len(outcome.data) > max_total:
            failed.append(Failure(url, f"total image size over the limit of {max_total} bytes"))
        else:
            total += len(outcome.data)
            assets[url] = outcome
    failed.extend(Failure(u, f"more than {max_images} images in the article") for u in over)
    return ImageResult(assets=assets, failed=tuple(failed))
