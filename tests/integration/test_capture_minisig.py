"""`mirror capture` writes CAR.minisig that the stock `minisign` checks (issue: stock tools)."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Mirror
from tests.helpers.webserver import Server
from tests.integration.test_capture import site  # noqa: F401  (fixture)
from tests.integration.test_minisign import needs_minisign, stock_verify


@needs_minisign
def test_captured_car_verifies_with_stock_minisign(
    mirror: Mirror,
    site: Server,  # noqa: F811
    tmp_path: Path,
) -> None:
    out = tmp_path / "ebb"
    run = mirror("capture", "--allow-private", site.url("/ebb-org/"), "-o", out)
    assert run.exit_code == 0, run.stderr
    root = run.stdout.strip()
    car = tmp_path / "ebb.car"
    assert (tmp_path / "ebb.car.minisig").is_file()
    key = mirror("key", "show", "pub", "--minisign").stdout.strip()
    ok = stock_verify(car, key)
    assert ok.returncode == 0, ok.stderr
    assert f"root:{root}" in ok.stdout
    data = bytearray(car.read_bytes())
    data[len(data) // 2] ^= 0x01
    car.write_bytes(bytes(data))
    assert stock_verify(car, key).returncode != 0
