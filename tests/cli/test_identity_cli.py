"""`mirror identity show|init|rotate|revoke|sign|resign`: exit codes, output, files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import Mirror, snapshot


def _line(m: Mirror, name: str) -> str:
    return m("key", "show", name).stdout.strip()


def _show(m: Mirror) -> dict[str, object]:
    r = m("identity", "show", "--json")
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)  # type: ignore[no-any-return]


def test_init_show_and_chain(mirror: Mirror) -> None:
    r = mirror("identity", "init", "--name", "paper")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.strip().endswith("identity/v1.json")
    info = _show(mirror)
    assert info["name"] == "paper" and info["version"] == 1 and info["threshold"] == 1
    assert [k["local_name"] for k in info["keys"]] == ["pub"]  # type: ignore[index,union-attr]
    chain = mirror("identity", "show", "--chain").stdout
    assert json.loads(chain)["format"] == "mirror-identity-chain/1"
    text = mirror("identity", "show").stdout
    assert "paper version 1" in text and "threshold: 1 of 1" in text


def test_init_twice_refused(mirror: Mirror) -> None:
    assert mirror("identity", "init").exit_code == 0
    before = snapshot(mirror.home)
    r = mirror("identity", "init")
    assert r.exit_code == 2 and "already has an identity" in r.stderr
    assert snapshot(mirror.home) == before


def test_commands_without_identity_exit_2(mirror: Mirror) -> None:
    for args in (("show",), ("rotate",), ("revoke", "other"), ("resign", ".")):
        r = mirror("identity", *args)
        assert r.exit_code == 2, (args, r.stderr)
        assert "mirror identity init" in r.stderr and "Traceback" not in r.stderr


def test_rotate_held_keys_and_renew(mirror: Mirror) -> None:
    assert mirror("identity", "init").exit_code == 0
    r = mirror("identity", "rotate", "--add", "other", "--threshold", "2")
    assert r.exit_code == 0, r.stderr
    assert "version 2 is now current" in r.stderr
    info = _show(mirror)
    assert info["version"] == 2 and info["threshold"] == 2
    r = mirror("identity", "rotate")  # renew only
    assert r.exit_code == 0 and _show(mirror)["version"] == 3
    assert sorted(p.name for p in (mirror.home / "identity").iterdir()) == [
        "v1.json",
        "v2.json",
        "v3.json",
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        (("rotate", "--threshold", "3"), "threshold 3 is not between 1 and 1"),
        (("rotate", "--remove", "pub"), "at least one key"),
        (("rotate", "--remove", "other"), "is not in identity version 1"),
        (("rotate", "--add", "ed25519:nope"), "32 bytes"),
        (("revoke", "other"), "was never a key of identity"),
        (("rotate", "--expires-days", "0"), "--expires-days"),
    ],
)
def test_bad_rotations_exit_2_and_change_nothing(
    mirror: Mirror, args: tuple[str, ...], message: str
) -> None:
    assert mirror("identity", "init").exit_code == 0
    before = snapshot(mirror.home)
    r = mirror("identity", *args)
    assert r.exit_code == 2, r.stderr
    assert message in r.stderr
    assert snapshot(mirror.home) == before


def test_co_signing_across_two_data_directories(mirror: Mirror, tmp_path: Path) -> None:
    """Key 'other' lives on another machine: rotate leaves a pending file; the other
    machine co-signs it; back home, signing it again makes it current."""
    remote = Mirror(tmp_path / "remote")
    shutil.copytree(mirror.home, remote.home)
    for suffix in (".key", ".pub"):
        (mirror.home / "keys" / f"other{suffix}").unlink()
        (remote.home / "keys" / f"pub{suffix}").unlink()
    line_other = _line(remote, "other")
    assert mirror("identity", "init").exit_code == 0
    r = mirror("identity", "rotate", "--add", line_other, "--threshold", "2")
    assert r.exit_code == 0, r.stderr
    assert "needs more signatures" in r.stderr and "own keys 1/2" in r.stderr
    pending = Path(r.stdout.strip())
    assert pending.name == "pending.json"
    assert _show(mirror)["version"] == 1 and _show(mirror)["pending"] == str(pending)
    carried = tmp_path / "carried.json"
    shutil.copyfile(pending, carried)
    r = remote("identity", "sign", carried)
    assert r.exit_code == 0, r.stderr
    assert "own keys 2/2" in r.stderr
    shutil.copyfile(carried, pending)
    r = mirror("identity", "sign", pending)
    assert r.exit_code == 0, r.stderr
    assert "version 2 is now current" in r.stderr
    info = _show(mirror)
    assert info["version"] == 2 and info["pending"] is None
    assert [k["local_name"] for k in info["keys"]] == ["pub", None]  # type: ignore[index,union-attr]


def test_sign_garbage_file(mirror: Mirror, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"payload": "x", "payload": "y"}')
    r = mirror("identity", "sign", bad)
    assert r.exit_code == 2 and "duplicate" in r.stderr
    r = mirror("identity", "sign", tmp_path / "missing.json")
    assert r.exit_code == 2 and "not found" in r.stderr


def test_revoke_and_show(mirror: Mirror) -> None:
    assert mirror("identity", "init").exit_code == 0
    assert mirror("identity", "rotate", "--add", "other").exit_code == 0
    r = mirror("identity", "revoke", "other")
    assert r.exit_code == 0, r.stderr
    info = _show(mirror)
    assert info["version"] == 3
    assert [k["local_name"] for k in info["revoked"]] == ["other"]  # type: ignore[index,union-attr]
    r = mirror("identity", "rotate", "--add", "other")
    assert r.exit_code == 2 and "cannot be added back" in r.stderr
    r = mirror("identity", "revoke", "other")
    assert r.exit_code == 2 and "already revoked" in r.stderr


def test_revoke_a_key_rotated_out_earlier(mirror: Mirror) -> None:
    """A key retired in good standing and later stolen can still be revoked."""
    assert mirror("identity", "init").exit_code == 0
    assert mirror("identity", "rotate", "--add", "other", "--remove", "pub").exit_code == 0
    r = mirror("identity", "revoke", "pub")
    assert r.exit_code == 0, r.stderr
    info = _show(mirror)
    assert info["version"] == 3
    assert [k["local_name"] for k in info["keys"]] == ["other"]  # type: ignore[index,union-attr]
    assert [k["local_name"] for k in info["revoked"]] == ["pub"]  # type: ignore[index,union-attr]


def test_resign_needs_folders(mirror: Mirror) -> None:
    assert mirror("identity", "init").exit_code == 0
    r = mirror("identity", "resign")
    assert r.exit_code == 2 and "bundle folders" in r.stderr
