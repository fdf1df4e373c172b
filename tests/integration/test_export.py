"""`mirror export`: one self-contained HTML file that verifies completely and detects any
re-encoding in transit. Also holds the small publisher set-up the reader tests share."""

from __future__ import annotations

import base64
import json
import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from mirror import export_format
from mirror.cli import main
from mirror.errors import UsageError

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A small valid PNG (facts from the PNG spec: signature, IHDR, IDAT, IEND)."""
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


_PARA = (
    "<p>"
    + "Москва: a long paragraph of reporting, «кавычки» and all, that goes on. " * 6
    + "</p>\n"
)
PAGE = (
    '<!DOCTYPE html>\n<html lang="ru">\n<head>\n<meta charset="utf-8">\n'
    "<title>Репортаж: test article</title>\n</head>\n<body>\n<article>\n<h1>Репортаж</h1>\n"
    + _PARA
    + '<figure><img src="assets/{a}" alt="red" width="60" height="30">'
    "<figcaption>The first image</figcaption></figure>\n"
    + _PARA
    + '<p>The same image inline <img src="assets/{a}" alt="again"> and more text.</p>\n'
    + '<figure><img src="assets/{b}" alt="blue"><figcaption>Another one</figcaption></figure>\n'
    + _PARA
    + '<p><a href="https://example.org/elsewhere">a link</a></p>\n</article>\n</body>\n</html>\n'
)


@dataclass
class Publisher:
    home: Path
    root: Path  # tmp dir
    bundle: Path
    cid: str
    runner: CliRunner

    def run(self, *args: str, home: Path | None = None) -> Result:
        env = {"MIRROR_HOME": str(home or self.home), "MIRROR_PASSPHRASE": "correct horse"}
        return self.runner.invoke(main, list(args), env=env, catch_exceptions=False)


def make_publisher(tmp: Path, name: str = "pub") -> Publisher:
    """A data directory with key NAME, trusting itself, and one signed bundle."""
    runner = CliRunner()
    home = tmp / "home"
    page = tmp / "page"
    (page / "assets").mkdir(parents=True)
    red, blue = png(60, 30, (200, 20, 20)), png(30, 30, (20, 20, 200))
    (page / "assets" / "red.png").write_bytes(red)
    (page / "assets" / "blue.png").write_bytes(blue)
    (page / "index.html").write_text(PAGE.format(a="red.png", b="blue.png"), encoding="utf-8")
    pub = Publisher(home, tmp, tmp / "bundle", "", runner)
    assert pub.run("keygen", "--name", name).exit_code == 0
    key = pub.run("key", "show", name).stdout.strip()
    assert pub.run("trust", "add", name, key).exit_code == 0
    result = pub.run("bundle", str(page), "-o", str(pub.bundle), "--url", "https://example.org/a")
    assert result.exit_code == 0, result.output
    pub.cid = result.stdout.strip()
    return pub


@pytest.fixture
def publisher(tmp_path: Path) -> Publisher:
    return make_publisher(tmp_path)


def export(pub: Publisher, out: Path, *extra: str) -> Result:
    return pub.run("export", str(pub.bundle), "-o", str(out), *extra)


def verify(pub: Publisher, target: Path) -> Result:
    return pub.run("verify", str(target), "--trust", "pub", "--json")


def test_export_is_one_verifiable_deterministic_file(publisher: Publisher, tmp_path: Path) -> None:
    a, b = tmp_path / "a.html", tmp_path / "b.html"
    assert export(publisher, a).exit_code == 0
    car = tmp_path / "bundle.car"
    assert publisher.run("car", str(publisher.bundle), "-o", str(car)).exit_code == 0
    assert publisher.run("export", str(car), "-o", str(b)).exit_code == 0  # from a CAR too
    assert a.read_bytes() == b.read_bytes()  # byte-identical for a given bundle

    result = verify(publisher, a)
    assert result.exit_code == 0, result.output
    verdict = json.loads(result.stdout)
    assert verdict["ok"] is True
    assert verdict["source"] == "single-file"
    assert verdict["root_cid"] == publisher.cid  # the root is recomputed, not copied
    assert verdict["files_checked"] == 3  # index.html and both images

    text = a.read_text(encoding="utf-8")
    assert text.count("<script") == 1  # only the inert data block
    assert '<script type="application/json" id="mirror-export">' in text
    assert "assets/red.png" not in text.split("</script>", 1)[1]  # inlined, not linked
    assert text.count("data:image/png;base64,") == 3
    csp = re.findall(r'http-equiv="Content-Security-Policy" content="([^"]*)"', text)
    assert csp == [export_format.EXPORT_CSP]  # the bundle's own policy is replaced
    assert text.index('<meta charset="utf-8">') < 100  # within the browser's prescan


def test_export_without_trust_needs_an_own_key(publisher: Publisher, tmp_path: Path) -> None:
    stranger = tmp_path / "stranger"
    out = tmp_path / "x.html"
    assert publisher.run("keygen", "--name", "other", home=stranger).exit_code == 0
    refused = publisher.run("export", str(publisher.bundle), "-o", str(out), home=stranger)
    assert refused.exit_code == 3
    assert "not signed by a trusted key" in refused.stderr
    assert not out.exists()
    key = publisher.run("key", "show", "pub").stdout.strip()
    ok = publisher.run("export", str(publisher.bundle), "-o", str(out), "--key", key, home=stranger)
    assert ok.exit_code == 0, ok.output
    assert not (tmp_path / "x.html.minisig").exists()  # not this data directory's bundle


def _variants(data: bytes) -> dict[str, bytes]:
    text = data.decode("utf-8")
    b64 = re.search(r"base64,([A-Za-z0-9+/=]+)", text)
    assert b64 is not None
    wrapped = "\n".join(b64.group(1)[i : i + 76] for i in range(0, len(b64.group(1)), 76))
    return {
        "crlf line endings": data.replace(b"\n", b"\r\n"),
        "trailing whitespace": data + b"\n",
        "reindented": data.replace(b"\n<p>", b"\n  <p>"),
        "base64 re-wrapped": text.replace(b64.group(1), wrapped, 1).encode(),
        "charset utf-16": text.encode("utf-16"),
        "charset windows-1251": text.encode("cp1251", "replace"),
        "byte-order mark": b"\xef\xbb\xbf" + data,
        "visible text edited": data.replace("Москва".encode(), "Мосвка".encode()),
        "image swapped": text.replace(
            b64.group(1), base64.b64encode(png(60, 30, (0, 0, 0))).decode(), 1
        ).encode(),
        "csp loosened": data.replace(b"img-src data:", b"img-src *", 1),
        "script injected": data.replace(b"</body>", b"<script>alert(1)</script></body>"),
        "tag reordered": data.replace(
            b'<meta charset="utf-8">\n<meta http-equiv', b"<meta http-equiv", 1
        ).replace(b"<title>", b'<meta charset="utf-8">\n<title>', 1),
    }


def test_reencoding_in_transit_is_detected(publisher: Publisher, tmp_path: Path) -> None:
    good = tmp_path / "good.html"
    assert export(publisher, good).exit_code == 0
    data = good.read_bytes()
    for what, changed in _variants(data).items():
        assert changed != data, what
        bad = tmp_path / "bad.html"
        bad.write_bytes(changed)
        result = verify(publisher, bad)
        assert result.exit_code == 3, f"{what}: {result.output}"
        assert "Traceback" not in result.output
    crlf = tmp_path / "crlf.html"
    crlf.write_bytes(data.replace(b"\n", b"\r\n"))
    assert "line endings were changed" in verify(publisher, crlf).stderr


def test_any_single_flipped_byte_fails(publisher: Publisher, tmp_path: Path) -> None:
    """Security case 14 for the export: a flipped byte anywhere is a failed verdict."""
    good = tmp_path / "good.html"
    assert export(publisher, good).exit_code == 0
    data = good.read_bytes()
    bad = tmp_path / "bad.html"
    step = max(1, len(data) // 97)
    for pos in range(0, len(data), step):
        changed = bytearray(data)
        changed[pos] ^= 0x01
        bad.write_bytes(bytes(changed))
        result = verify(publisher, bad)
        assert result.exit_code in (2, 3), f"byte {pos}: {result.output}"


def test_untrusted_key_is_refused(publisher: Publisher, tmp_path: Path) -> None:
    good = tmp_path / "good.html"
    assert export(publisher, good).exit_code == 0
    reader = tmp_path / "reader"
    assert publisher.run("keygen", "--name", "someone", home=reader).exit_code == 0
    other = publisher.run("key", "show", "someone", home=reader).stdout.strip()
    result = publisher.run("verify", str(good), "--key", other)
    assert result.exit_code == 3
    assert "not signed by a trusted key" in result.stderr


def test_page_with_script_cannot_be_exported(publisher: Publisher) -> None:
    """The export carries no executable script, whatever page a bundle holds."""
    manifest_json = (publisher.bundle / "manifest.json").read_bytes()
    for page in (
        b"<html><head></head><body><SCRIPT>x()</SCRIPT></body></html>",
        b"<html><body>no head</body></html>",
        b'<html><head></head><body><img src="data:image/png;base64,AAAA"></body></html>',
        "<html><head></head><body>\u00e9</body></html>".encode("latin-1"),
    ):
        with pytest.raises(UsageError):
            export_format.render(page, {}, manifest_json, None)


@pytest.mark.corpus
def test_size_overhead_of_a_real_page(tmp_path: Path) -> None:
    """A real article page (corpus) with its images: the export costs base64 (4/3) on
    the images plus the manifest, and drops the bundle's raw source copy."""
    source = CORPUS / "readability" / "bbc-1" / "source.html"
    if not source.is_file():
        pytest.skip("../shared/corpus is absent")
    pub = make_publisher(tmp_path)
    page = tmp_path / "real"
    (page / "assets").mkdir(parents=True)
    html_text = source.read_text(encoding="utf-8", errors="replace")
    body = re.sub(r"(?is)<script\b.*?</script>|<noscript\b.*?</noscript>", "", html_text)
    body = re.sub(r"(?is)<head\b.*?</head>", '<head><meta charset="utf-8"></head>', body)
    images = {f"assets/img{i}.png": png(300 + i, 200, (i * 40, 90, 120)) for i in range(3)}
    for path, data in images.items():
        (page / path).write_bytes(data)
    tags = "".join(
        f'<figure><img src="{p}" alt="photo {p}"><figcaption>Photo</figcaption></figure>'
        for p in images
    )
    # the figures go after a paragraph of the story, where extraction keeps them
    at = body.index("</p>", body.index("story-body") if "story-body" in body else 0) + 4
    (page / "index.html").write_text(body[:at] + tags + body[at:], encoding="utf-8")
    bundle = tmp_path / "real-bundle"
    assert pub.run("bundle", str(page), "-o", str(bundle)).exit_code == 0
    out = tmp_path / "real.html"
    result = pub.run("export", str(bundle), "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert verify(pub, out).exit_code == 0
    assert stats["size"] < stats["bundle_size"] * 1.6
    assert stats["inlined_images"] >= 1
    print(
        f"\nexport {stats['size']} bytes; bundle {stats['bundle_size']} bytes (ratio "
        f"{stats['overhead_vs_bundle']}); page + images {stats['carried_size']} bytes "
        f"(ratio {stats['size'] / stats['carried_size']:.3f})"
    )
