"""Image fetching: type sniffing, header dimensions, limits and the overall deadline."""

from __future__ import annotations

import contextlib
import hashlib
import struct
import threading
import time
import zlib

import pytest

from mirror.capture.assets import ImageRejected, fetch_images, sniff_image
from mirror.capture.sanitize import ImageRef
from mirror.errors import NetworkError


def png(w: int, h: int) -> bytes:
    """A PNG (PNG spec: signature, IHDR, IDAT, IEND with CRC-32); pixel data only for
    small sizes, since only the header is read."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"".join(b"\x00" + b"\x80" * min(w, 64) for _ in range(min(h, 64))))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", rows) + chunk(b"IEND", b"")


def jpeg(w: int, h: int) -> bytes:
    # SOI, an APP0 segment, then SOF0 with precision, height, width (ITU T.81).
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, h, w, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + b"\xff" + sof + b"\xff\xd9"


def gif(w: int, h: int) -> bytes:
    return b"GIF89a" + struct.pack("<HH", w, h) + b"\x00\x00\x00;"


def webp_vp8x(w: int, h: int) -> bytes:
    body = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00" + (w - 1).to_bytes(3, "little")
    body += (h - 1).to_bytes(3, "little")
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def webp_vp8l(w: int, h: int) -> bytes:
    bits = (w - 1) | ((h - 1) << 14)
    body = b"VP8L" + struct.pack("<I", 5) + b"\x2f" + bits.to_bytes(4, "little") + b"\x00" * 8
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def webp_vp8(w: int, h: int) -> bytes:
    frame = b"\x00\x00\x00" + b"\x9d\x01\x2a" + struct.pack("<HH", w, h) + b"\x00" * 8
    body = b"VP8 " + struct.pack("<I", len(frame)) + frame
    return b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body


def avif(w: int, h: int) -> bytes:
    ftyp = struct.pack(">I", 24) + b"ftypavif" + b"\x00\x00\x00\x00" + b"mif1avif"
    ispe = struct.pack(">I", 20) + b"ispe" + b"\x00\x00\x00\x00" + struct.pack(">II", w, h)
    return ftyp + struct.pack(">I", 8 + len(ispe)) + b"meta" + ispe


@pytest.mark.parametrize(
    ("data", "mime", "ext"),
    [
        (png(640, 480), "image/png", "png"),
        (jpeg(640, 480), "image/jpeg", "jpg"),
        (gif(640, 480), "image/gif", "gif"),
        (webp_vp8x(640, 480), "image/webp", "webp"),
        (webp_vp8l(640, 480), "image/webp", "webp"),
        (webp_vp8(640, 480), "image/webp", "webp"),
        (avif(640, 480), "image/avif", "avif"),
    ],
)
def test_sniff_type_and_dimensions(data: bytes, mime: str, ext: str) -> None:
    info = sniff_image(data, max_pixels=10**8)
    assert (info.mime, info.ext, info.width, info.height) == (mime, ext, 640, 480)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>x()</script></svg>',
            "SVG",
        ),
        (b"  <svg onload='x()'/>", "SVG"),
        (b"<html>not an image</html>", "not a PNG"),
        (b"", "not a PNG"),
        (b"\xff\xd8\xff\xd9", "not a PNG"),  # JPEG without a frame header
        (png(0, 10), "invalid image dimensions"),
        (png(50_000, 50_000), "decompression bomb"),
        (gif(65535, 65535), "decompression bomb"),
        (webp_vp8x(16_000_000, 16_000_000), "decompression bomb"),
    ],
)
def test_sniff_rejects(data: bytes, reason: str) -> None:
    with pytest.raises(ImageRejected, match=reason):
        sniff_image(data, max_pixels=40_000_000)


def test_truncated_jpeg_never_loops_or_crashes() -> None:
    data = jpeg(10, 10)
    for n in range(len(data)):
        with contextlib.suppress(ImageRejected):
            sniff_image(data[:n], max_pixels=10**8)


def refs(*urls: str) -> list[ImageRef]:
    return [ImageRef(url=u, alt="") for u in urls]


def test_fetch_images_keeps_good_and_explains_the_rest() -> None:
    bodies = {
        "https://i.example/ok.png": png(20, 10),
        "https://i.example/big.jpg": jpeg(10, 10) + b"\x00" * 2000,
        "https://i.example/evil.svg": b"<svg><script>alert(1)</script></svg>",
        "https://i.example/bomb.png": png(60_000, 60_000),
        "https://i.example/page.html": b"<html></html>",
    }

    def fetch(url: str) -> tuple[bytes, str | None]:
        if url.endswith("gone.png"):
            raise NetworkError(f"HTTP 404 for {url}")
        return bodies[url], "image/png"

    r = fetch_images(
        refs(*bodies, "https://i.example/gone.png", "https://i.example/ok.png"),
        fetch,
        max_bytes_each=1000,
    )
    ok = r.assets["https://i.example/ok.png"]
    assert ok.path == f"assets/{hashlib.sha256(png(20, 10)).hexdigest()}.png"
    assert (ok.mime, ok.width, ok.height) == ("image/png", 20, 10)
    assert list(r.assets) == ["https://i.example/ok.png"]
    reasons = {f.url.rsplit("/", 1)[1]: f.reason for f in r.failed}
    assert "larger than 1000 bytes" in reasons["big.jpg"]
    assert "SVG" in reasons["evil.svg"]
    assert "decompression bomb" in reasons["bomb.png"]
    assert "not a PNG" in reasons["page.html"]
    assert reasons["gone.png"] == "HTTP 404 for https://i.example/gone.png"
    assert len(r.failed) == 5  # the duplicate ok.png is fetched once


def test_total_budget_and_count_limits_follow_article_order() -> None:
    data = {f"https://i.example/{i}.gif": gif(1, 1) + bytes([i]) * 100 for i in range(6)}
    r = fetch_images(refs(*data), lambda u: (data[u], None), max_total=350, max_images=5)
    assert list(r.assets) == [f"https://i.example/{i}.gif" for i in range(3)]
    assert [f.reason.split(" ")[0] for f in r.failed] == ["total", "total", "more"]


def test_deadline_when_no_host_answers() -> None:
    release = threading.Event()

    def hang(url: str) -> tuple[bytes, str | None]:
        release.wait(30)
        return png(1, 1), None

    t0 = time.monotonic()
    try:
        r = fetch_images(
            refs(*(f"https://slow.example/{i}" for i in range(20))), hang, deadline_s=0.5
        )
    finally:
        release.set()
    assert time.monotonic() - t0 < 2.0
    assert r.assets == {}
    assert len(r.failed) == 20 and all("timed out" in f.reason for f in r.failed)


def test_unexpected_error_is_not_swallowed() -> None:
    def broken(url: str) -> tuple[bytes, str | None]:
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        fetch_images(refs("https://i.example/x"), broken)
