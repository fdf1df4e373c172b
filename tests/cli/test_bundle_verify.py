"""The publisher-to-reader path of local bundles, through the CLI (issue 2 done-when)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import Mirror, snapshot


def make_bundle(mirror: Mirror, page_dir: Path, out: Path) -> str:
    run = mirror("bundle", page_dir, "--url", "https://example.org/a", "-o", out)
    assert run.exit_code == 0, run.stderr
    return run.stdout.strip()


def test_bundle_car_cid_verify(mirror: Mirror, page_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "deep" / "b1"
    root = make_bundle(mirror, page_dir, out)
    assert root.startswith("bafy")
    car = mirror("car", out, "-o", tmp_path / "b1.car")
    assert car.exit_code == 0 and car.stdout.strip() == root
    assert mirror("cid", out).stdout.strip() == root
    for target in (out, tmp_path / "b1.car"):
        run = mirror("verify", target, "--trust", "pub")
        assert run.exit_code == 0, run.stderr
        assert f"root:     {root}" in run.stdout
    verdict = json.loads(mirror("verify", tmp_path / "b1.car", "--trust", "pub", "--json").stdout)
    assert verdict["root_cid"] == root and verdict["publisher"] == "pub"
    assert verdict["url"] == "https://example.org/a"
    assert verdict["files_checked"] >= 3
    for field in ("title", "byline", "url", "captured_at", "root_cid", "publisher"):
        assert isinstance(verdict[field], str)


def test_verify_with_explicit_key(mirror: Mirror, page_dir: Path, tmp_path: Path) -> None:
    make_bundle(mirror, page_dir, tmp_path / "b")
    line = mirror("key", "show", "pub").stdout.strip()
    assert mirror("verify", tmp_path / "b", "--key", line).exit_code == 0
    other = mirror("key", "show", "other").stdout.strip()
    run = mirror("verify", tmp_path / "b", "--key", other)
    assert run.exit_code == 3 and "not signed by a trusted key" in run.stderr


def test_every_changed_byte_of_a_content_file_fails(
    mirror: Mirror, page_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "b"
    make_bundle(mirror, page_dir, out)
    for path in sorted(p for p in out.rglob("*") if p.is_file() and p.name != "manifest.json"):
        original = path.read_bytes()
        for position in (0, len(original) // 2, len(original) - 1):
            changed = bytearray(original)
            changed[position] ^= 0x01
            path.write_bytes(bytes(changed))
            run = mirror("verify", out, "--trust", "pub")
            assert run.exit_code == 3, (path.name, position, run.stderr)
            assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
        path.write_bytes(original)
    assert mirror("verify", out, "--trust", "pub").exit_code == 0


def test_changed_byte_in_car_block_fails(mirror: Mirror, page_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "b"
    make_bundle(mirror, page_dir, out)
    car = tmp_path / "b.car"
    assert mirror("car", out, "-o", car).exit_code == 0
    data = car.read_bytes()
    marker = data.index(b"Paragraph 3")  # inside the index.html block
    tampered = bytearray(data)
    tampered[marker] ^= 0x20
    car.write_bytes(bytes(tampered))
    run = mirror("verify", car, "--trust", "pub")
    assert run.exit_code == 3, run.stderr


def test_signed_by_another_key_fails(mirror: Mirror, page_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "b"
    run = mirror("bundle", page_dir, "-o", out, "--key-name", "other")
    assert run.exit_code == 0, run.stderr
    assert mirror("verify", out, "--trust", "other").exit_code == 0
    run = mirror("verify", out, "--trust", "pub")
    assert run.exit_code == 3 and "not signed by a trusted key" in run.stderr


def test_malformed_car_is_exit_2(mirror: Mirror, tmp_path: Path) -> None:
    bad = tmp_path / "bad.car"
    bad.write_bytes(b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff not a car")
    run = mirror("verify", bad, "--trust", "pub")
    assert run.exit_code == 2 and "Traceback" not in run.stderr


def test_unpack_verifies_then_extracts(mirror: Mirror, page_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "b"
    root = make_bundle(mirror, page_dir, out)
    car = tmp_path / "b.car"
    mirror("car", out, "-o", car)
    dest = tmp_path / "unpacked"
    run = mirror("unpack", car, dest, "--trust", "pub")
    assert run.exit_code == 0, run.stderr
    assert run.stdout.strip() == root
    assert snapshot(dest) == snapshot(out)
    assert mirror("verify", dest, "--trust", "pub").exit_code == 0


def test_unpack_of_untrusted_car_writes_nothing(
    mirror: Mirror, page_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "b"
    mirror("bundle", page_dir, "-o", out, "--key-name", "other")
    car = tmp_path / "b.car"
    mirror("car", out, "-o", car)
    dest = tmp_path / "unpacked"
    run = mirror("unpack", car, dest, "--trust", "pub")
    assert run.exit_code == 3
    assert not dest.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".unpacked")]


def test_hidden_files_are_left_out_with_a_note(
    mirror: Mirror, page_dir: Path, tmp_path: Path
) -> None:
    (page_dir / ".secret").write_text("not for readers")
    run = mirror("bundle", page_dir, "-o", tmp_path / "b")
    assert run.exit_code == 0
    assert not any(p.name == ".secret" for p in (tmp_path / "b").rglob("*"))


def test_usage_errors_are_one_line(mirror: Mirror, tmp_path: Path) -> None:
    run = mirror("verify", tmp_path / "missing", "--trust", "pub")
    assert run.exit_code == 2 and run.stderr.startswith("mirror: error:")
    run = mirror("verify", tmp_path, "--trust", "nobody")
    assert run.exit_code == 2 and "no trusted key named" in run.stderr
    run = mirror("verify", tmp_path)
    assert run.exit_code == 2


def test_car_output_folder_is_created_like_bundle(
    mirror: Mirror, page_dir: Path, tmp_path: Path
) -> None:
    """`car -o` creates missing parent folders; one that cannot be made is exit 6."""
    out = tmp_path / "b"
    root = make_bundle(mirror, page_dir, out)
    target = tmp_path / "new" / "deeper" / "b.car"
    run = mirror("car", out, "-o", target)
    assert run.exit_code == 0, run.stderr
    assert run.stdout.strip() == root and target.is_file()
    assert mirror("verify", target, "--trust", "pub").exit_code == 0
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"not a folder")
    before = snapshot(tmp_path)
    run = mirror("car", out, "-o", blocker / "sub" / "b.car")
    assert run.exit_code == 6, run.stderr
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr
    assert "cannot write" in run.stderr and str(blocker) in run.stderr
    assert snapshot(tmp_path) == before


def test_json_verdict_on_failure_for_tools(mirror: Mirror, page_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "b"
    make_bundle(mirror, page_dir, out)
    (out / "article.md").write_text("changed")
    run = mirror("verify", out, "--trust", "pub", "--json")
    assert run.exit_code == 3
    verdict = json.loads(run.stdout)
    assert verdict["ok"] is False and verdict["exit_code"] == 3
    assert "article.md" in verdict["error"]
    assert run.stderr.startswith("mirror: error:")


def test_verify_all_warns_when_the_capture_registry_lags_a_bundle(
    mirror: Mirror, tmp_path: Path
) -> None:
    """A capture killed between swapping in the new bundle and recording it: the bundle
    is complete and verifies, the registry names the old root. A warning, not a failure."""
    from tests.helpers.webserver import respond, serve

    page = Path(__file__).resolve().parents[1] / "fixtures" / "pages" / "ebb-org" / "source.html"
    with serve({"/a": respond(page.read_bytes())}) as server:
        out = tmp_path / "a"
        run = mirror("capture", "--allow-private", server.url("/a"), "-o", out)
    assert run.exit_code == 0, run.stderr
    registry = mirror.home / "captures.json"
    stale = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
    registry.write_text(registry.read_text().replace(run.stdout.strip(), stale))
    audit = mirror("verify", "--all")
    assert audit.exit_code == 0, audit.stdout
    assert "captures.json records" in audit.stdout
    (out / "article.md").write_text("tampered")
    assert mirror("verify", "--all").exit_code == 3
