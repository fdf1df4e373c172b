"""`mirror get CID`: cache, then the node, then trustless gateways raced; every block
verified; a lying source is skipped, and nothing unverified is ever written.

The gateways are HTTP servers on 127.0.0.1 answering /ipfs/CID?format=car with a CAR
that the real js-ipfs node exported (dag/export); one of them corrupts a block.
"""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path

import pytest

from mirror.ipld import varint
from mirror.ipld.cid import CID
from tests.helpers.webserver import respond, serve
from tests.integration.test_export import Publisher, make_publisher
from tests.ipfs_support import LocalNode

pytestmark = pytest.mark.ipfs


def corrupt_a_block(car: bytes) -> bytes:
    """Flip one byte in the middle of the CAR's largest block (not in a CID or length)."""
    buf = io.BytesIO(car)
    header_len = varint.read(buf)
    assert header_len is not None
    pos = buf.tell() + header_len
    best = (0, 0)
    while pos < len(car):
        buf.seek(pos)
        length = varint.read(buf)
        assert length is not None
        start = buf.tell()
        _, cid_len = CID.from_bytes(car[start : start + length])
        block = (start + cid_len, start + length)
        if block[1] - block[0] > best[1] - best[0]:
            best = block
        pos = start + length
    out = bytearray(car)
    out[(best[0] + best[1]) // 2] ^= 0xFF
    return bytes(out)


class Setup:
    def __init__(self, tmp: Path, node: LocalNode) -> None:
        self.pub: Publisher = make_publisher(tmp)
        car = tmp / "bundle.car"
        assert self.pub.run("car", str(self.pub.bundle), "-o", str(car)).exit_code == 0
        roots = node.client.dag_import(car)
        self.cid = CID.decode(self.pub.cid)
        assert roots == [self.cid]
        exported = io.BytesIO()
        node.client.dag_export(self.cid, exported, max_bytes=1 << 26)
        self.node_car = exported.getvalue()  # written by the real node, its own block order
        self.reader = tmp / "reader"
        key = self.pub.run("key", "show", "pub").stdout.strip()
        assert self.pub.run("trust", "add", "pub", key, home=self.reader).exit_code == 0
        self.node = node

    def get(self, *args: str):  # type: ignore[no-untyped-def]
        return self.pub.run("get", self.pub.cid, "--trust", "pub", *args, home=self.reader)

    def cached(self) -> Path:
        return self.reader / "cache" / "car" / f"{self.pub.cid}.car"


@pytest.fixture
def setup(tmp_path: Path, ipfs_node: LocalNode) -> Setup:
    return Setup(tmp_path, ipfs_node)


def car_route(data: bytes):  # type: ignore[no-untyped-def]
    return respond(data, content_type="application/vnd.ipld.car")


def test_one_honest_gateway_one_liar(setup: Setup, tmp_path: Path) -> None:
    """The "done when" case: a gateway that corrupts blocks is skipped with a warning."""
    liar_car = corrupt_a_block(setup.node_car)
    path = f"/ipfs/{setup.pub.cid}"
    lied = threading.Event()

    def liar_route(h):  # type: ignore[no-untyped-def]
        car_route(liar_car)(h)
        lied.set()

    def honest_route(h):  # type: ignore[no-untyped-def]
        # answer second, and a moment after the lie is sent: the client reads and
        # checks the lie in between (without the moment, a busy machine let the honest
        # copy win first, and the lie was never reported)
        lied.wait(timeout=20)
        time.sleep(1.0)
        car_route(setup.node_car)(h)

    with serve({path: liar_route}) as liar, serve({path: honest_route}) as honest:
        out = tmp_path / "got"
        result = setup.get(
            "--no-node", "--gateway", liar.base, "--gateway", honest.base, "-o", str(out), "--json"
        )
        assert result.exit_code == 0, result.output
        verdict = json.loads(result.stdout)
        assert verdict["ok"] is True and verdict["root_cid"] == setup.pub.cid
        assert verdict["source"] == f"gateway {honest.base}"
        assert f"gateway {liar.base} sent bytes that do not verify" in result.stderr
        assert (out / "index.html").is_file() and (out / "manifest.json").is_file()
        assert setup.pub.run("verify", str(out), "--trust", "pub").exit_code == 0
        # a trustless-gateway request: CAR format, full DAG, CAR accepted
        assert any("format=car" in r and "dag-scope=all" in r for r in honest.requests)
        assert "application/vnd.ipld.car" in honest.headers[0]["accept"]
    assert setup.cached().is_file()  # the verified CAR is cached ...
    again = setup.get("--no-node", "-o", str(tmp_path / "again.car"))
    assert again.exit_code == 0  # ... and used without any source
    assert "local cache" in again.stderr


def test_two_liars_exit_3_and_nothing_written(setup: Setup, tmp_path: Path) -> None:
    liar_car = corrupt_a_block(setup.node_car)
    path = f"/ipfs/{setup.pub.cid}"
    truncated = setup.node_car[: len(setup.node_car) // 2]
    with serve({path: car_route(liar_car)}) as a, serve({path: car_route(truncated)}) as b:
        out = tmp_path / "got"
        result = setup.get("--no-node", "--gateway", a.base, "--gateway", b.base, "-o", str(out))
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    assert not out.exists()
    assert not setup.cached().exists()
    leftovers = (
        list((setup.reader / "cache" / "car").glob("*"))
        if (setup.reader / "cache" / "car").exists()
        else []
    )
    assert leftovers == []  # no temp file left behind


def test_get_through_the_node(setup: Setup, tmp_path: Path) -> None:
    out = tmp_path / "bundle.car"
    result = setup.get("--api", setup.node.api, "-o", str(out))
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == setup.pub.cid
    assert setup.pub.run("verify", str(out), "--trust", "pub").exit_code == 0
    assert "from the node" in result.stderr


def test_wrong_key_is_exit_3(setup: Setup, tmp_path: Path) -> None:
    path = f"/ipfs/{setup.pub.cid}"
    other = tmp_path / "other"
    assert setup.pub.run("keygen", "--name", "x", home=other).exit_code == 0
    key = setup.pub.run("key", "show", "x", home=other).stdout.strip()
    with serve({path: car_route(setup.node_car)}) as honest:
        result = setup.pub.run(
            "get",
            setup.pub.cid,
            "--key",
            key,
            "--no-node",
            "--gateway",
            honest.base,
            "-o",
            str(tmp_path / "o"),
            home=setup.reader,
        )
    assert result.exit_code == 3
    assert not (tmp_path / "o").exists()


def test_no_source_is_exit_4(setup: Setup, tmp_path: Path) -> None:
    with serve({}) as empty:  # answers 404
        result = setup.get("--no-node", "--gateway", empty.base, "-o", str(tmp_path / "o"))
    assert result.exit_code == 4
    assert "HTTP 404" in result.stderr
