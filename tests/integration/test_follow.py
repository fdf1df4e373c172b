"""`mirror follow` against a real IPFS node: sources, resume after a kill, the
interval loop's clean stop, and memory on a 10,000-entry feed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mirror import feed, keys
from mirror.config import Home
from mirror.errors import UsageError
from mirror.follow import parse_duration, parse_size, parse_source
from mirror.ipld import car
from mirror.ipld.cid import CID
from tests.conftest import PASSPHRASE, Mirror
from tests.helpers.webserver import respond, serve
from tests.ipfs_support import LocalNode, wait_for

ROOT = Path(__file__).resolve().parents[2]


def _env(node: LocalNode) -> dict[str, str]:
    return {"MIRROR_IPFS_API": node.api}


@pytest.fixture
def published(mirror: Mirror, ipfs_node: LocalNode, tmp_path: Path) -> dict[str, object]:
    """Two bundles and a feed pushed from the publisher home; a follower home trusting it."""
    roots = []
    for n in (1, 2):
        page = tmp_path / f"page{n}"
        page.mkdir()
        (page / "index.html").write_text(
            f"<html><head><title>T{n}</title></head><body>{n}</body></html>"
        )
        assert mirror("bundle", page, "-o", tmp_path / f"b{n}").exit_code == 0
        roots.append(mirror("push", tmp_path / f"b{n}", env=_env(ipfs_node)).stdout.strip())
    run = mirror("feed", "publish", "--json", env=_env(ipfs_node))
    assert run.exit_code == 0, run.stderr
    follower = Mirror(tmp_path / "follower")
    follower.home.mkdir()
    assert (
        follower("trust", "add", "pub", mirror("key", "show", "pub").stdout.strip()).exit_code == 0
    )
    return {"roots": roots, "follower": follower, **json.loads(run.stdout)}


def test_parse_helpers() -> None:
    assert parse_size("500MB") == 500_000_000
    assert parse_size("2GiB") == 2 << 30
    assert parse_size("1000") == 1000
    assert parse_duration("5m") == 300 and parse_duration("1d") == 86400
    assert parse_source("/ipns/k51abc").kind == "ipns"
    assert parse_source("https://x.example/head.json").kind == "url"
    for bad in ("lots", "-1s"):
        with pytest.raises(UsageError):
            parse_duration(bad)
    with pytest.raises(UsageError):
        parse_size("many")
    with pytest.raises(UsageError):
        parse_source("not a thing at all")


@pytest.mark.ipfs
def test_follow_by_head_file_and_by_url(
    mirror: Mirror, ipfs_node: LocalNode, published: dict[str, object]
) -> None:
    follower = published["follower"]
    assert isinstance(follower, Mirror)
    head = mirror.home / "feed" / "head.json"
    run = follower("follow", head, "--trust", "pub", "--json", env=_env(ipfs_node))
    assert run.exit_code == 0, run.stderr
    report = json.loads(run.stdout)
    assert (report["pinned"], report["version"]) == (2, 1)
    assert report["feed_cid"] == published["feed_cid"]
    with serve(
        {"/head.json": respond(head.read_bytes(), content_type="application/json")}
    ) as server:
        again = follower(
            "follow", server.url("/head.json"), "--trust", "pub", "--json", env=_env(ipfs_node)
        )
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout)["already"] == 2
    assert "pinned" in run.stderr  # one log line per bundle on stderr


@pytest.mark.ipfs
def test_killed_follower_resumes_without_reverifying(
    ipfs_node: LocalNode, published: dict[str, object]
) -> None:
    follower = published["follower"]
    assert isinstance(follower, Mirror)
    env = {**_env(ipfs_node), "MIRROR_TEST_KILL_AT": "follow-state:temp-written"}
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "mirror.py"),
            "follow",
            str(published["feed_cid"]),
            "--trust",
            "pub",
        ],
        env={
            **os.environ,
            "MIRROR_HOME": str(follower.home),
            "MIRROR_PASSPHRASE": PASSPHRASE,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL
    journal = list((follower.home / "follow").glob("*.journal"))
    assert journal and journal[0].read_text().count("\nok ") + 1 >= 2
    assert not (follower.home / "state" / "feeds").exists()  # the round did not finish
    run = follower(
        "follow", str(published["feed_cid"]), "--trust", "pub", "--json", env=_env(ipfs_node)
    )
    assert run.exit_code == 0, run.stderr
    report = json.loads(run.stdout)
    assert (report["pinned"], report["already"]) == (0, 2)
    assert not list((follower.home / "follow").glob("*.journal"))


@pytest.mark.ipfs
def test_interval_loop_stops_cleanly_on_sigterm(
    ipfs_node: LocalNode, published: dict[str, object]
) -> None:
    follower = published["follower"]
    assert isinstance(follower, Mirror)
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "mirror.py"),
            "follow",
            str(published["feed_cid"]),
            "--trust",
            "pub",
            "--interval",
            "1h",
        ],
        env={
            **os.environ,
            "MIRROR_HOME": str(follower.home),
            "MIRROR_PASSPHRASE": PASSPHRASE,
            **_env(ipfs_node),
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        state = follower.home / "state" / "feeds"
        wait_for(
            lambda: state.is_dir() and any(state.iterdir()),
            timeout=60,
            what="the first round to finish",
        )
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "stopped" in err
    assert "2 pinned" in out


@pytest.mark.ipfs
def test_ten_thousand_entry_feed_stays_under_200_mb(
    mirror: Mirror, ipfs_node: LocalNode, published: dict[str, object], tmp_path: Path
) -> None:
    """A resumed follower over a 10,000-entry feed: state and feed parsed, bounded memory."""
    follower = published["follower"]
    assert isinstance(follower, Mirror)
    key = keys.load_signing_key(Home(mirror.home), "pub", PASSPHRASE)
    entries = [
        feed.FeedEntry(
            CID.dag_pb(i.to_bytes(4, "big")).encode(),
            f"https://n.example/{i}",
            f"Title {i} " * 4,
            None,
            "2025-01-01T00:00:00Z",
            "sha256:" + "ab" * 32,
            100_000,
        )
        for i in range(10_000)
    ]
    doc = feed.build_feed(key, entries, previous=None, previous_cid=None)
    data = feed.sign_feed(doc, key)
    (tmp_path / "big.json").write_bytes(data)
    root = car.write_car(tmp_path / "big.json", tmp_path / "big.car").root
    assert ipfs_node.client.dag_import(tmp_path / "big.car") == [root]
    journal = follower.home / "follow" / f"{key.public.key_id}.journal"
    journal.parent.mkdir(parents=True, exist_ok=True)
    journal.write_text("".join(f"ok {e.root_cid} {e.size} {e.manifest_sha256}\n" for e in entries))
    # Measured inside the child from VmHWM: ru_maxrss would include the pytest parent's
    # pages counted at fork time (Linux keeps the pre-exec high-water mark).
    probe = (
        "import sys\n"
        "from mirror.cli import main\n"
        "try:\n"
        "    main(sys.argv[1:], prog_name='mirror')\n"
        "finally:\n"
        "    hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')]\n"
        "    print(f\"maxrss_kib={hwm[0].split()[1]}\", file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe, "follow", root.encode(), "--trust", "pub", "--json"],
        env={**os.environ, "MIRROR_HOME": str(follower.home), **_env(ipfs_node)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["already"] == 10_000
    peak_kib = int(proc.stderr.rsplit("maxrss_kib=", 1)[1].split()[0])
    print(f"\n10,000-entry feed follow: peak RSS {peak_kib // 1024} MiB")
    assert peak_kib < 200 * 1024, f"peak {peak_kib} KiB"


@pytest.mark.ipfs
def test_follow_a_publisher_identity_across_a_key_rotation(
    mirror: Mirror, ipfs_node: LocalNode, tmp_path: Path
) -> None:
    """Real commands end to end: `identity init`, `feed publish` (the feed carries the
    chain), `identity rotate --add other --remove pub`, a bundle and a feed signed by
    'other' alone; the follower, who trusted 'pub' only, follows both rounds and keeps
    its state under pub's key id."""
    env = _env(ipfs_node)
    pub_line = mirror("key", "show", "pub").stdout.strip()
    assert mirror("identity", "init", "--name", "paper").exit_code == 0
    follower = Mirror(tmp_path / "follower")
    follower.home.mkdir()
    assert follower("trust", "add", "paper", pub_line).exit_code == 0
    roots = []
    for n in (1, 2):
        if n == 2:
            run = mirror("identity", "rotate", "--add", "other", "--remove", "pub")
            assert run.exit_code == 0, run.stderr
        page = tmp_path / f"page{n}"
        page.mkdir()
        (page / "index.html").write_text(f"<html><head><title>R{n}</title></head><body>{n}</body>")
        assert mirror("bundle", page, "-o", tmp_path / f"b{n}").exit_code == 0
        roots.append(mirror("push", tmp_path / f"b{n}", env=env).stdout.strip())
        run = mirror("feed", "publish", "--no-announce", env=env)
        assert run.exit_code == 0, run.stderr
        cid = run.stdout.strip()
        doc = json.loads(mirror("feed", "show", "--json").stdout)
        assert len(doc["identity"]["versions"]) == n
        run = follower("follow", cid, "--trust", "paper", "--json", env=env)
        assert run.exit_code == 0, run.stderr
        assert json.loads(run.stdout)["version"] == n
    pub_id = keys.PublicKey.from_text(pub_line).key_id
    other_id = mirror("key", "show", "other", "--json").stdout
    assert doc["publisher"]["key_id"] != pub_id and doc["publisher"]["key_id"] in other_id
    state = json.loads((follower.home / "follow" / f"{pub_id}.json").read_text())
    assert sorted(state["verified"]) == sorted(roots)
    assert (
        json.loads((follower.home / "state" / "feeds" / f"{pub_id}.json").read_text())["version"]
        == 2
    )
