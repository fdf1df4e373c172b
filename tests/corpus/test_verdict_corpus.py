"""Every case of the verdict corpus (manifests/vectors/verdicts/) through every surface it
names, through the real `mirror` CLI: the expected exit code and `reason`, and on every
refusal the reader's data directory byte-identical afterwards and no output written.

SECURITY-CASES.md 34-38: one verdict whatever the way a copy reaches the reader.
The `verifier` surface (the in-browser page) is tested with the same corpus elsewhere.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PASSPHRASE, Mirror, Run, snapshot

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "manifests" / "vectors" / "verdicts"
MIRROR = ROOT / "mirror.py"
CONTRACT_SURFACES = {"verify", "unpack", "read", "get", "follow", "export", "verifier"}
TIMED = 20.0  # seconds: a subprocess that takes longer is an unbounded wait (case 35)
# Cases whose work must stay bounded by what the publisher signed: run in a subprocess
# with a deadline, and measured.
QUICK = {"recipe-sparse-unlisted-1tib": 3.0, "genuine-huge-uncarried-export": 3.0}

sys.path.insert(0, str(ROOT / "manifests"))
import verdict_cases  # noqa: E402 - the generator, for the keys that sign follow's feeds


def load_cases() -> dict[str, dict[str, Any]]:
    return {
        d.name: json.loads((d / "case.json").read_text(encoding="utf-8"))
        for d in sorted(CORPUS.iterdir())
        if (d / "case.json").is_file()
    }


CASES = load_cases()


def params(surface: str) -> list[Any]:
    return [pytest.param(name, id=name) for name, c in CASES.items() if surface in c["surfaces"]]


# -- the reader's data directory, built from the case -----------------------------------


def write_state(home: Path, state: list[dict[str, Any]]) -> None:
    """The identity the reader remembers, as mirror keeps it (one file per anchor key).
    The only place that knows the state file format."""
    from mirror import canonjson, identity_state
    from mirror.config import Home
    from mirror.keys import PublicKey

    for entry in state:
        anchor = PublicKey.from_text(entry["anchor"])
        path = identity_state.state_path(Home(home), anchor)
        path.parent.mkdir(parents=True, exist_ok=True)
        doc = {
            "format": identity_state.STATE_FORMAT,
            "anchor": entry["anchor"],
            "chain": entry["chain"],
        }
        path.write_bytes(canonjson.dumps(doc) + b"\n")


def remembered_versions(home: Path, anchor_text: str) -> int:
    """How many identity versions the reader remembers for a trusted anchor key."""
    from mirror import identity_state
    from mirror.config import Home
    from mirror.keys import PublicKey

    path = identity_state.state_path(Home(home), PublicKey.from_text(anchor_text))
    if not path.exists():
        return 0
    return len(json.loads(path.read_bytes())["chain"]["versions"])


def reader(tmp_path: Path, case: dict[str, Any]) -> Mirror:
    """A fresh data directory: each trusted key added with `mirror trust add`, the
    remembered identity state written."""
    m = Mirror(tmp_path / "reader")
    m.home.mkdir()
    for t in case["trust"]:
        run = m("trust", "add", t["name"], t["key"])
        assert run.exit_code == 0, run.stderr
    write_state(m.home, case["state"])
    return m


def trust_name(case: dict[str, Any]) -> str:
    return str(case["trust"][0]["name"])


# -- the case's input, copied (recipes built) -------------------------------------------


def build_recipe(name: str, folder: Path, tmp_path: Path) -> None:
    """Inputs git cannot hold, made from the genuine bundle folder."""
    if name == "sparse-unlisted-1tib":
        with open(folder / "huge.bin", "wb") as fh:
            fh.truncate(1 << 40)
    elif name == "fifo-listed":
        (folder / "index.html").unlink()
        os.mkfifo(folder / "index.html")
    elif name == "symlink-listed":
        outside = tmp_path / "outside"
        outside.mkdir()
        shutil.copyfile(folder / "index.html", outside / "index.html")
        (folder / "index.html").unlink()
        (folder / "index.html").symlink_to(outside / "index.html")
    elif name == "symlink-unlisted":
        (folder / "link.html").symlink_to(folder / "index.html")
    else:
        raise AssertionError(f"unknown recipe {name!r}")


def case_input(name: str, tmp_path: Path) -> Path:
    case = CASES[name]
    src = CORPUS / name
    work = tmp_path / "input"
    work.mkdir()
    if case["kind"] == "recipe":
        target = work / "bundle"
        shutil.copytree(src / "bundle", target)
        build_recipe(case["input"], target, tmp_path)
        return target
    source = src / case["input"]
    target = work / case["input"]
    if source.is_dir():
        shutil.copytree(source, target)
    else:
        shutil.copyfile(source, target)
    return target


def input_snapshot(path: Path) -> dict[str, Any]:
    """What the input looks like without reading FIFOs or following links."""
    if path.is_file() and not path.is_symlink():
        return {"": path.read_bytes()}
    out: dict[str, Any] = {}
    for p in sorted(path.rglob("*")):
        rel = p.relative_to(path).as_posix()
        if p.is_symlink():
            out[rel] = ("link", os.readlink(p))
        elif p.is_file():
            st = p.stat()
            out[rel] = p.read_bytes() if st.st_size < 1 << 20 else ("big", st.st_size)
        elif not p.is_dir():
            out[rel] = ("special", p.stat().st_mode)
    return out


# -- running the CLI ---------------------------------------------------------------------


def run_cli(m: Mirror, case_name: str, *args: str | Path) -> tuple[Run, float]:
    """In-process, except for cases whose work must be bounded: a subprocess with a
    deadline (an hour of hashing must fail the test, not hang it)."""
    start = time.monotonic()
    if CASES[case_name]["kind"] != "recipe" and case_name not in QUICK:
        return m(*args), time.monotonic() - start
    env = {**os.environ, "MIRROR_HOME": str(m.home), "MIRROR_PASSPHRASE": PASSPHRASE}
    try:
        done = subprocess.run(
            [sys.executable, str(MIRROR), *map(str, args)],
            capture_output=True,
            text=True,
            env=env,
            timeout=TIMED,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"`mirror {args[0]}` did not finish within {TIMED:g} s (unbounded work)")
    return Run(done.returncode, done.stdout, done.stderr), time.monotonic() - start


def verdict_json(run: Run) -> dict[str, Any]:
    try:
        value = json.loads(run.stdout)
    except ValueError:
        pytest.fail(f"no JSON verdict on stdout: {run.stdout!r} (stderr: {run.stderr!r})")
    assert isinstance(value, dict)
    return value


def check_verdict(case: dict[str, Any], run: Run) -> dict[str, Any]:
    """Exit code, one line on stderr without a traceback, and the JSON reason."""
    want = case["expect"]
    assert "Traceback" not in run.stderr
    assert run.exit_code == want["exit_code"], (run.exit_code, run.stderr)
    verdict = verdict_json(run)
    assert verdict.get("reason", "<no reason field>") == want["reason"], verdict
    assert verdict["ok"] is (want["exit_code"] == 0), verdict
    if not verdict["ok"]:
        assert verdict["exit_code"] == want["exit_code"]
        assert verdict["error"] and "\n" not in verdict["error"]
    return verdict


def check_quick(case_name: str, seconds: float) -> None:
    if case_name in QUICK:
        assert seconds < QUICK[case_name], f"took {seconds:.1f} s"


# -- verify ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", params("verify"))
def test_verify(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    m = reader(tmp_path, case)
    target = case_input(name, tmp_path)
    before, given = snapshot(m.home), input_snapshot(target)
    run, seconds = run_cli(m, name, "verify", target, "--trust", trust_name(case), "--json")
    verdict = check_verdict(case, run)
    check_quick(name, seconds)
    assert input_snapshot(target) == given
    if verdict["ok"]:
        assert verdict["publisher"] == trust_name(case)
        assert (
            verdict["source"]
            == {"folder": "folder", "car": "car", "export": "single-file"}[case["kind"]]
        )
    else:
        assert snapshot(m.home) == before


# -- export ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", params("export"))
def test_export(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    m = reader(tmp_path, case)
    target = case_input(name, tmp_path)
    out = tmp_path / "out" / "article.html"
    out.parent.mkdir()
    before = snapshot(m.home)
    args = ("export", target, "-o", out, "--trust", trust_name(case), "--no-minisig", "--json")
    run, _ = run_cli(m, name, *args)
    assert "Traceback" not in run.stderr
    want = case["expect"]
    assert run.exit_code == want["exit_code"], (run.exit_code, run.stderr)
    result = verdict_json(run)
    if want["exit_code"] == 0:
        again = m("verify", out, "--trust", trust_name(case), "--json")
        assert again.exit_code == 0, again.stderr
        assert verdict_json(again)["source"] == "single-file"
    else:
        assert result.get("reason") == want["reason"], result
        assert list(out.parent.iterdir()) == []
        assert snapshot(m.home) == before


# -- unpack ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", params("unpack"))
def test_unpack(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    m = reader(tmp_path, case)
    target = case_input(name, tmp_path)
    dest = tmp_path / "unpacked"
    before = snapshot(m.home)
    run, _ = run_cli(m, name, "unpack", target, dest, "--trust", trust_name(case), "--json")
    verdict = check_verdict(case, run)
    if verdict["ok"]:
        assert (dest / "manifest.json").is_file() and (dest / "index.html").is_file()
        assert m("verify", dest, "--trust", trust_name(case)).exit_code == 0
    else:
        assert not dest.exists()
        assert snapshot(m.home) == before


def genuine_car(tmp_path: Path) -> tuple[Mirror, Path]:
    name = "genuine-plain-car"
    return reader(tmp_path, CASES[name]), case_input(name, tmp_path)


def test_unpack_refuses_a_non_empty_target_without_force(tmp_path: Path) -> None:
    m, car = genuine_car(tmp_path)
    dest = tmp_path / "mine"
    dest.mkdir()
    (dest / "notes.txt").write_bytes(b"the reader's own file\n")
    before, home = snapshot(dest), snapshot(m.home)
    run = m("unpack", car, dest, "--trust", "pub", "--json")
    assert run.exit_code == 2, "unpack into a non-empty folder without --force"
    assert "Traceback" not in run.stderr
    assert verdict_json(run)["reason"] == "usage"
    assert snapshot(dest) == before and sorted(p.name for p in dest.iterdir()) == ["notes.txt"]
    assert snapshot(m.home) == home


def test_unpack_force_never_follows_links(tmp_path: Path) -> None:
    name = "genuine-images-car"
    m = reader(tmp_path, CASES[name])
    car = case_input(name, tmp_path)
    outside = tmp_path / "outside.html"
    outside.write_bytes(b"outside the target\n")
    outside_dir = tmp_path / "outside-dir"
    outside_dir.mkdir()
    dest = tmp_path / "mine"
    dest.mkdir()
    (dest / "index.html").symlink_to(outside)  # a file link where the page goes
    (dest / "assets").symlink_to(outside_dir)  # a folder link where the images go
    run = m("unpack", car, dest, "--trust", "pub", "--force", "--json")
    assert "Traceback" not in run.stderr
    assert run.exit_code == 0, run.stderr
    assert outside.read_bytes() == b"outside the target\n"  # not written through a link
    assert list(outside_dir.iterdir()) == []
    assert not (dest / "index.html").is_symlink() and not (dest / "assets").is_symlink()
    assert (dest / "index.html").read_bytes().startswith(b"<!doctype html>")
    assert (dest / "assets" / "a.gif").is_file()
    assert m("verify", dest, "--trust", "pub").exit_code == 0


def test_unpack_force_refused_keeps_what_was_there(tmp_path: Path) -> None:
    name = "content-flipped-byte-car"
    m = reader(tmp_path, CASES[name])
    car = case_input(name, tmp_path)
    dest = tmp_path / "mine"
    dest.mkdir()
    (dest / "notes.txt").write_bytes(b"the reader's own file\n")
    (dest / "link").symlink_to(tmp_path)
    before, home = input_snapshot(dest), snapshot(m.home)
    run = m("unpack", car, dest, "--trust", "pub", "--force", "--json")
    assert run.exit_code == 3, run.stderr
    assert "Traceback" not in run.stderr
    assert verdict_json(run)["reason"] == "content-mismatch"
    assert input_snapshot(dest) == before
    assert snapshot(m.home) == home


# -- get (a trustless gateway on 127.0.0.1) ------------------------------------------------


def car_root(path: Path) -> str:
    root, _ = verdict_cases.read_car(path.read_bytes())
    return root.encode()


@pytest.mark.parametrize("name", params("get"))
def test_get(name: str, tmp_path: Path) -> None:
    from tests.helpers.webserver import respond, serve

    case = CASES[name]
    m = reader(tmp_path, case)
    target = case_input(name, tmp_path)
    root = car_root(target)
    route = respond(target.read_bytes(), content_type="application/vnd.ipld.car")
    out = tmp_path / "got"
    before = snapshot(m.home)
    with serve({f"/ipfs/{root}": route}) as gateway:
        run = m(
            "get", root, "--no-node", "--gateway", gateway.base, "-o", out,
            "--trust", trust_name(case), "--json", "--timeout", "30",
        )  # fmt: skip
        assert gateway.requests, "the gateway was never asked"
    verdict = check_verdict(case, run)
    if verdict["ok"]:
        assert verdict["root_cid"] == root
        assert m("verify", out, "--trust", trust_name(case)).exit_code == 0
    else:
        assert not out.exists()
        assert snapshot(m.home) == before


# -- read (`mirror read` serves the verified page, or the refusal page) --------------------


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@dataclass
class Served:
    verdict: dict[str, Any]
    page: tuple[int, bytes]
    article: tuple[int, bytes]
    exit_code: int
    stderr: str


def read_json(proc: subprocess.Popen[bytes], deadline: float) -> dict[str, Any]:
    """The JSON verdict `mirror read --json` prints first (read straight from the pipe:
    a buffered reader would hide what it already holds from select)."""
    import select

    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    data = b""
    while True:
        left = deadline - time.monotonic()
        ready, _, _ = select.select([fd], [], [], max(left, 0))
        if not ready:
            pytest.fail(f"`mirror read` printed no verdict within {TIMED:g} s (unbounded wait)")
        chunk = os.read(fd, 65536)
        if not chunk:
            pytest.fail(f"`mirror read` ended without a JSON verdict: {data!r}")
        data += chunk
        if b"\n}\n" in data or data.strip() == b"{}":
            text = data[: data.index(b"\n}\n") + 3]
            try:
                return dict(json.loads(text))
            except ValueError:
                pytest.fail(f"`mirror read` printed no JSON verdict: {data!r}")


def serve_read(home: Path, target: Path, trust: str) -> Served:
    env = {**os.environ, "MIRROR_HOME": str(home), "MIRROR_PASSPHRASE": PASSPHRASE}
    args = [sys.executable, str(MIRROR), "read", str(target), "--trust", trust]
    proc = subprocess.Popen(
        [*args, "--no-open", "--json", "--serve-seconds", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
        env=env,
    )
    try:
        verdict = read_json(proc, time.monotonic() + TIMED)
        url = verdict["url"]
        page, article = fetch(url), fetch(url + "article/index.html")
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=15)
        return Served(verdict, page, article, proc.returncode, err.decode(errors="replace"))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def signed_page(case: dict[str, Any], target: Path) -> set[bytes]:
    """What `mirror read` may serve as the article of a verified case."""
    if case["kind"] == "export":
        return {target.read_bytes()}
    if target.is_dir():
        return {(target / "index.html").read_bytes()}
    _, blocks = verdict_cases.read_car(target.read_bytes())  # index.html is one raw leaf
    return {b for _, b in blocks if b.startswith(b"<!doctype html>")}


@pytest.mark.parametrize("name", params("read"))
def test_read(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    m = reader(tmp_path, case)
    target = case_input(name, tmp_path)
    before = snapshot(m.home)
    served = serve_read(m.home, target, trust_name(case))
    want = case["expect"]
    assert "Traceback" not in served.stderr
    assert served.exit_code == want["exit_code"], served.stderr
    assert served.verdict.get("reason", "<no reason field>") == want["reason"], served.verdict
    assert served.page[0] == 200
    if want["exit_code"] == 0:
        assert b'data-verdict="verified"' in served.page[1]
        assert served.article[0] == 200
        assert served.article[1] in signed_page(case, target)
    else:
        assert b'data-verdict="refused"' in served.page[1]
        assert served.article[0] == 404  # nothing of a refused copy is served
        assert snapshot(m.home) == before


# -- follow (a feed of the case's publisher listing the bundle, on a real node) ------------


def put_feed(data: bytes, work: Path, node: Any) -> str:
    """A feed file on the node, as the publisher pushes it (a one-file CAR)."""
    path = work / "feed.json"
    path.write_bytes(data)
    root = verdict_cases.write_car(path, work / "feed.car")
    node.client.dag_import(work / "feed.car")
    return root


def followed_reason(home: Path, root: str) -> str | None:
    """The reason code the follower recorded for a failed entry ("<reason>: <message>"
    in its state under follow/)."""
    for path in sorted((home / "follow").glob("*.json")):
        failed = json.loads(path.read_bytes()).get("failed") or {}
        if root in failed:
            return str(failed[root]).split(":", 1)[0]
    return None


def follow(m: Mirror, case: dict[str, Any], feed_cid: str, node: Any) -> tuple[Run, dict[str, Any]]:
    run = m(
        "follow", feed_cid, "--trust", trust_name(case), "--json",
        env={"MIRROR_IPFS_API": node.api},
    )  # fmt: skip
    assert "Traceback" not in run.stderr
    return run, verdict_json(run)


@pytest.fixture(scope="module")
def follow_node(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue("ipfs_node")  # one node for every follow case


@pytest.mark.ipfs
@pytest.mark.parametrize("name", params("follow"))
def test_follow(name: str, tmp_path: Path, follow_node: Any) -> None:
    from mirror.errors import MirrorError
    from mirror.ipld.cid import CID

    case = CASES[name]
    m = reader(tmp_path, case)
    target = case_input(name, tmp_path)
    root = CID.decode(car_root(target))
    follow_node.client.dag_import(target)
    with contextlib.suppress(MirrorError):  # dag import pins; following must decide
        follow_node.client.pin_rm(root)
    assert not follow_node.client.is_pinned(root)
    want = case["expect"]
    if "feeds" in case:  # a verdict on the feed itself
        *earlier, last = [(CORPUS / name / f).read_bytes() for f in case["feeds"]]
        for data in earlier:
            run, report = follow(m, case, put_feed(data, tmp_path, follow_node), follow_node)
            assert run.exit_code == 0, run.stderr
        pinned_before = follow_node.client.is_pinned(root)
        before = snapshot(m.home)
        run, report = follow(m, case, put_feed(last, tmp_path, follow_node), follow_node)
        check_verdict(case, run)
        assert snapshot(m.home) == before
        assert follow_node.client.is_pinned(root) == pinned_before
        return
    feed = verdict_cases.feed_files(name, target)[1]
    run, report = follow(m, case, put_feed(feed, tmp_path, follow_node), follow_node)
    if want["exit_code"] == 0:
        assert run.exit_code == 0, run.stderr
        assert report["pinned"] == 1 and report["failed"] == [], report
        assert follow_node.client.is_pinned(root)
    else:
        assert run.exit_code != 0, run.stderr
        failed = {f["root_cid"]: f for f in report.get("failed", [])}
        assert root.encode() in failed, report
        assert followed_reason(m.home, root.encode()) == want["reason"], report
        assert report["pinned"] == 0
        assert not follow_node.client.is_pinned(root)


# -- the corpus itself ----------------------------------------------------------------------

CONTRACT_REASONS = {
    "untrusted-key", "revoked-key", "threshold-not-met", "identity-invalid", "rollback",
    "expired", "content-mismatch", "unlisted-file", "missing-file", "non-canonical",
    "not-a-bundle", "wrong-type", "malformed", "limit",
}  # fmt: skip
NOT_IN_CORPUS = {"usage", "network", "storage", "internal"}
EXIT = {"malformed": 2, "limit": 5}


def test_corpus_is_complete() -> None:
    """Every reason of the contract (but usage, network, storage, internal and the
    timestamp ones) is expected by some case; every case names its surfaces."""
    assert len(CASES) >= 40
    reasons = {c["expect"]["reason"] for c in CASES.values()}
    missing = CONTRACT_REASONS - reasons
    assert not missing, f"no case expects {sorted(missing)}"
    assert None in reasons  # genuine copies too
    assert not reasons & NOT_IN_CORPUS
    for name, c in CASES.items():
        assert c["surfaces"] and set(c["surfaces"]) <= CONTRACT_SURFACES, name
        assert c["kind"] in {"folder", "car", "export", "recipe"}, name
        assert set(c) >= {"kind", "input", "trust", "state", "now", "expect", "surfaces"}, name
        reason, code = c["expect"]["reason"], c["expect"]["exit_code"]
        assert code == (0 if reason is None else EXIT.get(reason, 3)), name
        assert c["trust"] and all(t["key"].startswith("ed25519:") for t in c["trust"]), name
        if c["kind"] == "recipe":
            assert (CORPUS / name / "bundle" / "manifest.json").is_file(), name
        else:
            assert (CORPUS / name / c["input"]).exists(), name
        for feed_file in c.get("feeds", []):
            assert (CORPUS / name / feed_file).is_file(), name
        if "unpack" in c["surfaces"] or "get" in c["surfaces"] or "follow" in c["surfaces"]:
            assert c["kind"] == "car", name
        if "verifier" in c["surfaces"]:
            assert c["kind"] in {"car", "export"}, name
    genuine = {n.rsplit("-", 1)[0] for n, c in CASES.items() if c["expect"]["reason"] is None}
    for base in ("genuine-plain", "genuine-images", "genuine-rotated", "genuine-threshold",
                 "genuine-noidentity"):  # fmt: skip
        assert base in genuine
        for kind in ("folder", "car", "export"):
            assert f"{base}-{kind}" in CASES


def iter_case_dirs() -> Iterator[Path]:
    yield from sorted(p for p in CORPUS.iterdir() if p.is_dir())


def test_every_case_folder_has_a_case_json() -> None:
    assert [p.name for p in iter_case_dirs()] == sorted(CASES)
