"""CID + CAR speed: our write_car vs `ipfs-car pack` vs plain `sha256sum`.

Two inputs in a temp dir: one 512 MiB file, and 10,000 small files (1-50 KB). Each tool
runs in its own process, after one warm-up read so the page cache is equal for all
and after a sync so no tool pays for another's pending writes;
peak RSS comes from the child's rusage. Targets (DESIGN.md): >= 2x faster than
ipfs-car on both, within 2x of sha256sum on the big file, peak < 100 MB.

    python bench/bench_car.py [--big-mib 512] [--small 10000]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IPFS_CAR = ROOT / "tests" / "tools" / "node_modules" / ".bin" / "ipfs-car"
OURS = (
    "import sys; from mirror.ipld.car import write_car; "
    "print(write_car(sys.argv[1], sys.argv[2]).root)"
)


def run(cmd: list[str], shell: bool = False) -> tuple[float, float, str]:
    """(seconds, peak RSS in MB, stdout) of one child process."""
    os.sync()  # no tool pays for another's (or the input's) pending writeback
    start = time.perf_counter()
    proc = subprocess.Popen(
        " ".join(cmd) if shell else cmd,
        shell=shell,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    out = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return elapsed, usage.ru_maxrss / 1024, out.strip()


def make_inputs(work: Path, big_mib: int, small: int) -> tuple[Path, Path]:
    big = work / "big" / "big.bin"
    big.parent.mkdir()
    with open(big, "wb") as fh:
        for _ in range(big_mib):
            fh.write(os.urandom(1 << 20))
    rng = random.Random(7)
    tree = work / "small"
    for i in range(small):
        folder = tree / f"d{i % 100:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{i:05d}.html").write_bytes(os.urandom(rng.randint(1000, 50_000)))
    return big, tree


def bench(label: str, src: Path, sha_cmd: list[str], work: Path) -> list[tuple[str, float, float]]:
    run(sha_cmd, shell=True)  # warm the page cache
    rows = []
    t, rss, ours_root = run([sys.executable, "-c", OURS, str(src), str(work / "ours.car")])
    rows.append(("mirror write_car", t, rss))
    if IPFS_CAR.exists():
        t, rss, out = run([str(IPFS_CAR), "pack", str(src), "--output", str(work / "ic.car")])
        theirs = out.splitlines()[-1] if out else "?"
        rows.append(("ipfs-car pack", t, rss))
        # a single file is wrapped by ipfs-car, so only directories compare by root
        if src.is_dir() and theirs != ours_root:
            print(f"  !! root mismatch: ours {ours_root} ipfs-car {theirs}")
    t, rss, _ = run(sha_cmd, shell=True)
    rows.append(("sha256sum", t, rss))
    ours_t = rows[0][1]
    print(f"\n{label}")
    print(f"  {'tool':<18}{'seconds':>9}{'peak MB':>9}{'vs ours':>9}")
    for name, secs, peak in rows:
        print(f"  {name:<18}{secs:>9.2f}{peak:>9.0f}{secs / ours_t:>8.2f}x")
    for f in work.glob("*.car"):
        f.unlink()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big-mib", type=int, default=512)
    parser.add_argument("--small", type=int, default=10_000)
    args = parser.parse_args()
    if not IPFS_CAR.exists():
        print("ipfs-car missing (npm install in tests/tools): comparing with sha256sum only")
    work = Path(tempfile.mkdtemp(prefix="bench-car-"))
    try:
        big, tree = make_inputs(work, args.big_mib, args.small)
        bench(f"one {args.big_mib} MiB file", big, ["sha256sum", str(big)], work)
        bench(
            f"{args.small} small files (1-50 KB)",
            tree,
            [
                "find",
                str(tree),
                "-type",
                "f",
                "-print0",
                "|",
                "xargs",
                "-0",
                "sha256sum",
                ">/dev/null",
            ],
            work,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
