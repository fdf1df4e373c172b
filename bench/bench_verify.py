"""Reader verification speed: `check_car` (the trust core) over 1,000 typical bundles.

Builds N signed bundles (reader page ~30 KB, article.md ~10 KB, two images ~60 KB,
source/page.raw ~150 KB: the shape of a captured article) as CAR files, then times
the full verdict over all of them — every block hashed, the manifest signature
checked, every file compared with the manifest — beside plain `sha256sum` of the
same CAR files (the floor: reading and hashing every byte once). Target
(DESIGN.md): at least 200 bundles/s in one process.

    python bench/bench_verify.py [--bundles 1000]
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mirror import bundle, verify
from mirror.clock import system_clock
from mirror.ipld import car
from mirror.keys import SigningKey, TrustedKey
from mirror.signer import Signer

TARGET_PER_S = 200


def typical_content(rng: random.Random) -> dict[str, bytes | Path]:
    def blob(n: int) -> bytes:
        return rng.randbytes(n)

    return {
        "index.html": blob(rng.randint(20_000, 40_000)),
        "article.md": blob(rng.randint(5_000, 15_000)),
        f"assets/{rng.getrandbits(64):016x}.jpg": blob(rng.randint(40_000, 80_000)),
        f"assets/{rng.getrandbits(64):016x}.png": blob(rng.randint(40_000, 80_000)),
        "source/page.raw": blob(rng.randint(100_000, 200_000)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundles", type=int, default=1000)
    args = parser.parse_args()
    key = SigningKey("bench", Ed25519PrivateKey.from_private_bytes(bytes(32)))
    # a reader who trusts the key and remembers no identity, as `mirror verify` builds it
    trust = verify.Trust((TrustedKey("bench", key.public, ""),), {}, None, system_clock())
    rng = random.Random(1)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cars = []
        print(f"building {args.bundles} bundles ...", file=sys.stderr)
        for i in range(args.bundles):
            folder = work / "b" / str(i)
            bundle.write_bundle(
                folder,
                typical_content(rng),
                article={"title": f"Article {i}", "canonical_url": f"https://example.org/{i}"},
                capture={"fetched_at": "2026-01-01T00:00:00Z"},
                signer=Signer.single(key),
            )
            cars.append(work / f"{i}.car")
            car.write_car(folder, cars[-1])
        total_mb = sum(c.stat().st_size for c in cars) / 1e6
        # warm the page cache for both contenders
        for c in cars:
            c.read_bytes()

        start = time.perf_counter()
        for c in cars:
            verify.check_car(c, trust)
        ours = time.perf_counter() - start

        start = time.perf_counter()
        subprocess.run(["sha256sum", *map(str, cars)], check=True, stdout=subprocess.DEVNULL)
        floor = time.perf_counter() - start

    n = args.bundles
    print(f"{n} bundles, {total_mb:.0f} MB of CAR files")
    print(f"{'':28}{'seconds':>10}{'bundles/s':>12}")
    print(f"{'mirror check_car':28}{ours:>10.2f}{n / ours:>12.0f}")
    print(f"{'sha256sum (hash only)':28}{floor:>10.2f}{n / floor:>12.0f}")
    print(
        f"ratio ours/sha256sum: {ours / floor:.2f}x; target >= {TARGET_PER_S} bundles/s: "
        + ("met" if n / ours >= TARGET_PER_S else "NOT met")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
