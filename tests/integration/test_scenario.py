"""The point of the project, end to end on three js-ipfs nodes over loopback.

Publisher node A, volunteer node B (connected to A), reader node C (connected only
to B). Every step runs the `mirror` CLI in a subprocess, as a user would:
the publisher publishes two articles and its feed on A; the volunteer follows the
feed on B by feed CID, by pubsub head and by IPNS name and pins both; A is stopped;
the reader gets both bundles through C and they verify; a head signed by an
untrusted key and a rollback to the first feed version are announced and B ignores
them (on pubsub) or refuses them (exit 3, when given directly), without moving the
remembered feed version.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mirror.ipld.cid import CID
from tests.conftest import PASSPHRASE
from tests.ipfs_support import LocalNode, NodeFactory, connect_all, skip_if_external, wait_for

pytestmark = [pytest.mark.ipfs, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, str(ROOT / "mirror.py")]
STEP_TIMEOUT = 120


class User:
    """One data directory, driven through the CLI in subprocesses."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.env = {**os.environ, "MIRROR_HOME": str(home), "MIRROR_PASSPHRASE": PASSPHRASE}
        self.env.pop("MIRROR_IPFS_API", None)

    def run(
        self, *args: str | Path, api: LocalNode | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = {**self.env, **({"MIRROR_IPFS_API": api.api} if api else {})}
        return subprocess.run(
            [*CLI, *map(str, args)],
            env=env,
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT,
            check=False,
            cwd=ROOT,
        )

    def ok(self, *args: str | Path, api: LocalNode | None = None) -> str:
        done = self.run(*args, api=api)
        assert done.returncode == 0, f"mirror {' '.join(map(str, args))}: {done.stderr}"
        return done.stdout.strip()

    def start(self, *args: str | Path, api: LocalNode) -> subprocess.Popen[str]:
        env = {**self.env, "MIRROR_IPFS_API": api.api}
        return subprocess.Popen(
            [*CLI, *map(str, args)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )


def _article(root: Path, n: int) -> Path:
    page = root / f"article-{n}"
    page.mkdir(parents=True)
    (page / "index.html").write_text(
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>Report {n}</title>"
        f"</head><body><article><h1>Report {n}</h1>"
        + "".join(
            f"<p>Paragraph {i} of report {n}, banned where it matters.</p>" for i in range(40)
        )
        + "</article></body></html>",
        encoding="utf-8",
    )
    (page / "data.bin").write_bytes(os.urandom(600_000 + n))
    return page


def _remembered(user: User, key_id: str) -> dict[str, object]:
    return json.loads((user.home / "state" / "feeds" / f"{key_id}.json").read_text())


def _finish(proc: subprocess.Popen[str], timeout: float = 90) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"follower did not finish in {timeout} s: {err}")
    return proc.returncode, out, err


def test_publisher_offline_reader_still_verifies(ipfs_factory: NodeFactory, tmp_path: Path) -> None:
    skip_if_external("the scenario needs three js-ipfs nodes")
    started = time.monotonic()
    a, b, c = ipfs_factory.start(3, connect=False)
    connect_all([a, b])
    connect_all([b, c])
    nodes_ready = time.monotonic() - started

    publisher, volunteer, reader, attacker = (
        User(tmp_path / n) for n in ("publisher", "volunteer", "reader", "attacker")
    )
    pub_line = publisher.ok("keygen", "--name", "pub")
    attacker.ok("keygen", "--name", "evil")
    key_id = json.loads(publisher.ok("key", "show", "pub", "--json"))["key_id"]
    for user in (volunteer, reader):
        user.ok("trust", "add", "pub", pub_line)
    topic = f"mirror/feed/{key_id}"

    # 1. the publisher publishes the first article and feed version 1 on A
    root1 = publisher.ok(
        "bundle", _article(tmp_path, 1), "-o", tmp_path / "b1", "--url", "https://news.example/1"
    )
    assert publisher.ok("push", tmp_path / "b1", api=a) == root1
    feed1 = publisher.ok("feed", "publish", api=a)

    # 2. the volunteer follows by feed CID and pins it
    out = volunteer.ok("follow", feed1, "--trust", "pub", "--once", "--json", api=b)
    report = json.loads(out)
    assert (report["version"], report["pinned"]) == (1, 1)
    assert b.client.is_pinned(CID.decode(root1))

    # 3. the volunteer listens on pubsub; the second article and version 2 arrive there
    root2 = publisher.ok(
        "bundle", _article(tmp_path, 2), "-o", tmp_path / "b2", "--url", "https://news.example/2"
    )
    publisher.ok("push", tmp_path / "b2", api=a)
    listener = volunteer.start(
        "follow", "--pubsub", "--trust", "pub", "--once", "--wait", "60", "--json", api=b
    )
    wait_for(
        lambda: b.peer_id in a.client.pubsub_peers(topic),
        timeout=30,
        what="the volunteer's subscription to reach the publisher",
    )
    published = json.loads(publisher.ok("feed", "publish", "--json", api=a))
    assert published["warnings"] == [], published["warnings"]
    code, out, err = _finish(listener)
    assert code == 0, err
    report = json.loads(out)
    assert (report["version"], report["pinned"], report["already"]) == (2, 1, 1)
    assert b.client.is_pinned(CID.decode(root2))

    # 4. ... and by IPNS name (resolved on B from A's record)
    assert published["ipns_name"]
    out = volunteer.ok(
        "follow", f"/ipns/{published['ipns_name']}", "--trust", "pub", "--json", api=b
    )
    assert json.loads(out)["version"] == 2 and json.loads(out)["already"] == 2

    # 5. the publisher goes offline; the reader, connected only to B, still gets both
    a.stop()
    for n, root in ((1, root1), (2, root2)):
        out_dir = tmp_path / f"read-{n}"
        got = reader.ok("get", root, "--trust", "pub", "-o", out_dir, "--timeout", "60", api=c)
        assert got == root
        verified = reader.ok("verify", out_dir, "--trust", "pub", "--json")
        assert json.loads(verified)["root_cid"] == root
        assert (out_dir / "index.html").read_text(encoding="utf-8").count(f"report {n}") >= 40

    # 6. a forged head (untrusted key) and a rollback head are ignored on pubsub
    attacker.ok("bundle", _article(tmp_path, 3), "-o", tmp_path / "b3")
    attacker.ok("push", tmp_path / "b3", api=c)
    attacker.ok("feed", "publish", "--no-announce", api=c)
    before = _remembered(volunteer, key_id)
    assert before["version"] == 2
    listener = volunteer.start(
        "follow", "--pubsub", "--trust", "pub", "--once", "--wait", "60", "--json", api=b
    )
    wait_for(
        lambda: b.peer_id in c.client.pubsub_peers(topic),
        timeout=30,
        what="the volunteer's subscription to reach the reader's node",
    )
    attacker.ok(
        "feed", "announce", attacker.home / "feed" / "head.json", "--publisher", key_id, api=c
    )
    reader.ok("feed", "announce", publisher.home / "feed" / "history" / "1.head.json", api=c)
    reader.ok("feed", "announce", publisher.home / "feed" / "head.json", api=c)  # current: ends it
    code, out, err = _finish(listener)
    assert code == 0, err
    assert "ignored feed head" in err and "not signed by a trusted key" in err
    assert "ignored stale feed head" in err and "rollback" in err
    assert json.loads(out)["version"] == 2
    assert _remembered(volunteer, key_id) == before

    # 7. the same rollback given directly is refused with exit 3, nothing moves
    for source in (publisher.home / "feed" / "history" / "1.head.json", feed1):
        done = volunteer.run("follow", source, "--trust", "pub", api=b)
        assert done.returncode == 3, done.stderr
        assert "rollback" in done.stderr
    forged = volunteer.run("follow", attacker.home / "feed" / "head.json", "--trust", "pub", api=b)
    assert forged.returncode == 3
    assert _remembered(volunteer, key_id) == before
    assert b.client.is_pinned(CID.decode(root1)) and b.client.is_pinned(CID.decode(root2))

    total = time.monotonic() - started
    print(f"\nscenario: nodes ready in {nodes_ready:.1f} s, whole scenario {total:.1f} s")
