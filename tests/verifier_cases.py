"""Bundles for the verifier page tests, made with the project's own Python API.

Every call into mirror's Python (bundle writing, CAR writing, export, identity
documents, the CLI's verdict) is in this one module, so a change of those APIs is
one edit here. Each case is (input file, options for window.mirror.verify, expected
exit code and reason); the tests check the CLI's trust core gives the same.
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mirror import bundle, canonjson, envelope, export, export_format, identity, verify
from mirror.clock import parse_time
from mirror.config import Home
from mirror.errors import MirrorError
from mirror.ipld import car
from mirror.keys import PublicKey, SigningKey, TrustedKey
from mirror.reader import check_path
from mirror.signer import Signer
from mirror.timestamp import TsaRoot

EXPIRES = "2030-01-01T00:00:00Z"
CLOCK = "2026-01-02T03:04:05Z"


def key(n: int) -> SigningKey:
    """Key number n, the same on every run (seed: 32 bytes of n; tests only)."""
    return SigningKey(f"k{n}", Ed25519PrivateKey.from_private_bytes(bytes([n]) * 32))


def png(seed: int, w: int = 24, h: int = 16) -> bytes:
    """A real RGB PNG (IHDR, IDAT, IEND)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    rows = b"".join(
        b"\0" + bytes(v for x in range(w) for v in ((x * 9 + seed) % 256, (y * 15) % 256, 120))
        for y in range(h)
    )
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


PAGE = """<!doctype html>
<html lang="ru"><head><meta http-equiv="Content-Security-Policy" \
content="default-src 'none'; img-src 'self'; style-src 'unsafe-inline'">
<title>Репортаж</title></head>
<body><article><h1>Репортаж из Москвы</h1>
<p>Проверяемый текст статьи. A verifiable article text.</p>
<p><img src="assets/photo.png" alt="photo"></p>
<p><a href="https://example.org/original">Оригинал</a></p>
</article></body></html>
"""


def write(
    out: Path,
    signer: SigningKey,
    *,
    signer_identity: Signer | None = None,
    car_out: Path | None = None,
    extra: dict[str, bytes] | None = None,
    page: str = PAGE,
) -> Path:
    content: dict[str, bytes | Path] = {
        "index.html": page.encode(),
        "article.md": "# Репортаж из Москвы\n\nПроверяемый текст.\n".encode(),
        "assets/photo.png": png(3),
        **(extra or {}),
    }
    bundle.write_bundle(
        out,
        content,
        article={"title": "Репортаж из Москвы", "language": "ru", "byline": "Редакция",
                 "canonical_url": "https://example.org/report"},
        capture={"fetched_at": CLOCK, "final_url": "https://example.org/report"},
        signer=signer_identity or Signer.single(signer),
        created_at=CLOCK,
        car_out=car_out,
    )  # fmt: skip
    return out


def chain_rotated(a: SigningKey, b: SigningKey) -> list[envelope.Envelope]:
    """v1: a; v2: a and b; v3: b only, a revoked (each signed as verify_link requires)."""
    docs = [
        identity.Identity("pub", 1, EXPIRES, 1, (a.public,)),
    ]
    envs = [envelope.sign(envelope.IDENTITY_TYPE, docs[0].to_bytes(), [a])]
    v2 = identity.Identity("pub", 2, EXPIRES, 1, (a.public, b.public), (),
                           identity.sha256_tag(envs[0].payload))  # fmt: skip
    envs.append(envelope.sign(envelope.IDENTITY_TYPE, v2.to_bytes(), [a, b]))
    v3 = identity.Identity("pub", 3, EXPIRES, 1, (b.public,), (a.public,),
                           identity.sha256_tag(envs[1].payload))  # fmt: skip
    envs.append(envelope.sign(envelope.IDENTITY_TYPE, v3.to_bytes(), [b]))
    return envs


def signer_for(keys: list[SigningKey], version: int, envs: list[envelope.Envelope]) -> Signer:
    return Signer(tuple(keys), version, identity.chain_bytes(envs))


def trust_entry(name: str, k: SigningKey) -> dict[str, str]:
    return {"name": name, "key": k.public.to_text()}


def _trust(
    trusted: list[dict[str, str]],
    state: list[dict[str, Any]] | None,
    tsa: list[dict[str, str]] | None = None,
) -> verify.Trust:
    keys = [TrustedKey(t["name"], PublicKey.from_text(t["key"]), "") for t in trusted]
    roots = tuple(TsaRoot.from_pem(r["name"], r["pem"].encode("ascii")) for r in tsa or [])
    remembered = {}
    for s in state or []:
        anchor = PublicKey.from_text(s["anchor"])
        remembered[anchor] = identity.verify_chain(identity.parse_chain_obj(s["chain"]), [anchor])
    return verify.Trust(tuple(keys), remembered, None, parse_time(CLOCK), roots)


def python_verdict(
    target: Path, trusted: list[dict[str, str]], state: list[dict[str, Any]] | None = None
) -> tuple[int, str | None]:
    """(exit code, reason) of the CLI's verdict for the same input, keys and state."""
    try:
        check_path(target, _trust(trusted, state))
    except MirrorError as exc:
        return exc.exit_code, exc.reason
    return 0, None


def python_verdict_json(target: Path, trusted: list[dict[str, str]]) -> dict[str, Any]:
    """What `mirror verify --json` prints for a verified bundle."""
    return check_path(target, _trust(trusted, None)).to_dict()


def export_of(folder: Path, out: Path, trusted: SigningKey, home: Path) -> Path:
    export.export_bundle(Home(home), folder, out, [TrustedKey("pub", trusted.public, "")])
    return out


@dataclass
class Case:
    name: str
    path: Path
    trust: list[dict[str, str]]
    exit_code: int
    reason: str | None
    state: list[dict[str, Any]] = field(default_factory=list)

    def options(self) -> dict[str, Any]:
        return {"trust": self.trust, "state": self.state, "now": CLOCK}


def _edit_export(src: Path, dst: Path, edit: Any) -> Path:
    dst.write_bytes(edit(src.read_bytes()))
    return dst


def _car_of_folder(folder: Path, out: Path) -> Path:
    car.write_car(folder, out)
    return out


def build_cases(tmp: Path) -> list[Case]:
    a, b, other = key(1), key(2), key(9)
    pub = [trust_entry("pub", a)]
    cases: list[Case] = []

    folder = write(tmp / "plain", a, car_out=tmp / "plain.car")
    cases.append(Case("car-genuine", tmp / "plain.car", pub, 0, None))
    ex = export_of(folder, tmp / "plain.html", a, tmp / "home")
    cases.append(Case("export-genuine", ex, pub, 0, None))
    cases.append(
        Case("car-other-key", tmp / "plain.car", [trust_entry("x", other)], 3, "untrusted-key")
    )
    cases.append(Case("export-other-key", ex, [trust_entry("x", other)], 3, "untrusted-key"))

    text_edit = lambda d: d.replace("Проверяемый".encode(), "Поддельный!".encode())  # noqa: E731
    cases.append(
        Case(
            "export-text-edited",
            _edit_export(ex, tmp / "edited.html", text_edit),
            pub,
            3,
            "content-mismatch",
        )
    )
    crlf = lambda d: d.replace(b"\n", b"\r\n")  # noqa: E731
    cases.append(
        Case("export-crlf", _edit_export(ex, tmp / "crlf.html", crlf), pub, 3, "non-canonical")
    )

    def drop_image(d: bytes) -> bytes:
        text = d.decode()
        start = text.index(export_format.BLOCK_OPEN) + len(export_format.BLOCK_OPEN)
        end = text.index(export_format.BLOCK_CLOSE, start)
        block = json.loads(text[start:end])
        block["inlined"] = []
        head = text[:start] + export_format._block_json(block) + text[end:]
        import re

        return re.sub(r'src="data:image/png;base64,[^"]*"', 'src="assets/photo.png"', head).encode()

    noimg = _edit_export(ex, tmp / "noimg.html", drop_image)
    cases.append(Case("export-image-not-carried", noimg, pub, 3, "missing-file"))

    raw = (tmp / "plain.car").read_bytes()
    bad = bytearray(raw)
    bad[len(bad) // 2] ^= 0xFF
    (tmp / "corrupt.car").write_bytes(bytes(bad))
    cases.append(Case("car-corrupt-block", tmp / "corrupt.car", pub, 3, "content-mismatch"))

    unlisted = write(tmp / "unlisted", a)
    (unlisted / "extra.txt").write_bytes(b"added in transit\n")
    cases.append(
        Case(
            "car-unlisted-file",
            _car_of_folder(unlisted, tmp / "unlisted.car"),
            pub,
            3,
            "unlisted-file",
        )
    )

    missing = write(tmp / "missing", a)
    (missing / "article.md").unlink()
    cases.append(
        Case(
            "car-missing-file", _car_of_folder(missing, tmp / "missing.car"), pub, 3, "missing-file"
        )
    )

    reindented = write(tmp / "reindented", a)
    doc = json.loads((reindented / "manifest.json").read_bytes())
    (reindented / "manifest.json").write_text(json.dumps(doc, indent=2) + "\n")
    recar = _car_of_folder(reindented, tmp / "reindented.car")
    cases.append(Case("car-reindented-manifest", recar, pub, 3, "non-canonical"))

    dup = write(tmp / "dup", a)
    body = (dup / "manifest.json").read_bytes()
    (dup / "manifest.json").write_bytes(
        body.replace(b'{"payload":', b'{"payload":"x","payload":', 1)
    )
    cases.append(
        Case("car-duplicate-key", _car_of_folder(dup, tmp / "dup.car"), pub, 2, "malformed")
    )

    feedish = write(tmp / "wrongtype", a)
    env = envelope.sign(envelope.FEED_TYPE, b'{"format":"x"}', [a])
    (feedish / "manifest.json").write_bytes(env.to_bytes())
    cases.append(
        Case(
            "car-feed-as-manifest",
            _car_of_folder(feedish, tmp / "wrongtype.car"),
            pub,
            3,
            "wrong-type",
        )
    )

    (tmp / "truncated.car").write_bytes(raw[: len(raw) - 40])
    cases.append(Case("car-truncated", tmp / "truncated.car", pub, 2, "usage"))
    (tmp / "plain-page.html").write_bytes(PAGE.encode())
    cases.append(Case("export-not-an-export", tmp / "plain-page.html", pub, 3, "content-mismatch"))

    def broken_block(d: bytes) -> bytes:
        return d.replace(b'{"envelope":', b'{"envelope":,', 1)

    broken = _edit_export(ex, tmp / "broken.html", broken_block)
    cases.append(Case("export-broken-data-block", broken, pub, 2, "malformed"))

    def resigned(folder: Path, sigs: list[dict[str, str]]) -> None:
        doc = json.loads((folder / "manifest.json").read_bytes())
        doc["signatures"] = sigs
        (folder / "manifest.json").write_bytes(canonjson.dumps(doc) + b"\n")

    extra = write(tmp / "extra-sig", a)
    doc = json.loads((extra / "manifest.json").read_bytes())
    fake = {"keyid": "ffffffffffffffff", "sig": base64.b64encode(bytes(64)).decode()}
    resigned(extra, [*doc["signatures"], fake])
    extracar = _car_of_folder(extra, tmp / "extra-sig.car")
    cases.append(Case("car-extra-signature", extracar, pub, 3, "non-canonical"))

    tst = write(tmp / "tst", a)
    doc = json.loads((tst / "manifest.json").read_bytes())
    resigned(tst, [{**doc["signatures"][0], "tst": "AAAA"}])
    cases.append(
        Case("car-tst-field", _car_of_folder(tst, tmp / "tst.car"), pub, 3, "bad-timestamp")
    )

    envs = chain_rotated(a, b)
    write(tmp / "rotated", b, signer_identity=signer_for([b], 3, envs), car_out=tmp / "rotated.car")
    cases.append(Case("car-after-rotation", tmp / "rotated.car", pub, 0, None))
    rotated_export = export_of(tmp / "rotated", tmp / "rotated.html", a, tmp / "home-rotated")
    cases.append(Case("export-after-rotation", rotated_export, pub, 0, None))

    def drop_identity(d: bytes) -> bytes:
        text = d.decode()
        start = text.index(export_format.BLOCK_OPEN) + len(export_format.BLOCK_OPEN)
        end = text.index(export_format.BLOCK_CLOSE, start)
        block = json.loads(text[start:end])
        block["identity"] = None
        return (text[:start] + export_format._block_json(block) + text[end:]).encode()

    no_chain = _edit_export(rotated_export, tmp / "no-chain.html", drop_identity)
    # without the chain the signer is unknown; a reader who remembers it sees what is missing
    cases.append(Case("export-identity-left-out", no_chain, pub, 3, "untrusted-key"))
    remembered = [{"anchor": a.public.to_text(), "chain": canonjson.loads(
        identity.chain_bytes(envs).rstrip(b"\n"), max_size=1 << 20)}]  # fmt: skip
    cases.append(Case("export-identity-left-out-remembered", no_chain, pub, 3, "missing-file",
                      state=remembered))  # fmt: skip
    write(tmp / "revoked", a, signer_identity=signer_for([a], 1, envs), car_out=tmp / "revoked.car")
    cases.append(Case("car-revoked-key", tmp / "revoked.car", pub, 3, "revoked-key"))
    # the reader remembers v3 (revoking a); the bundle carries only v1: still refused
    write(tmp / "short", a, signer_identity=signer_for([a], 1, envs[:1]), car_out=tmp / "short.car")
    state = [
        {
            "anchor": a.public.to_text(),
            "chain": canonjson.loads(identity.chain_bytes(envs).rstrip(b"\n"), max_size=1 << 20),
        }
    ]
    name = "car-revoked-by-remembered-state"
    cases.append(Case(name, tmp / "short.car", pub, 3, "revoked-key", state=state))
    cases.append(Case("car-v1-without-state", tmp / "short.car", pub, 0, None))

    # a 2-of-3 identity: two of its keys sign; one alone is not enough
    c3 = key(3)
    v1 = identity.Identity("pub", 1, EXPIRES, 2, (a.public, b.public, c3.public))
    two = [envelope.sign(envelope.IDENTITY_TYPE, v1.to_bytes(), [a, b])]
    write(tmp / "two", a, signer_identity=signer_for([a, b], 1, two), car_out=tmp / "two.car")
    cases.append(Case("car-2-of-3", tmp / "two.car", pub, 0, None))
    write(tmp / "one", a, signer_identity=signer_for([a], 1, two), car_out=tmp / "one.car")
    cases.append(Case("car-1-of-2-required", tmp / "one.car", pub, 3, "threshold-not-met"))
    return cases


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")
