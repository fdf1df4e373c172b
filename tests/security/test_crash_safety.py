"""SECURITY-CASES 33 (issue 5, item 4): SIGKILL at every write step of every write path.

Each kill point "<label>:<step>" (steps temp-written, fsynced, renamed; see
mirror/store.py) is hit by the real CLI in a subprocess, which must die by SIGKILL.
Afterwards every file is the complete old or the complete new version: before the
rename the target is byte-identical to the old one, after it the new one is in place;
nothing else changed, every changed file is valid (checked by `verify --all`), and
`mirror verify --all` passes. Leftover temp files are reported, never a failure, and
`--repair` removes them; a key whose .pub was not yet (re)written is the one problem
`verify --all` reports after a crash, and `--repair` rewrites it from the key file.

The publisher's IPFS write paths (published, feed-history, feed, feed-head) run
against the js-ipfs test node (marker `ipfs`; skipped when it is not installed).
Write paths still without a kill test are listed in
test_every_store_label_has_a_kill_test and docs/threat-model.md.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from mirror import canonjson, identity_state, keys, tsa_trust
from mirror.audit import check_key_file
from mirror.config import Home
from mirror.envelope import Envelope
from mirror.errors import VerificationError
from mirror.follow import FollowState
from mirror.ipld import car
from mirror.minisign import verify_minisig
from tests.conftest import PASSPHRASE, Mirror, Run, snapshot
from tests.helpers.tsa import make_authority
from tests.helpers.webserver import Server, respond, serve

ROOT = Path(__file__).resolve().parents[2]
STEPS = ("temp-written", "fsynced", "renamed")
LEFTOVER = re.compile(r"(^|/)\.[^/]+\.(tmp|staging|old)(/|$)|(^|/)\.get-[^/]+\.car$|^tmp/work-")
RUN_TIMEOUT = 60.0


def run_cli(
    home: Path, *args: str | Path, kill_at: str | None = None, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The real CLI (`python mirror.py ...`) in a subprocess against `home`."""
    env = {
        **os.environ,
        "MIRROR_HOME": str(home),
        "MIRROR_PASSPHRASE": PASSPHRASE,
        **(extra or {}),
    }
    env.pop("MIRROR_TEST_KILL_AT", None)
    if kill_at:
        env["MIRROR_TEST_KILL_AT"] = kill_at
    return subprocess.run(
        [sys.executable, str(ROOT / "mirror.py"), *map(str, args)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )


def durable(files: dict[str, bytes]) -> dict[str, bytes]:
    """The files that count: leftovers of interrupted writes left out."""
    return {path: data for path, data in files.items() if not LEFTOVER.search(path)}


def small_page(root: Path, title: str) -> Path:
    page = root / f"page-{title}"
    page.mkdir(parents=True)
    (page / "index.html").write_text(
        f"<!doctype html><html><head><meta charset=utf-8><title>{title}</title></head>"
        f"<body><article><h1>{title}</h1><p>A report that must survive a crash.</p>"
        "</article></body></html>",
        encoding="utf-8",
    )
    return page


@dataclass(frozen=True)
class Scenario:
    """One write path: how to prepare the old state, the command writing the new one,
    and the files that command may change (relative to the data directory)."""

    label: str
    prepare: Callable[[Mirror, Path, dict[str, str], Server], list[str | Path]]  # the command
    targets: tuple[str, ...]  # the file(s) written under this label (glob patterns)
    may_change: tuple[str, ...]  # every durable file the whole command may change
    home: str = "keyed"  # "keyed" (keys pub+other, both trusted) or "empty"
    node: bool = False  # needs an IPFS node (MIRROR_IPFS_API)


def _keygen_force(m: Mirror, tmp: Path, env: dict[str, str], web: Server) -> list[str | Path]:
    return ["keygen", "--name", "pub", "--force"]


def _keygen_first(m: Mirror, tmp: Path, env: dict[str, str], web: Server) -> list[str | Path]:
    return ["keygen", "--name", "first"]


def _trust_add(m: Mirror, tmp: Path, env: dict[str, str], web: Server) -> list[str | Path]:
    return ["trust", "add", "carol", m("key", "show", "other").stdout.strip()]


def _trust_tsa_add(m: Mirror, tmp: Path, env: dict[str, str], web: Server) -> list[str | Path]:
    first = make_authority(tmp / "tsa-first", "First TSA")
    assert m("trust", "tsa", "add", "first", first.root_pem).exit_code == 0
    return ["trust", "tsa", "add", "second", make_authority(tmp / "tsa-2", "Second TSA").root_pem]


def _bundle_over_old(m: Mirror, tmp: Path, env: dict[str, str], web: Server) -> list[str | Path]:
    out = m.home / "bundles" / "report"
    assert m("bundle", small_page(tmp, "Old"), "-o", out).exit_code == 0
    return ["bundle", small_page(tmp, "New"), "-o", out]


def _unpack_over_old(m: Mirror, tmp: Path, env: dict[str, str], web: Server) -> list[str | Path]:
    cars = []
    for title in ("Old", "New"):
        out = tmp / f"bundle-{title}"
        assert m("bundle", small_page(tmp, title), "-o", out).exit_code == 0
        assert m("car", out, "-o", tmp / f"{title}.car").exit_code == 0
        cars.append(tmp / f"{title}.car")
    dest = m.home / "unpacked" / "report"
    assert m("unpack", cars[0], dest, "--trust", "pub").exit_code == 0
    return ["unpack", cars[1], dest, "--trust", "pub", "--force"]


def _car_over_old(m: Mirror, tmp: Path, env: dict[str, str], web: Server) -> list[str | Path]:
    out = m.home / "cars" / "report.car"  # `car -o` creates the folder
    for title in ("Old", "New"):
        assert m("bundle", small_page(tmp, title), "-o", tmp / title).exit_code == 0
    assert m("car", tmp / "Old", "-o", out).exit_code == 0
    return ["car", tmp / "New", "-o", out]


def _push_second(m: Mirror, tmp: Path, env: dict[str, str], web: Server) -> list[str | Path]:
    first, second = tmp / "first", tmp / "second"
    for title, out in (("First", first), ("Second", second)):
        assert m("bundle", small_page(tmp, title), "-o", out).exit_code == 0
    run = m("push", first, env=env)
    assert run.exit_code == 0, run.stderr
    return ["push", second]


def _publish_second_feed(
    m: Mirror, tmp: Path, env: dict[str, str], web: Server
) -> list[str | Path]:
    args = _push_second(m, tmp, env, web)
    assert m("feed", "publish", env=env).exit_code == 0
    assert m(*args, env=env).exit_code == 0
    return ["feed", "publish"]


def _fresh_key_line() -> str:
    """A key held on no machine of this test (a co-signer elsewhere)."""
    raw = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return keys.PublicKey(raw).to_text()


def _identity_init(m: Mirror, tmp: Path, env: dict[str, str], web: Server) -> list[str | Path]:
    return ["identity", "init"]


def _pending_over_old(m: Mirror, tmp: Path, env: dict[str, str], web: Server) -> list[str | Path]:
    assert m("identity", "init").exit_code == 0
    rotate = ["identity", "rotate", "--add", _fresh_key_line(), "--threshold", "2"]
    run = m(*rotate)
    assert run.exit_code == 0 and "needs more signatures" in run.stderr, run.stderr
    return [*rotate, "--expires-days", "30"]  # another proposal over the pending one


def _verify_after_rotation(
    m: Mirror, tmp: Path, env: dict[str, str], web: Server
) -> list[str | Path]:
    """A reader (here the publisher's own home) remembered identity v1 from a bundle;
    verifying a bundle made after a renewal moves the memory to v2."""
    assert m("identity", "init").exit_code == 0
    assert m("bundle", small_page(tmp, "Old"), "-o", tmp / "Old").exit_code == 0
    assert m("verify", tmp / "Old", "--trust", "pub").exit_code == 0
    assert m("identity", "rotate").exit_code == 0
    assert m("bundle", small_page(tmp, "New"), "-o", tmp / "New").exit_code == 0
    return ["verify", tmp / "New", "--trust", "pub"]


def _follow_second_feed(m: Mirror, tmp: Path, env: dict[str, str], web: Server) -> list[str | Path]:
    """The home follows its own feed (as a volunteer would): version 1 was followed,
    the command follows version 2 with one more bundle."""
    first, second = tmp / "first", tmp / "second"
    for title, out in (("First", first), ("Second", second)):
        assert m("bundle", small_page(tmp, title), "-o", out).exit_code == 0
    cids = []
    for out in (first, second):
        assert m("push", out, env=env).exit_code == 0
        run = m("feed", "publish", "--no-announce", env=env)
        assert run.exit_code == 0, run.stderr
        cids.append(run.stdout.strip())
        if len(cids) == 1:
            run = m("follow", cids[0], "--trust", "pub", env=env)
            assert run.exit_code == 0, run.stdout + run.stderr
    return ["follow", cids[1], "--trust", "pub"]


def _capture_second(m: Mirror, tmp: Path, env: dict[str, str], web: Server) -> list[str | Path]:
    """captures.json lists one article; the command captures a second one."""
    for name in ("a", "b"):
        web.routes[f"/{name}"] = (
            f"<!doctype html><html><head><meta charset=utf-8><title>Story {name}</title>"
            f"</head><body><article><h1>Story {name}</h1><p>{'A report. ' * 40}</p>"
            "</article></body></html>"
        )
    out = m.home / "captured"
    run = m("capture", "--allow-private", web.url("/a"), "-o", out / "a")
    assert run.exit_code == 0, run.stderr
    return ["capture", "--allow-private", web.url("/b"), "-o", out / "b"]


def _two_cars(m: Mirror, tmp: Path) -> tuple[str, str]:
    """Bundles Old and New as CARs in tmp (no .minisig); returns their root CIDs."""
    roots = []
    for title in ("Old", "New"):
        assert m("bundle", small_page(tmp, title), "-o", tmp / title).exit_code == 0
        roots.append(car.write_car(tmp / title, tmp / f"{title}.car").root.encode())
    return roots[0], roots[1]


def _get_over_old(m: Mirror, tmp: Path, env: dict[str, str], web: Server) -> list[str | Path]:
    old, new = _two_cars(m, tmp)
    cache = Home(m.home).car_cache_dir
    cache.mkdir(parents=True)
    for title, root in (("Old", old), ("New", new)):
        shutil.copyfile(tmp / f"{title}.car", cache / f"{root}.car")
    out = m.home / "got" / "report.car"
    assert m("get", old, "--no-node", "--trust", "pub", "-o", out).exit_code == 0
    return ["get", new, "--no-node", "--trust", "pub", "-o", out]


def _get_from_gateway(m: Mirror, tmp: Path, env: dict[str, str], web: Server) -> list[str | Path]:
    """Nothing cached: the verified copy from a gateway goes into the cache."""
    _old, new = _two_cars(m, tmp)
    web.routes[f"/ipfs/{new}"] = respond(
        (tmp / "New.car").read_bytes(), content_type="application/vnd.ipld.car"
    )
    out = m.home / "got" / "report.car"
    return ["get", new, "--no-node", "--gateway", web.base, "--trust", "pub", "-o", out]


def _export_over_old(m: Mirror, tmp: Path, env: dict[str, str], web: Server) -> list[str | Path]:
    for title in ("Old", "New"):
        assert m("bundle", small_page(tmp, title), "-o", tmp / title).exit_code == 0
    out = m.home / "exports" / "report.html"
    args: list[str | Path] = ["-o", out, "--no-minisig", "--trust", "pub"]
    assert m("export", tmp / "Old", *args).exit_code == 0
    return ["export", tmp / "New", *args]


def _verifier_over_old(
    m: Mirror, tmp: Path, env: dict[str, str], web: Server
) -> list[str | Path]:
    out = m.home / "verifiers" / "verify.html"
    args: list[str | Path] = ["verifier", "-o", out, "--no-minisig", "--trust", "pub"]
    assert m(*args).exit_code == 0
    return [*args, "--trust", "other"]  # the new page embeds one more key


_FEED_FILES = ("feed", "tmp")
_FOLLOW_FILES = ("follow", "state", "tmp")
_PENDING = "identity/pending.json"
SCENARIOS = {
    "key": Scenario("key", _keygen_force, ("keys/pub.key",), ("keys/pub.key", "keys/pub.pub")),
    "key-pub": Scenario(
        "key-pub", _keygen_force, ("keys/pub.pub",), ("keys/pub.key", "keys/pub.pub")
    ),
    "settings": Scenario(
        "settings",
        _keygen_first,
        ("settings.json",),
        ("keys/first.key", "keys/first.pub", "settings.json"),
        home="empty",
    ),
    "trust": Scenario("trust", _trust_add, ("trust.json",), ("trust.json",)),
    "trust-tsa": Scenario("trust-tsa", _trust_tsa_add, ("trust-tsa.json",), ("trust-tsa.json",)),
    "bundle": Scenario("bundle", _bundle_over_old, ("bundles/report",), ("bundles/report",)),
    "unpack": Scenario("unpack", _unpack_over_old, ("unpacked/report",), ("unpacked/report",)),
    "car": Scenario("car", _car_over_old, ("cars/report.car",), ("cars/report.car",)),
    "verifier": Scenario(
        "verifier", _verifier_over_old, ("verifiers/verify.html",), ("verifiers/verify.html",)
    ),
    "published": Scenario(
        "published", _push_second, ("published.json",), ("published.json", "tmp"), node=True
    ),
    "feed-history": Scenario(
        "feed-history", _publish_second_feed, ("feed/history/2.json",), _FEED_FILES, node=True
    ),
    "feed": Scenario("feed", _publish_second_feed, ("feed/feed.json",), _FEED_FILES, node=True),
    "feed-head": Scenario(
        "feed-head", _publish_second_feed, ("feed/head.json",), _FEED_FILES, node=True
    ),
    "identity": Scenario("identity", _identity_init, ("identity/v1.json",), ("identity",)),
    "identity-pending": Scenario("identity-pending", _pending_over_old, (_PENDING,), (_PENDING,)),
    "identity-state": Scenario(
        "identity-state", _verify_after_rotation, ("state/identity/*.json",), ("state",)
    ),
    "follow-state": Scenario(
        "follow-state", _follow_second_feed, ("follow/*.json",), _FOLLOW_FILES, node=True
    ),
    "feed-state": Scenario(
        "feed-state", _follow_second_feed, ("state/feeds/*.json",), _FOLLOW_FILES, node=True
    ),
    "captures": Scenario(
        "captures", _capture_second, ("captures.json",), ("captures.json", "captured")
    ),
    "get": Scenario("get", _get_over_old, ("got/report.car",), ("got",)),
    "car-cache": Scenario("car-cache", _get_from_gateway, ("cache/car/*.car",), ("cache", "got")),
    "export": Scenario("export", _export_over_old, ("exports/report.html",), ("exports",)),
    "minisig": Scenario("minisig", _car_over_old, ("cars/report.car.minisig",), ("cars",)),
}


def _under(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(
        path == p or path.startswith(p + "/") or fnmatch.fnmatchcase(path, p) for p in prefixes
    )


def _files_under(files: dict[str, bytes], prefixes: tuple[str, ...]) -> dict[str, bytes]:
    return {p: d for p, d in files.items() if _under(p, prefixes)}


@pytest.fixture
def web() -> Iterator[Server]:
    """A web server on 127.0.0.1 (pages to capture, a gateway) the prepare steps fill."""
    with serve() as server:
        yield server


@pytest.fixture
def home_for(mirror: Mirror, empty_mirror: Mirror) -> Callable[[str], Mirror]:
    return lambda kind: mirror if kind == "keyed" else empty_mirror


def test_every_store_label_has_a_kill_test() -> None:
    """Every label passed to the store's writers in mirror/ is either covered here or
    listed as a known gap, so a new write path cannot slip by unnoticed."""
    used = set()
    for path in (ROOT / "mirror").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        used |= {a or b for a, b in re.findall(r'label="([a-z-]+)"|kill_point\("([a-z-]+)"', text)}
    known_gaps: set[str] = set()
    assert used - set(SCENARIOS) - known_gaps == set(), "write path without a kill test"
    assert known_gaps <= used, "a listed gap no longer exists: drop it from known_gaps"


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize(
    "label",
    [
        pytest.param(name, marks=pytest.mark.ipfs) if s.node else name
        for name, s in sorted(SCENARIOS.items())
    ],
)
def test_case_33_sigkill_leaves_old_or_new(
    label: str,
    step: str,
    home_for: Callable[[str], Mirror],
    tmp_path: Path,
    web: Server,
    request: pytest.FixtureRequest,
) -> None:
    scenario = SCENARIOS[label]
    m = home_for(scenario.home)
    m.home.mkdir(parents=True, exist_ok=True)
    env: dict[str, str] = {}
    if scenario.node:
        env = {"MIRROR_IPFS_API": request.getfixturevalue("ipfs_node").api}
    args = scenario.prepare(m, tmp_path, env, web)
    before = snapshot(m.home)

    started = time.monotonic()
    run = run_cli(m.home, *args, kill_at=f"{label}:{step}", extra=env)
    elapsed = time.monotonic() - started
    assert run.returncode == -signal.SIGKILL, (run.returncode, run.stderr)
    assert elapsed < RUN_TIMEOUT

    after = snapshot(m.home)
    old, new = durable(before), durable(after)
    # Nothing outside what the command writes changed, and nothing is torn.
    for path in set(old) | set(new):
        if not _under(path, scenario.may_change):
            assert old.get(path) == new.get(path), f"{path} changed outside the write path"
    old_target = _files_under(old, scenario.targets)
    new_target = _files_under(new, scenario.targets)
    if step == "renamed":
        assert new_target and new_target != old_target, "the new version is not in place"
    else:
        assert new_target == old_target, "the target changed before its rename"
        assert any(LEFTOVER.search(p) for p in after), "kill point reached without a temp file"

    _assert_complete(m, label, step, new_target)

    # verify --all: passes, or reports only a .pub the crash kept from being written,
    # which --repair rewrites; leftovers are listed, never a failure.
    check = m("verify", "--all")
    problems = [line for line in check.stdout.splitlines() if line.startswith("problem:")]
    assert all(".pub:" in line for line in problems), check.stdout
    assert check.exit_code == (3 if problems else 0), check.stdout + check.stderr
    if any(LEFTOVER.search(p) for p in after):
        assert "leftover:" in check.stdout
    repaired = m("verify", "--all", "--repair")
    assert repaired.exit_code == 0, repaired.stdout + repaired.stderr
    clean = m("verify", "--all")
    assert clean.exit_code == 0, clean.stdout
    assert not re.search(r"^(problem|leftover):", clean.stdout, re.M), clean.stdout
    if (label, step) == ("feed", "renamed"):  # head.json still names version 1
        assert "head names feed version 1" in clean.stdout
    assert not any(LEFTOVER.search(p) for p in snapshot(m.home))


def _assert_complete(m: Mirror, label: str, step: str, files: dict[str, bytes]) -> None:
    """The file(s) at the target are a complete, usable version."""
    home = Home(m.home)
    if label in ("key", "key-pub"):
        check_key_file(keys.key_path(home, "pub"))
        if step != "renamed":
            return  # byte-identical to the old key (checked above)
        key = keys.load_signing_key(home, "pub", PASSPHRASE)  # decrypts: not torn
        assert oct(keys.key_path(home, "pub").stat().st_mode & 0o777) == "0o600"
        if label == "key-pub" and step == "renamed":
            assert keys.load_public(home, "pub") == key.public
    elif label == "settings":
        assert set(files) <= {"settings.json"}
        if step == "renamed":
            assert keys.load_settings(home) == {"default_key": "first"}
        assert keys.load_signing_key(home, "first", PASSPHRASE).public == keys.load_public(
            home, "first"
        )
    elif label == "trust":
        trusted = keys.load_trust(home)
        assert ("carol" in trusted) == (step == "renamed")
    elif label == "trust-tsa":
        assert sorted(tsa_trust.load(home)) == (
            ["first", "second"] if step == "renamed" else ["first"]
        )
    elif label == "published":
        count = len(json.loads((m.home / "published.json").read_bytes())["bundles"])
        assert count == (2 if step == "renamed" else 1)
    elif label in ("feed", "feed-head", "feed-history"):
        if label == "feed-history" and step != "renamed":
            assert not files  # version 2 was never there before
            return
        (path,) = files
        data = (m.home / path).read_bytes()
        doc = json.loads(base64.b64decode(json.loads(data)["payload"]))
        assert doc["version"] == (2 if step == "renamed" else 1)
    elif label == "car":
        run = m("verify", m.home / "cars" / "report.car", "--trust", "pub", "--json")
        assert run.exit_code == 0, run.stderr
        assert f'"title": "{"New" if step == "renamed" else "Old"}"' in run.stdout
    elif label in ("bundle", "unpack"):
        folder = m.home / ("bundles" if label == "bundle" else "unpacked") / "report"
        run = m("verify", folder, "--trust", "pub", "--json")
        assert run.exit_code == 0, run.stderr
        title = "New" if step == "renamed" else "Old"
        assert f'"title": "{title}"' in run.stdout
    elif label == "identity":
        chain = identity_state.home_chain(home)
        assert (chain is not None) == (step == "renamed")
    elif label == "identity-pending":
        (data,) = files.values()
        env = Envelope.from_bytes(data, max_size=1 << 20, what="pending")
        doc = json.loads(env.payload)
        assert doc["version"] == 2 and doc["threshold"] == 2
        days = (datetime.fromisoformat(doc["expires"]) - datetime.now(UTC)).days
        assert (days < 31) == (step == "renamed")  # the second proposal expires sooner
    elif label == "identity-state":
        (data,) = files.values()
        versions = json.loads(data)["chain"]["versions"]
        assert len(versions) == (2 if step == "renamed" else 1)
    elif label in ("follow-state", "feed-state"):
        key_id = keys.load_public(home, "pub").key_id
        snap = json.loads((m.home / "follow" / f"{key_id}.json").read_bytes())
        state = json.loads((m.home / "state" / "feeds" / f"{key_id}.json").read_bytes())
        snapped = label == "feed-state" or step == "renamed"
        assert len(snap["verified"]) == (2 if snapped else 1)
        assert state["version"] == (2 if label == "feed-state" and step == "renamed" else 1)
        # the journal keeps what the snapshot did not get: nothing verified is lost
        assert len(FollowState.load(home, key_id).verified) == 2
    elif label == "captures":
        (data,) = files.values()
        assert len(json.loads(data)["captures"]) == (2 if step == "renamed" else 1)
        assert data == canonjson.dumps(json.loads(data)) + b"\n"  # canonical, like the others
    elif label == "get":
        run = m("verify", m.home / "got" / "report.car", "--trust", "pub", "--json")
        assert run.exit_code == 0, run.stderr
        assert f'"title": "{"New" if step == "renamed" else "Old"}"' in run.stdout
    elif label == "export":
        (data,) = files.values()
        heading = b"<h1>New</h1>" if step == "renamed" else b"<h1>Old</h1>"
        assert heading in data and data.rstrip().endswith(b"</html>")
    elif label == "car-cache":
        if step != "renamed":
            assert not files
            return
        ((path, _data),) = files.items()
        assert m("verify", m.home / path, "--trust", "pub").exit_code == 0
    elif label == "minisig":
        car_file = m.home / "cars" / "report.car"
        (sig,) = files.values()
        public = keys.load_public(home, "pub")
        if step == "renamed":  # the new signature is complete and covers the new CAR
            verify_minisig(car_file, sig, public)
        else:  # the old one no longer matches the new CAR: refused, never half-read
            with pytest.raises(VerificationError):
                verify_minisig(car_file, sig, public)


def test_leftover_is_reported_then_repaired(mirror: Mirror) -> None:
    """The policy in one place: a leftover is one line, exit 0; --repair removes it."""
    leftover = mirror.home / ".trust.json.x1y2z3.tmp"
    leftover.write_bytes(b'{"format":')
    staging = mirror.home / "bundles" / ".report.abc.staging"
    staging.mkdir(parents=True)
    (staging / "index.html").write_text("half", encoding="utf-8")
    run = mirror("verify", "--all")
    assert run.exit_code == 0, run.stdout + run.stderr
    assert run.stdout.count("leftover:") == 2
    assert mirror("verify", "--all", "--repair").exit_code == 0
    assert not leftover.exists() and not staging.exists()
    assert mirror("verify", "--all").stdout == ""


def test_verify_all_fails_on_damage_one_line_each(mirror: Mirror, tmp_path: Path) -> None:
    """Something that is damaged (not merely interrupted) fails with exit 3."""
    keyfile = mirror.home / "keys" / "other.key"
    keyfile.write_bytes(keyfile.read_bytes()[:-20])  # torn by something other than mirror
    trust = mirror.home / "trust.json"
    trust.write_bytes(trust.read_bytes().replace(b'"keys":', b'"keys":{"x":1},"keys2":', 1))
    run = mirror("verify", "--all")
    assert run.exit_code == 3
    problems = [line for line in run.stdout.splitlines() if line.startswith("problem:")]
    assert len(problems) == 2, run.stdout
    assert any("keys/other.key" in line for line in problems)
    assert any("trust.json" in line for line in problems)
    assert "Traceback" not in run.stderr


def test_verify_all_checks_key_mode(mirror: Mirror) -> None:
    keyfile = mirror.home / "keys" / "pub.key"
    keyfile.chmod(0o644)
    run = mirror("verify", "--all")
    assert run.exit_code == 3
    assert "expected 0600" in run.stdout


def test_verify_all_checks_captured_bundles(mirror: Mirror, tmp_path: Path) -> None:
    """captures.json points at bundle folders and CARs: both are verified."""
    out = tmp_path / "b"
    root = mirror("bundle", small_page(tmp_path, "Cap"), "-o", out).stdout.strip()
    assert mirror("car", out, "-o", tmp_path / "b.car").exit_code == 0
    (mirror.home / "captures.json").write_text(
        json.dumps({"captures": {"https://example.org/a": {"path": str(out), "root": root}}}),
        encoding="utf-8",
    )
    run = mirror("verify", "--all", "--json")
    assert run.exit_code == 0, run.stdout
    assert json.loads(run.stdout)["checked"]["bundles"] == 2
    (out / "index.html").write_bytes(b"tampered")
    run = mirror("verify", "--all")
    assert run.exit_code == 3
    assert run.stdout.count("problem:") == 1 and str(out) in run.stdout


def test_verify_all_with_missing_registries_and_empty_home(empty_mirror: Mirror) -> None:
    empty_mirror.home.mkdir(parents=True)
    run = empty_mirror("verify", "--all")
    assert run.exit_code == 0 and run.stdout == ""


def test_verify_all_usage(mirror: Mirror, tmp_path: Path) -> None:
    assert mirror("verify", "--all", tmp_path).exit_code == 2
    assert mirror("verify", "--repair", tmp_path).exit_code == 2
    assert mirror("verify").exit_code == 2


# -- full disk and read-only directory: exit 6, nothing half-written -------------------


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs (mounting needs root; skipped with the reason otherwise)."""
    mountpoint = tmp_path / "fs"
    mountpoint.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip() or 'not permitted'}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def _move_home(m: Mirror, fs: Path) -> Mirror:
    home = fs / "home"
    shutil.copytree(m.home, home)
    return Mirror(home)


def _fill(fs: Path) -> None:
    """Fill the file system to the last byte (unbuffered, so closing cannot fail)."""
    with open(fs / "filler", "wb", buffering=0) as out:
        for size in (4096, 1):
            try:
                while out.write(b"\0" * size):
                    pass
            except OSError:
                pass


def _assert_untouched(m: Mirror, before: dict[str, bytes], run: Run, code: int) -> None:
    assert run.exit_code == code, run.stderr
    stderr = run.stderr
    assert stderr.count("\n") == 1 and "Traceback" not in stderr, stderr
    assert snapshot(m.home) == before, "a failed write changed the data directory"


@pytest.mark.parametrize("command", ["trust", "keygen", "bundle"])
def test_case_33_enospc_exit_6_nothing_half_written(
    command: str, mirror: Mirror, small_fs: Path, tmp_path: Path
) -> None:
    m = _move_home(mirror, small_fs)
    page = small_page(tmp_path, "Full")
    args: dict[str, list[str | Path]] = {
        "trust": ["trust", "add", "carol", m("key", "show", "other").stdout.strip()],
        "keygen": ["keygen", "--name", "pub", "--force"],
        "bundle": ["bundle", page, "-o", m.home / "report"],
    }
    _fill(small_fs)
    before = snapshot(m.home)
    run = m(*args[command])
    _assert_untouched(m, before, run, 6)
    assert "no space left" in run.stderr


@pytest.mark.parametrize("command", ["trust", "keygen", "bundle"])
def test_case_33_read_only_directory_exit_6_nothing_written(
    command: str, mirror: Mirror, small_fs: Path, tmp_path: Path
) -> None:
    """chmod means nothing to root, so the directory is a tmpfs remounted read-only."""
    m = _move_home(mirror, small_fs)
    page = small_page(tmp_path, "ReadOnly")
    args: dict[str, list[str | Path]] = {
        "trust": ["trust", "add", "carol", m("key", "show", "other").stdout.strip()],
        "keygen": ["keygen", "--name", "fresh"],
        "bundle": ["bundle", page, "-o", m.home / "report"],
    }
    remount = subprocess.run(
        ["mount", "-o", "remount,ro", str(small_fs)], capture_output=True, text=True, check=False
    )
    if remount.returncode != 0:
        pytest.skip(f"cannot remount read-only: {remount.stderr.strip()}")
    before = snapshot(m.home)
    run = m(*args[command])
    _assert_untouched(m, before, run, 6)
    assert "read-only" in run.stderr


def test_verify_all_checks_identity_and_remembered_state(mirror: Mirror) -> None:
    assert mirror("identity", "init").exit_code == 0
    assert mirror("verify", "--all").exit_code == 0
    v1 = mirror.home / "identity" / "v1.json"
    v1.write_bytes(v1.read_bytes().replace(b'"sig":"', b'"sig":"AAAA', 1))
    state = mirror.home / "state" / "feeds" / "0123456789abcdef.json"
    state.parent.mkdir(parents=True)
    state.write_bytes(b'{"format":"mirror-feed-state/1","version":"7"}')
    run = mirror("verify", "--all")
    assert run.exit_code == 3
    problems = [line for line in run.stdout.splitlines() if line.startswith("problem:")]
    assert len(problems) == 2, run.stdout
    assert any("identity" in line for line in problems)
    assert any("state/feeds/0123456789abcdef.json" in line for line in problems)
