#!/usr/bin/env python3
"""Batch capture of the 64 Readability pages from a local server, beside trafilatura
extraction alone on the same pages.

    python bench/bench_capture.py [--corpus ../shared/corpus/readability] [-j 4] [--rounds 3]

Both sides run as child processes so each is timed from process start to exit.
Memory is reported twice: the peak RSS of the command's own process (from wait4),
and the peak of the whole process tree (the command and its extraction worker
processes), sampled from /proc every 0.1 s as the sum of RSS (counting shared library pages
once per process: an upper bound) and the sum of PSS (shared
pages split between their processes). The memory target applies to the tree's RSS sum.
  ours  `mirror capture --allow-private --feed FEED -j N -o OUT`: fetch, extract,
        sanitize, images, reader page, signed bundle and CAR for every page
        (including process start and the passphrase's key derivation);
  peer  requests.get + trafilatura.extract (default options) of every page on N
        threads (extraction under a lock, as in ours: trafilatura's lxml parser is
        module-level and must not be used by two threads at once).
mirror's modules are byte-compiled first, as an installed copy's are (trafilatura's
are, by pip). Rounds alternate (peer, ours, peer, ours...) and the median of each is
reported, with mirror's fixed start-up (the same command over an empty URL list:
imports and the passphrase's deliberately slow key derivation) shown apart.
Targets: ours at most 1.3x the peer's time, peak memory under 300 MB.
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PASSPHRASE = "bench passphrase"

PEER = r"""
import sys, threading, requests, trafilatura
from concurrent.futures import ThreadPoolExecutor
urls = sys.argv[2:]
lock = threading.Lock()  # trafilatura shares one lxml parser: not safe in two threads
def one(u):
    r = requests.get(u, timeout=30)
    with lock:
        return trafilatura.extract(r.text, url=u) or ""
with ThreadPoolExecutor(int(sys.argv[1])) as pool:
    texts = list(pool.map(one, urls))
print(sum(1 for t in texts if t))
"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve(pages: Path, names: list[str]) -> tuple[http.server.ThreadingHTTPServer, str]:
    feed_dir = Path(tempfile.mkdtemp(prefix="bench-feed-"))

    class Handler(_Quiet):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(pages), **kwargs)

        def send_head(self) -> Any:
            if self.path == "/feed.xml":
                data = (feed_dir / "feed.xml").read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                import io

                return io.BytesIO(data)
            return super().send_head()

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    base = f"http://127.0.0.1:{srv.server_address[1]}"
    items = "".join(f"<item><link>{base}/{n}/source.html</link></item>" for n in names)
    (feed_dir / "feed.xml").write_text(
        f'<?xml version="1.0"?><rss version="2.0"><channel>{items}</channel></rss>'
    )
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, base


def _tree(pid: int) -> list[int]:
    """pid and its descendants (parents read from /proc/<pid>/stat)."""
    parent: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):  # it ended meanwhile
            # the command name may hold spaces and parentheses: split after the last ")"
            parent[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(c for c, pp in parent.items() if pp == p)
    return found


def _memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in kB; (0, 0) once it is gone."""
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0, 0
    fields = dict(line.split(":", 1) for line in rollup.splitlines() if ":" in line)
    kb = {k: int(v.split()[0]) for k, v in fields.items() if k in ("Rss", "Pss")}
    return kb.get("Rss", 0), kb.get("Pss", 0)


class TreeMemory:
    """Peak sums of RSS and PSS over a process tree, sampled on a thread."""

    def __init__(self, pid: int, every: float = 0.1) -> None:
        self.pid, self.every = pid, every
        self.rss = self.pss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            sizes = [_memory_kb(p) for p in _tree(self.pid)]
            self.rss = max(self.rss, sum(r for r, _ in sizes))
            self.pss = max(self.pss, sum(p for _, p in sizes))

    def stop(self) -> tuple[float, float]:
        """(peak RSS sum, peak PSS sum) in MB."""
        self._stop.set()
        self._thread.join()
        return self.rss / 1024, self.pss / 1024


Memory = tuple[float, float, float]


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, Memory, int, str]:
    """(seconds, (peak RSS of the process, tree RSS sum, tree PSS sum) in MB, exit code,
    stderr tail) of one child process."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    tree = TreeMemory(proc.pid)
    assert proc.stderr is not None
    err = proc.stderr.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    took = time.perf_counter() - started
    rss, pss = tree.stop()
    mem = (usage.ru_maxrss / 1024, rss, pss)
    return took, mem, proc.returncode, err.decode(errors="replace")[-400:]


def compile_package(env: dict[str, str]) -> None:
    """Byte-compile the mirror package the command runs, as pip does when it installs
    a package (trafilatura's modules are compiled so): an editable install under
    PYTHONDONTWRITEBYTECODE would otherwise compile every module from source in each
    process, a cost no installed copy has."""
    where = subprocess.run(
        [sys.executable, "-c", "import mirror, os; print(os.path.dirname(mirror.__file__))"],
        env=env, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    subprocess.run([sys.executable, "-m", "compileall", "-q", where], env=env, check=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default=str(ROOT.parent / "shared" / "corpus" / "readability"))
    ap.add_argument("-j", "--jobs", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    pages = Path(args.corpus)
    if not pages.is_dir():
        print(f"corpus not found: {pages}", file=sys.stderr)
        return 2
    names = sorted(p.name for p in pages.iterdir() if (p / "source.html").is_file())
    srv, base = serve(pages, names)
    urls = [f"{base}/{n}/source.html" for n in names]
    work = Path(tempfile.mkdtemp(prefix="bench-capture-"))
    mirror = str(Path(sys.executable).with_name("mirror"))
    env = {**os.environ, "MIRROR_HOME": str(work / "home"), "MIRROR_PASSPHRASE": PASSPHRASE}
    subprocess.run([mirror, "keygen", "--name", "bench"], env=env, check=True, capture_output=True)
    compile_package(env)
    empty = work / "empty.txt"
    empty.write_text("# no URLs: measures start-up only\n")
    fixed_t: list[float] = []
    ours_t: list[float] = []
    peer_t: list[float] = []
    ours_mem: list[Memory] = []
    peer_mem: list[Memory] = []
    try:
        for i in range(args.rounds):
            t, mem, code, err = timed([sys.executable, "-c", PEER, str(args.jobs), *urls], env)
            if code != 0:
                print(f"peer failed: {err}", file=sys.stderr)
                return 1
            peer_t.append(t)
            peer_mem.append(mem)
            out = work / f"out{i}"
            cmd = [mirror, "capture", "--allow-private", "--feed", f"{base}/feed.xml",
                   "-j", str(args.jobs), "-o", str(out)]  # fmt: skip
            t, mem, code, err = timed(cmd, env)
            if code != 0:
                print(f"mirror capture failed ({code}): {err}", file=sys.stderr)
                return 1
            bundles = sum(1 for p in out.iterdir() if p.suffix == ".car")
            if bundles != len(names):
                print(f"only {bundles} of {len(names)} bundles written", file=sys.stderr)
                return 1
            ours_t.append(t)
            ours_mem.append(mem)
            # no extraction workers for an empty list: imports and key derivation only
            fixed = [mirror, "capture", "--urls-file", str(empty), "--processes", "0",
                     "-o", str(work / "none")]  # fmt: skip
            fixed_t.append(timed(fixed, env)[0])
            print(f"round {i + 1}: trafilatura {peer_t[-1]:.2f} s, mirror capture {t:.2f} s")
    finally:
        srv.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    ours, peer = statistics.median(ours_t), statistics.median(peer_t)
    ratio = ours / peer
    print(f"\n{len(names)} pages, -j {args.jobs}, median of {args.rounds} rounds")
    print(f"{'':28}{'time (s)':>10}{'pages/s':>10}{'main MB':>10}{'tree RSS':>10}{'tree PSS':>10}")
    for label, seconds, mems in (
        ("trafilatura fetch+extract", peer, peer_mem),
        ("mirror capture (bundles)", ours, ours_mem),
    ):
        main_mb, rss_mb, pss_mb = (max(m[i] for m in mems) for i in range(3))
        print(
            f"{label:28}{seconds:>10.2f}{len(names) / seconds:>10.1f}"
            f"{main_mb:>10.0f}{rss_mb:>10.0f}{pss_mb:>10.0f}"
        )
    start = statistics.median(fixed_t)
    print(
        f"of which mirror's fixed start-up (imports, passphrase key derivation): {start:.2f} s; "
        f"without it {(ours - start) / peer:.2f}x"
    )
    peak = max(max(m[0], m[1]) for m in ours_mem)  # the tree's sum, or wait4's if higher
    ok_time, ok_mem = ratio <= 1.3, peak < 300
    verdict = {True: "ok", False: "MISSED"}
    print(
        f"ratio {ratio:.2f}x (target <= 1.3x: {verdict[ok_time]}); "
        f"peak memory {peak:.0f} MB, all processes (target < 300 MB: {verdict[ok_mem]})"
    )
    return 0 if ok_time and ok_mem else 1


if __name__ == "__main__":
    sys.exit(main())
