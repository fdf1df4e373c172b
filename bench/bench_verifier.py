#!/usr/bin/env python3
"""The verifier page in Chromium beside `mirror verify`, on the same files.

    python bench/bench_verifier.py [--rounds 3]

Files: a single-file export of about 1 MB (one large inlined image) and a CAR of
about 10 MB (a bundle carrying a 10 MB file), both signed by a fixed test key.
  ours  the verifier page (`mirror verifier`) opened from file:// in headless
        Chromium: start-up (page load until window.mirror.ready) plus
        window.mirror.verify of the bytes, timed inside the page;
  peer  `python mirror.py verify FILE --key KEY` as a child process, start-up
        included (that is what a reader waits for).
The median of the rounds is reported with the ratio; target: ours no slower.
Not part of the test suite (timings on a shared machine are noisy).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mirror import verifier  # noqa: E402
from tests.browser import chromium  # noqa: E402
from tests.integration.test_verifier_browser import b64_of, wait_until  # noqa: E402
from tests.verifier_cases import PAGE, export_of, key, write  # noqa: E402


def make_files(tmp: Path) -> tuple[Path, Path]:
    signer = key(1)
    page = PAGE.replace("</article>", '<img src="assets/big.png"></article>')
    big = {"assets/big.png": os.urandom(760_000)}  # about 1 MB once inlined as base64
    folder = write(tmp / "one-mb", signer, extra=big, page=page)
    export = export_of(folder, tmp / "one-mb.html", signer, tmp / "home")
    car = tmp / "ten-mb.car"
    write(tmp / "ten-mb", signer, extra={"source/page.raw": os.urandom(10 << 20)}, car_out=car)
    return export, car


def cli_time(target: Path) -> float:
    start = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MIRROR_HOME": str(target.parent / "home")}
    out = subprocess.run(
        [sys.executable, str(ROOT / "mirror.py"), "verify", str(target), "--key",
         key(1).public.to_text()],
        capture_output=True, env=env, check=False,
    )  # fmt: skip
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        raise SystemExit(f"mirror verify failed: {out.stderr.decode()[:200]}")
    return elapsed


def page_time(b: object, page_file: Path, target: Path) -> tuple[float, float]:
    ctx = b.browser.new_context()  # type: ignore[attr-defined]
    page = ctx.new_page()
    data = b64_of(target)
    try:
        start = time.perf_counter()
        page.goto(page_file.as_uri())
        wait_until(lambda: page.evaluate("() => !!window.mirror"), "window.mirror")
        page.evaluate("async () => { await window.mirror.ready; }")
        startup = time.perf_counter() - start
        page.evaluate(
            "(b64) => { window.__bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)); }",
            data,
        )
        result = page.evaluate(
            """async (name) => {
                 const t = performance.now();
                 const v = await window.mirror.verify(window.__bytes, name);
                 return [performance.now() - t, v.ok, v.error || ''];
               }""",
            target.name,
        )
        if not result[1]:
            raise SystemExit(f"the page refused {target.name}: {result[2]}")
        return startup, result[0] / 1000
    finally:
        ctx.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        export, car = make_files(tmp)
        page_file = tmp / "verify.html"
        verifier.write(page_file, [verifier.EmbeddedKey("pub", key(1).public)])
        with chromium() as b:
            for target in (export, car):
                cli, ours, starts = [], [], []
                for _ in range(args.rounds):
                    cli.append(cli_time(target))
                    startup, verify_s = page_time(b, page_file, target)
                    starts.append(startup)
                    ours.append(startup + verify_s)
                size = target.stat().st_size
                c, o = statistics.median(cli), statistics.median(ours)
                print(
                    f"{target.name} ({size / 1e6:.1f} MB): mirror verify {c:.3f} s, "
                    f"verifier page {o:.3f} s (start-up {statistics.median(starts):.3f} s), "
                    f"ratio {o / c:.2f} (target <= 1.00)"
                )


if __name__ == "__main__":
    main()
