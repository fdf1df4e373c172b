"""`mirror capture` end to end against a real HTTP server on 127.0.0.1, using the
vendored Readability pages in tests/fixtures/pages (no ../shared needed)."""

from __future__ import annotations

import base64
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mirror.capture import pipeline
from mirror.capture.fetch import FetchPolicy
from mirror.signer import Signer
from tests.conftest import Mirror
from tests.helpers.webserver import Server, redirect, respond, serve

PAGES = Path(__file__).resolve().parent.parent / "fixtures" / "pages"
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def manifest_of(bundle: Path) -> dict:
    envelope = json.loads((bundle / "manifest.json").read_bytes())
    return json.loads(base64.b64decode(envelope["payload"]))


def expected(name: str) -> dict:
    return json.loads((PAGES / name / "expected-metadata.json").read_text(encoding="utf-8"))


@pytest.fixture
def site() -> Iterator[Server]:
    routes: dict[str, object] = {}
    for page in sorted(PAGES.iterdir()):
        if page.is_dir():
            routes[f"/{page.name}/"] = respond((page / "source.html").read_bytes())
    with serve(routes) as server:  # type: ignore[arg-type]
        yield server


def verify_json(mirror: Mirror, target: Path) -> dict:
    run = mirror("verify", target, "--trust", "pub", "--json")
    assert run.exit_code == 0, run.stderr
    return json.loads(run.stdout)


def test_capture_one_page_makes_a_verified_bundle_and_car(
    mirror: Mirror, site: Server, tmp_path: Path
) -> None:
    out = tmp_path / "deep" / "er" / "ebb"
    url = site.url("/ebb-org/")
    run = mirror("capture", "--allow-private", url, "-o", out)
    assert run.exit_code == 0, run.stderr
    root = run.stdout.strip()
    assert re.fullmatch(r"bafy[a-z2-7]+", root)
    car = out.with_name("ebb.car")
    assert car.is_file() and not (out / "ebb.car").exists()
    names = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert {"index.html", "article.md", "manifest.json", "source/page.raw"} <= set(names)
    assert (out / "source" / "page.raw").read_bytes() == (
        PAGES / "ebb-org" / "source.html"
    ).read_bytes()

    folder, from_car = verify_json(mirror, out), verify_json(mirror, car)
    assert folder["root_cid"] == from_car["root_cid"] == root
    meta = expected("ebb-org")
    assert folder["title"].lower() in meta["title"].lower()
    assert (
        meta["byline"].lower() in folder["byline"].lower()
        or folder["byline"].lower() in meta["byline"].lower()
    )
    assert folder["url"].startswith("http")
    assert folder["publisher"] == "pub"

    page = (out / "index.html").read_text(encoding="utf-8")
    assert 'http-equiv="Content-Security-Policy"' in page and "default-src 'none'" in page
    assert "Unofficial mirror of" in page and url in page
    assert "<script" not in page.lower()

    capture = manifest_of(out)["capture"]
    assert capture["requested_url"] == capture["final_url"] == url
    assert capture["redirects"] == [] and capture["http_status"] == 200
    assert capture["charset"] == "utf-8" and capture["content_type"] == "text/html"
    assert capture["headers"]["content-type"].startswith("text/html")
    assert capture["body_sha256"].startswith("sha256:") and capture["tool"].startswith("mirror ")
    assert isinstance(capture["sanitizer_removed"], dict)
    assert "missing" in capture["images"] and capture["source_included"] is True
    assert "tls_cert_sha256" not in capture  # plain http
    assert capture["fetched_at"].endswith("Z")


def test_redirects_are_recorded_and_no_source_leaves_the_raw_page_out(
    mirror: Mirror, site: Server, tmp_path: Path
) -> None:
    site.routes["/old"] = redirect("/moved")
    site.routes["/moved"] = redirect(site.url("/ars-1/"), status=301)
    out = tmp_path / "ars"
    run = mirror("capture", "--allow-private", "--no-source", site.url("/old"), "-o", out)
    assert run.exit_code == 0, run.stderr
    capture = manifest_of(out)["capture"]
    assert capture["requested_url"] == site.url("/old")
    assert capture["final_url"] == site.url("/ars-1/")
    assert capture["redirects"] == [site.url("/old"), site.url("/moved")]
    assert not (out / "source").exists() and capture["source_included"] is False
    assert verify_json(mirror, out)["root_cid"] == run.stdout.strip()


def _article(images: str) -> bytes:
    body = "".join(
        f"<p>Paragraph {i} of a report that readers must be able to read.</p>" for i in range(30)
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8><title>Image report</title></head>"
        f"<body><article><h1>Image report</h1>{body}{images}{body}</article></body></html>"
    ).encode()


def test_images_are_stored_locally_and_missing_ones_listed(mirror: Mirror, tmp_path: Path) -> None:
    with serve() as server:
        server.routes["/dot.png"] = respond(PNG, content_type="image/png")
        server.routes["/fake.png"] = respond(
            b"<svg><script>alert(1)</script></svg>", content_type="image/png"
        )
        server.routes["/a"] = respond(
            _article(
                f'<p><img src="{server.url("/dot.png")}" alt="a dot"></p>'
                '<p><img src="/gone.png" alt="gone picture"></p>'
                '<p><img src="/fake.png" alt="not an image"></p>'
            )
        )
        out = tmp_path / "img"
        run = mirror("capture", "--allow-private", server.url("/a"), "-o", out)
    assert run.exit_code == 0, run.stderr
    assets = list((out / "assets").iterdir())
    assert len(assets) == 1 and assets[0].suffix == ".png" and assets[0].read_bytes() == PNG
    page = (out / "index.html").read_text(encoding="utf-8")
    assert f'src="assets/{assets[0].name}"' in page
    assert "gone picture" in page and "127.0.0.1" not in page.split("</header>", 1)[1]
    missing = {
        m["url"].rsplit("/", 1)[1]: m["reason"]
        for m in manifest_of(out)["capture"]["images"]["missing"]
    }
    assert set(missing) == {"gone.png", "fake.png"}
    assert "404" in missing["gone.png"]
    assert "missing" in run.stderr or "images missing" in run.stderr
    verify_json(mirror, out)


@pytest.fixture
def silent_host() -> Iterator[str]:
    """A TCP server on 127.0.0.1 that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=2)
        for conn in held:
            conn.close()
        listener.close()


def test_a_page_whose_image_hosts_never_answer_ends_within_its_budget(
    silent_host: str, tmp_path: Path
) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from mirror.keys import SigningKey

    key = SigningKey("t", Ed25519PrivateKey.generate())
    images = "".join(
        f'<p><img src="{silent_host}/{i}.png" alt="picture {i}"></p>' for i in range(12)
    )
    settings = pipeline.CaptureSettings(policy=FetchPolicy(allow_private=True), page_budget=8.0)
    with serve({"/a": respond(_article(images))}) as server:
        started = time.monotonic()
        captured = pipeline.capture_url(
            server.url("/a"), tmp_path / "b", signer=Signer.single(key),
            fetcher=pipeline.batch_fetcher(settings.policy), settings=settings,
        )  # fmt: skip
        took = time.monotonic() - started
    assert took < 8.0, took
    assert captured.missing_images == 12
    missing = manifest_of(tmp_path / "b")["capture"]["images"]["missing"]
    assert all("timed out" in m["reason"] for m in missing)
    assert "picture 3" in (tmp_path / "b" / "index.html").read_text(encoding="utf-8")


def test_non_latin_page_declared_only_in_the_http_header(mirror: Mirror, tmp_path: Path) -> None:
    source = (PAGES / "hukumusume" / "source.html").read_text(encoding="utf-8")
    sjis = source.replace("charset=utf-8", "").encode("shift_jis", "replace")
    with serve({"/j": respond(sjis, content_type="text/html; charset=Shift_JIS")}) as server:
        run = mirror("capture", "--allow-private", server.url("/j"), "-o", tmp_path / "j")
    assert run.exit_code == 0, run.stderr
    got = verify_json(mirror, tmp_path / "j")
    assert "欲張りなイヌ" in got["title"]
    assert manifest_of(tmp_path / "j")["capture"]["charset"] == "shift_jis"
    assert "イヌ" in (tmp_path / "j" / "article.md").read_text(encoding="utf-8")


def test_rerun_skips_unchanged_pages_and_recaptures_changed_ones(
    mirror: Mirror, site: Server, tmp_path: Path
) -> None:
    out = tmp_path / "df"
    url = site.url("/daringfireball-1/")
    first = mirror("capture", "--allow-private", url, "-o", out)
    assert first.exit_code == 0, first.stderr
    before = (out / "manifest.json").read_bytes()
    again = mirror("capture", "--allow-private", url, "-o", out)
    assert again.exit_code == 0 and again.stdout == first.stdout
    assert "unchanged" in again.stderr
    assert (out / "manifest.json").read_bytes() == before  # not rewritten
    state = json.loads((mirror.home / "captures.json").read_text())["captures"][url]
    assert state["root"] == first.stdout.strip() and state["body_sha256"].startswith("sha256:")

    # a bundle that lost its CAR.minisig is not "unchanged": it is captured again, whole
    sig = out.with_name(out.name + ".car.minisig")
    sig.unlink()
    mended = mirror("capture", "--allow-private", url, "-o", out)
    assert mended.exit_code == 0 and mended.stderr.startswith("wrote ")
    assert sig.is_file()

    changed = (
        (PAGES / "daringfireball-1" / "source.html")
        .read_bytes()
        .replace(b"</body>", b"<p>Update: corrected.</p></body>")
    )
    site.routes["/daringfireball-1/"] = respond(changed)
    third = mirror("capture", "--allow-private", url, "-o", out)
    assert third.exit_code == 0, third.stderr
    assert third.stdout.strip() != first.stdout.strip()
    assert verify_json(mirror, out)["root_cid"] == third.stdout.strip()


def test_single_url_failures_exit_with_their_own_code(mirror: Mirror, tmp_path: Path) -> None:
    with serve({"/e": respond(b"boom", status=500, content_type="text/plain")}) as server:
        gone = mirror("capture", "--allow-private", server.url("/missing"), "-o", tmp_path / "a")
        broken = mirror("capture", "--allow-private", server.url("/e"), "-o", tmp_path / "b")
        private = mirror("capture", server.url("/missing"), "-o", tmp_path / "c")
    assert gone.exit_code == 4 and "404" in gone.stderr
    assert broken.exit_code == 4 and "500" in broken.stderr
    assert private.exit_code == 2 and "private" in private.stderr
    for run in (gone, broken, private):
        assert run.stdout == "" and "Traceback" not in run.stderr
        assert len(run.stderr.strip().splitlines()) == 1
    assert not any((tmp_path / n).exists() for n in "abc")
    assert not (mirror.home / "captures.json").exists()


def test_batch_with_a_bad_url_captures_the_rest_and_exits_4(
    mirror: Mirror, site: Server, tmp_path: Path
) -> None:
    urls = [
        site.url("/ebb-org/"),
        site.url("/nowhere/"),
        site.url("/ars-1/"),
        "ftp://example.org/x",
    ]
    out = tmp_path / "batch"
    run = mirror("capture", "--allow-private", "-j", "3", *urls, "-o", out, "--json")
    assert run.exit_code == 4, run.stderr
    result = json.loads(run.stdout)
    assert (result["captured"], result["failed"]) == (2, 2)
    by_url = {a["url"]: a for a in result["articles"]}
    assert by_url[urls[1]]["exit_code"] == 4 and "404" in by_url[urls[1]]["error"]
    assert by_url[urls[3]]["exit_code"] == 2
    for u in (urls[0], urls[2]):
        bundle = Path(by_url[u]["path"])
        assert bundle.parent == out and Path(by_url[u]["car"]) == bundle.with_name(
            bundle.name + ".car"
        )
        assert verify_json(mirror, bundle)["root_cid"] == by_url[u]["root_cid"]
    assert "failed" in run.stderr and "404" in run.stderr  # the summary table
    # folder names are stable: the same URL lands in the same folder next time
    assert Path(by_url[urls[0]]["path"]).name == pipeline.bundle_name(urls[0])


def test_plain_output_prints_one_cid_per_article_in_order(
    mirror: Mirror, site: Server, tmp_path: Path
) -> None:
    urls = [site.url("/ars-1/"), site.url("/ebb-org/")]
    run = mirror("capture", "--allow-private", *urls, "-o", tmp_path / "o")
    assert run.exit_code == 0, run.stderr
    cids = run.stdout.split()
    assert len(cids) == 2
    for url, cid in zip(urls, cids, strict=True):
        assert verify_json(mirror, tmp_path / "o" / pipeline.bundle_name(url))["root_cid"] == cid
    # not a terminal: one line per article on stderr, then the summary
    assert sum(1 for line in run.stderr.splitlines() if "] captured " in line) == 2


def test_capture_signs_with_the_publisher_identity_when_the_home_has_one(
    mirror: Mirror, site: Server, tmp_path: Path
) -> None:
    init = mirror("identity", "init")
    assert init.exit_code == 0, init.stderr
    out = tmp_path / "idn"
    run = mirror("capture", "--allow-private", site.url("/daringfireball-1/"), "-o", out)
    assert run.exit_code == 0, run.stderr
    assert (out / "identity.json").is_file()
    assert manifest_of(out)["publisher"]["identity_version"] == 1
    assert verify_json(mirror, out)["root_cid"] == run.stdout.strip()
