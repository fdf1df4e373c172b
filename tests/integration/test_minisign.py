"""Publisher-written CARs and exports carry FILE.minisig that the stock `minisign` checks."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from mirror import minisign
from mirror.keys import PublicKey
from tests.integration.test_export import Publisher, make_publisher

MINISIGN = shutil.which("minisign")
needs_minisign = pytest.mark.skipif(
    MINISIGN is None, reason="minisign is not installed (apt-get install minisign)"
)


def stock_verify(file: Path, key: str) -> subprocess.CompletedProcess[str]:
    assert MINISIGN is not None
    return subprocess.run(
        [MINISIGN, "-Vm", str(file), "-P", key],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@pytest.fixture
def publisher(tmp_path: Path) -> Publisher:
    return make_publisher(tmp_path)


def test_key_show_minisign(publisher: Publisher) -> None:
    result = publisher.run("key", "show", "pub", "--minisign")
    assert result.exit_code == 0
    key = result.stdout.strip()
    public = PublicKey.from_text(publisher.run("key", "show", "pub").stdout.strip())
    assert key == minisign.public_key_text(public)
    assert f"minisign -Vm FILE -P {key}" in result.stderr


@needs_minisign
def test_export_and_car_verify_with_stock_minisign(publisher: Publisher, tmp_path: Path) -> None:
    key = publisher.run("key", "show", "pub", "--minisign").stdout.strip()
    html, car = tmp_path / "article.html", tmp_path / "bundle.car"
    assert publisher.run("export", str(publisher.bundle), "-o", str(html)).exit_code == 0
    assert publisher.run("car", str(publisher.bundle), "-o", str(car)).exit_code == 0
    for file in (html, car):
        sig = file.with_name(file.name + ".minisig")
        assert sig.is_file()
        ok = stock_verify(file, key)
        assert ok.returncode == 0, ok.stderr
        assert f"root:{publisher.cid}" in ok.stdout  # the trusted comment names the root
        assert "captured:" in ok.stdout

        tampered = tmp_path / ("tampered-" + file.name)
        data = bytearray(file.read_bytes())
        data[len(data) // 2] ^= 0x01  # one changed byte
        tampered.write_bytes(bytes(data))
        shutil.copy(sig, tampered.with_name(tampered.name + ".minisig"))
        bad = stock_verify(tampered, key)
        assert bad.returncode != 0
        assert publisher.run("verify", str(tampered), "--trust", "pub").exit_code == 3


@needs_minisign
def test_altered_trusted_comment_fails_stock_minisign(publisher: Publisher, tmp_path: Path) -> None:
    key = publisher.run("key", "show", "pub", "--minisign").stdout.strip()
    html = tmp_path / "article.html"
    assert publisher.run("export", str(publisher.bundle), "-o", str(html)).exit_code == 0
    sig = html.with_name(html.name + ".minisig")
    sig.write_text(sig.read_text().replace("root:", "root:x"))
    assert stock_verify(html, key).returncode != 0


def test_no_minisig_for_someone_elses_bundle(publisher: Publisher, tmp_path: Path) -> None:
    other = tmp_path / "volunteer"
    assert publisher.run("keygen", "--name", "vol", home=other).exit_code == 0
    car = tmp_path / "copy.car"
    assert publisher.run("car", str(publisher.bundle), "-o", str(car), home=other).exit_code == 0
    assert not car.with_name("copy.car.minisig").exists()


def test_own_verifier_agrees(publisher: Publisher, tmp_path: Path) -> None:
    html = tmp_path / "article.html"
    assert publisher.run("export", str(publisher.bundle), "-o", str(html)).exit_code == 0
    public = PublicKey.from_text(publisher.run("key", "show", "pub").stdout.strip())
    sig = html.with_name("article.html.minisig").read_bytes()
    verdict = minisign.verify_minisig(html, sig, public)
    assert verdict.trusted_comment.startswith(f"mirror root:{publisher.cid} ")
