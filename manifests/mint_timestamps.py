#!/usr/bin/env python3
"""Make the verdict corpus's timestamp material once, with real OpenSSL TSAs.

    python manifests/mint_timestamps.py     # rewrites manifests/timestamps/material.json
    python manifests/make_vectors.py        # then rebuild the corpus with it

Real tokens cannot come from a fixed clock, so the stamped cases of
manifests/verdict_cases.py read theirs from manifests/timestamps/material.json: two
TSA roots (`corpus-tsa`, listed by the stamped identity; `stranger-tsa`, trusted by
nobody) and one token per stamped signature, keyed by an order label and the sha256
of the stamped bytes. Ed25519 signatures are deterministic, so the material stays
valid until a stamped case's bytes change; then make_vectors.py says it is stale and
this script makes it again: two fresh test PKIs (`openssl req`/`x509`, the TSA
certificate with extendedKeyUsage=critical,timeStamping; private keys never kept),
tokens from `openssl ts -reply`, made in label order a second apart, so the bundle
stamped "before the rotation" really is stamped before the rotation.
"""

from __future__ import annotations

import base64
import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import verdict_cases as vc  # noqa: E402

from mirror.timestamp import build_request  # noqa: E402
from tests.helpers.tsa import make_authority  # noqa: E402

FORMAT = "mirror-corpus-timestamps/1"


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        authorities = {
            vc.CORPUS_TSA: make_authority(work / "corpus", "Corpus TSA"),
            vc.STRANGER_TSA: make_authority(work / "stranger", "Stranger TSA"),
        }
        roots = {name: a.root_pem.read_text(encoding="ascii") for name, a in authorities.items()}
        tokens: dict[str, str] = {}
        for attempt in range(4):  # a token can change bytes stamped later (a chain in a bundle)
            collected = vc.Stamps({"roots": roots, "tokens": tokens}, collect=True)
            vc.STAMPS = collected
            vc.build(work / f"pass-{attempt}")
            missing = sorted(
                {w for w in collected.wanted if vc.Stamps.key(*w) not in tokens},
                key=lambda w: w[0],
            )
            if not missing:
                break
            previous_label = None
            for label, tsa, data in missing:
                if previous_label is not None and label != previous_label:
                    time.sleep(1.1)  # the TSA's clock counts seconds
                reply = authorities[tsa].reply(build_request(data).as_bytes())
                tokens[vc.Stamps.key(label, tsa, data)] = base64.b64encode(reply).decode()
                previous_label = label
        else:
            print("timestamp material did not settle", file=sys.stderr)
            return 1
        wanted = sorted({vc.Stamps.key(*w) for w in collected.wanted})
        doc = {"format": FORMAT, "roots": roots, "tokens": {k: tokens[k] for k in wanted}}
    vc.MATERIAL.parent.mkdir(parents=True, exist_ok=True)
    vc.MATERIAL.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {vc.MATERIAL} ({len(wanted)} tokens)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
