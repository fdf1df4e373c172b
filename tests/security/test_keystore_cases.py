"""SECURITY-CASES 31-32: the private key store refuses to clobber, follow symlinks,
or sign with a wrong passphrase or a damaged key file."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tests.conftest import Mirror, snapshot


def _one_line(stderr: str) -> None:
    assert stderr.count("\n") == 1 and "Traceback" not in stderr, stderr


# --- case 31 -------------------------------------------------------------------


def test_case_31_keygen_over_existing_key_refused_without_force(mirror: Mirror) -> None:
    before = snapshot(mirror.home)
    run = mirror("keygen", "--name", "pub")
    assert run.exit_code == 2
    _one_line(run.stderr)
    assert "--force" in run.stderr
    assert snapshot(mirror.home) == before


def test_case_31_keygen_force_replaces_the_key(mirror: Mirror) -> None:
    old = (mirror.home / "keys" / "pub.key").read_bytes()
    run = mirror("keygen", "--name", "pub", "--force")
    assert run.exit_code == 0, run.stderr
    assert (mirror.home / "keys" / "pub.key").read_bytes() != old
    assert mirror("key", "show", "pub").stdout.strip() == run.stdout.strip()


def test_case_31_key_files_are_0600(empty_mirror: Mirror) -> None:
    assert empty_mirror("keygen", "--name", "k").exit_code == 0
    key = empty_mirror.home / "keys" / "k.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE((empty_mirror.home / "keys").stat().st_mode) & 0o077 == 0
    assert not any(p.name.startswith(".") for p in key.parent.iterdir()), "temp file left"


@pytest.mark.parametrize("which", ["key", "pub"])
@pytest.mark.parametrize("force", [False, True])
def test_case_31_symlinked_key_path_refused(
    mirror: Mirror, tmp_path: Path, which: str, force: bool
) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious\n")
    (mirror.home / "keys" / f"evil.{which}").symlink_to(victim)
    before = snapshot(mirror.home)
    run = mirror("keygen", "--name", "evil", *(["--force"] if force else []))
    assert run.exit_code == 2
    _one_line(run.stderr)
    assert "symlink" in run.stderr
    assert victim.read_bytes() == b"precious\n"
    assert snapshot(mirror.home) == before


def test_case_31_symlinked_key_file_not_read(
    mirror: Mirror, page_dir: Path, tmp_path: Path
) -> None:
    """Signing never reads a key through a symlink (someone else's file in its place)."""
    real = mirror.home / "keys" / "pub.key"
    moved = tmp_path / "pub.key"
    real.rename(moved)
    real.symlink_to(moved)
    run = mirror("bundle", page_dir, "-o", tmp_path / "out", "--key-name", "pub")
    assert run.exit_code == 2
    assert "symlink" in run.stderr
    assert not (tmp_path / "out").exists()


# --- case 32 -------------------------------------------------------------------


def _nothing_signed(tmp_path: Path) -> None:
    assert not (tmp_path / "out").exists()
    assert not any(p.name.endswith(".staging") for p in tmp_path.iterdir())


def test_case_32_wrong_passphrase_exit_2_nothing_signed(
    mirror: Mirror, page_dir: Path, tmp_path: Path
) -> None:
    run = mirror(
        "bundle", page_dir, "-o", tmp_path / "out", env={"MIRROR_PASSPHRASE": "wrong horse"}
    )
    assert run.exit_code == 2
    _one_line(run.stderr)
    assert "passphrase" in run.stderr
    _nothing_signed(tmp_path)


def _edit_key(path: Path, field: str, value: object) -> None:
    doc = json.loads(path.read_bytes())
    target = doc
    parts = field.split(".")
    for part in parts[:-1]:
        target = target[part]
    target[parts[-1]] = value
    path.write_bytes(json.dumps(doc).encode())


def _flip_ciphertext(path: Path) -> None:
    doc = json.loads(path.read_bytes())
    text = doc["ciphertext"]
    doc["ciphertext"] = ("B" if text[0] == "A" else "A") + text[1:]
    path.write_bytes(json.dumps(doc).encode())


CORRUPTIONS = {
    "truncated": lambda p: p.write_bytes(p.read_bytes()[:40]),
    "empty": lambda p: p.write_bytes(b""),
    "not-json": lambda p: p.write_bytes(b"\x00\xff garbage"),
    "flipped-ciphertext": _flip_ciphertext,
    "other-public-key-in-header": lambda p: _edit_key(
        p, "public_key", json.loads((p.parent / "other.key").read_bytes())["public_key"]
    ),
    "huge-scrypt-n": lambda p: _edit_key(p, "kdf.n", 2**40),
    "missing-salt": lambda p: _edit_key(p, "kdf.salt", None),
    "salt-not-a-string": lambda p: _edit_key(p, "kdf.salt", 12),
    "unknown-format": lambda p: _edit_key(p, "format", "mirror-private-key/99"),
}


@pytest.mark.parametrize("corrupt", sorted(CORRUPTIONS))
def test_case_32_corrupt_key_file_exit_2_nothing_signed(
    mirror: Mirror, page_dir: Path, tmp_path: Path, corrupt: str
) -> None:
    CORRUPTIONS[corrupt](mirror.home / "keys" / "pub.key")
    run = mirror("bundle", page_dir, "-o", tmp_path / "out", "--key-name", "pub")
    assert run.exit_code == 2, run.stderr
    _one_line(run.stderr)
    _nothing_signed(tmp_path)
    if corrupt != "flipped-ciphertext":  # only decrypting can tell (the audit never does)
        assert mirror("verify", "--all").exit_code == 3  # the audit sees the damage too
