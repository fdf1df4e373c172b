"""Cases 34-38: the holes a verdict assembled twice left open, each through the CLI.

Every refusal carries a stable reason in --json and leaves the data directory as it
was; the work an attacker can add without a key is refused before it is done.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mirror import canonjson, envelope, export_format
from mirror.clock import sha256_tag
from mirror.ipld import car, dagpb, unixfs, varint
from mirror.ipld.cid import CID
from mirror.ipld.unixfs import file_cid
from mirror.keys import SigningKey
from mirror.manifest import Article, FileRecord, Manifest, Provenance, Publisher
from tests.conftest import Mirror, snapshot


def _bundle(m: Mirror, page_dir: Path, out: Path) -> Path:
    (page_dir / "data.bin").unlink()  # keep these bundles small
    r = m("bundle", page_dir, "-o", out)
    assert r.exit_code == 0, r.stderr
    return out


def _refusal(r: object) -> dict[str, object]:
    doc = json.loads(r.stdout)  # type: ignore[attr-defined]
    assert doc["ok"] is False
    return doc  # type: ignore[no-any-return]


def test_verify_json_names_reason_null_on_success(mirror: Mirror, page_dir: Path) -> None:
    b = _bundle(mirror, page_dir, page_dir.parent / "b")
    r = mirror("verify", b, "--trust", "pub", "--json")
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["ok"] is True and doc["reason"] is None and doc["source"] == "folder"


def test_untrusted_key_reason(mirror: Mirror, page_dir: Path, empty_mirror: Mirror) -> None:
    b = _bundle(mirror, page_dir, page_dir.parent / "b")
    line = mirror("key", "show", "other").stdout.strip()
    assert empty_mirror("trust", "add", "someone", line).exit_code == 0
    r = empty_mirror("verify", b, "--trust", "someone", "--json")
    assert r.exit_code == 3
    assert _refusal(r)["reason"] == "untrusted-key"


def test_unlisted_sparse_file_refused_before_hashing(mirror: Mirror, page_dir: Path) -> None:
    """Hole 4: an unlisted sparse 1 TiB file is refused from its name, in no time."""
    b = _bundle(mirror, page_dir, page_dir.parent / "b")
    with open(b / "huge.bin", "wb") as fh:
        fh.truncate(1 << 40)
    before = snapshot(mirror.home)
    started = time.monotonic()
    r = mirror("verify", b, "--trust", "pub", "--json")
    assert time.monotonic() - started < 5
    assert r.exit_code == 3 and _refusal(r)["reason"] == "unlisted-file"
    assert snapshot(mirror.home) == before


def test_listed_file_replaced_by_fifo_never_blocks(mirror: Mirror, page_dir: Path) -> None:
    b = _bundle(mirror, page_dir, page_dir.parent / "b")
    (b / "article.md").unlink()
    os.mkfifo(b / "article.md")
    r = mirror("verify", b, "--trust", "pub", "--json")
    assert r.exit_code == 3 and _refusal(r)["reason"] == "content-mismatch"


def test_reindented_manifest_is_non_canonical(mirror: Mirror, page_dir: Path) -> None:
    b = _bundle(mirror, page_dir, page_dir.parent / "b")
    doc = json.loads((b / "manifest.json").read_bytes())
    (b / "manifest.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    r = mirror("verify", b, "--trust", "pub", "--json")
    assert r.exit_code == 3 and _refusal(r)["reason"] == "non-canonical"


def test_extra_signature_is_non_canonical(mirror: Mirror, page_dir: Path) -> None:
    b = _bundle(mirror, page_dir, page_dir.parent / "b")
    env = envelope.Envelope.from_bytes((b / "manifest.json").read_bytes())
    junk = envelope.Signature("0" * 16, bytes(64))
    extra = envelope.Envelope(env.payload_type, env.payload, (*env.signatures, junk))
    (b / "manifest.json").write_bytes(extra.canonical().to_bytes())
    r = mirror("verify", b, "--trust", "pub", "--json")
    assert r.exit_code == 3 and _refusal(r)["reason"] == "non-canonical"


def test_timestamp_field_is_malformed_until_supported(mirror: Mirror, page_dir: Path) -> None:
    b = _bundle(mirror, page_dir, page_dir.parent / "b")
    doc = json.loads((b / "manifest.json").read_bytes())
    doc["signatures"][0]["tst"] = "AAAA"
    (b / "manifest.json").write_bytes(canonjson.dumps(doc) + b"\n")
    r = mirror("verify", b, "--trust", "pub", "--json")
    assert r.exit_code == 2 and _refusal(r)["reason"] == "malformed"


def test_car_with_lying_tsize_is_non_canonical(mirror: Mirror, page_dir: Path) -> None:
    """A root the publisher never made (a directory link with another Tsize) is refused,
    although every file it holds is the signed one."""
    b = _bundle(mirror, page_dir, page_dir.parent / "b")
    blocks: dict[CID, bytes] = {}
    root = unixfs.add_path(b, sink=blocks.__setitem__).root
    node = dagpb.decode(blocks.pop(root))
    first, *rest = node.links
    lying = dagpb.PBLink(first.hash, first.name, (first.tsize or 0) + 1)
    new_block = dagpb.encode(dagpb.PBNode((lying, *rest), node.data))
    new_root = CID.dag_pb(new_block)
    blocks[new_root] = new_block
    data = bytearray(car.header_bytes([new_root]))
    for cid, block in blocks.items():
        section = cid.to_bytes() + block
        data += varint.encode(len(section)) + section
    (page_dir.parent / "lying.car").write_bytes(bytes(data))
    r = mirror("verify", page_dir.parent / "lying.car", "--trust", "pub", "--json")
    assert r.exit_code == 3 and _refusal(r)["reason"] == "non-canonical"


def test_unpack_refuses_non_empty_target(mirror: Mirror, page_dir: Path, tmp_path: Path) -> None:
    b = _bundle(mirror, page_dir, page_dir.parent / "b")
    car_file = tmp_path / "b.car"
    assert mirror("car", b, "-o", car_file).exit_code == 0
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "mine.txt").write_text("the reader's own file")
    r = mirror("unpack", car_file, dest, "--trust", "pub")
    assert r.exit_code == 2 and "not empty" in r.stderr
    assert (dest / "mine.txt").read_text() == "the reader's own file"
    r = mirror("unpack", car_file, dest, "--trust", "pub", "--force")
    assert r.exit_code == 0, r.stderr
    # --force adds the bundle's files; what else the reader had stays (case 38)
    assert (dest / "index.html").is_file()
    assert (dest / "mine.txt").read_text() == "the reader's own file"


def test_unpack_refusal_keeps_what_was_there(
    mirror: Mirror, page_dir: Path, tmp_path: Path
) -> None:
    b = _bundle(mirror, page_dir, page_dir.parent / "b")
    (b / "index.html").write_bytes(
        (b / "index.html").read_bytes().replace(b"Paragraph", b"Xaragraph")
    )
    bad = tmp_path / "bad.car"
    car.write_car(b, bad)
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "mine.txt").write_text("kept")
    before = snapshot(mirror.home)
    r = mirror("unpack", bad, dest, "--trust", "pub", "--force", "--json")
    assert r.exit_code == 3 and _refusal(r)["reason"] == "content-mismatch"
    assert (dest / "mine.txt").read_text() == "kept"
    assert snapshot(mirror.home) == before


def _export(m: Mirror, b: Path, out: Path) -> bytes:
    r = m("export", b, "-o", out, "--trust", "pub", "--no-minisig")
    assert r.exit_code == 0, r.stderr
    return out.read_bytes()


def test_export_pointing_back_at_a_signed_image_is_missing_file(
    mirror: Mirror, page_dir: Path, tmp_path: Path
) -> None:
    """Hole 3: the page points one image back at assets/... and the export drops it."""
    b = _bundle(mirror, page_dir, page_dir.parent / "b")
    data = _export(mirror, b, tmp_path / "a.html")
    parts = export_format.take_apart(data)
    assert parts.images, "the test page has an image"
    stripped = export_format.render(parts.page, {}, parts.manifest_json, parts.chain_json)
    (tmp_path / "stripped.html").write_bytes(stripped)
    r = mirror("verify", tmp_path / "stripped.html", "--trust", "pub", "--json")
    assert r.exit_code == 3 and _refusal(r)["reason"] == "missing-file"


def test_export_huge_declared_size_is_quick(mirror: Mirror, tmp_path: Path) -> None:
    """Hole 5: an export whose signed manifest lists an uncarried 1 TiB file verifies
    in no time: its DAG size follows from the signed size, no stand-in bytes hashed."""
    key = SigningKey("huge", Ed25519PrivateKey.generate())
    page = b"<!doctype html><html><head><title>t</title></head><body><p>x</p></body></html>"
    files = (
        FileRecord("index.html", len(page), sha256_tag(page), file_cid(page).encode()),
        FileRecord("video.bin", 1 << 40, "sha256:" + "ab" * 32, file_cid(b"stand-in").encode()),
    )
    manifest = Manifest(
        "2026-01-01T00:00:00Z",
        Publisher(key.public.key_id),
        Article(title="t"),
        Provenance(),
        files,
    )
    signed = envelope.sign(envelope.MANIFEST_TYPE, manifest.to_bytes(), [key]).to_bytes()
    (tmp_path / "huge.html").write_bytes(export_format.render(page, {}, signed, None))
    line = key.public.to_text()
    assert mirror("trust", "add", "huge", line).exit_code == 0
    started = time.monotonic()
    r = mirror("verify", tmp_path / "huge.html", "--trust", "huge", "--json")
    assert time.monotonic() - started < 5
    assert r.exit_code == 0, r.stdout + r.stderr
    assert re.match(r"^bafy", json.loads(r.stdout)["root_cid"])


def test_refused_verify_writes_no_identity_state(
    mirror: Mirror, page_dir: Path, tmp_path: Path
) -> None:
    """Decision 0006: nothing is written on failure, though the chain itself is good."""
    assert mirror("identity", "init", "--name", "paper").exit_code == 0
    b = _bundle(mirror, page_dir, tmp_path / "b")
    reader_home = tmp_path / "reader"
    reader = Mirror(reader_home)
    line = mirror("key", "show", "pub").stdout.strip()
    assert reader("trust", "add", "paper", line).exit_code == 0
    (b / "index.html").write_bytes(b"<p>changed</p>")
    shutil.rmtree(reader_home / "state", ignore_errors=True)
    before = snapshot(reader_home)
    r = reader("verify", b, "--trust", "paper", "--json")
    assert r.exit_code == 3
    assert snapshot(reader_home) == before
