"""The reader's trusted timestamp authorities: TSA root certificates by name.

`trust-tsa.json` in the data directory (written atomically):

    {"format": "mirror-tsa-trust/1",
     "roots": {"NAME": {"certificate": "<PEM>", "fingerprint": "sha256:<hex of DER>",
                        "subject": "CN=...", "added": "YYYY-MM-DDTHH:MM:SSZ"}}}

Each certificate is re-parsed and re-checked (one self-signed CA certificate) every
time the file is read, and its fingerprint must match; a file that fails is refused
in one line rather than half-trusted. A token verifies when its TSA certificate
chains to one of these roots (mirror/timestamp.py); the reader's name for the root
is the `tsa` a verdict reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from . import canonjson, store
from .clock import now_text
from .config import Home
from .errors import UsageError
from .identity_state import home_chain
from .keys import validate_name
from .timeline import chain_policies, merged_roots
from .timestamp import MAX_CERTIFICATE, TsaRoot

FORMAT = "mirror-tsa-trust/1"
MAX_FILE = 4 << 20


@dataclass(frozen=True, slots=True)
class TrustedTsa:
    root: TsaRoot
    added: str

    @property
    def name(self) -> str:
        return self.root.name

    def to_dict(self) -> dict[str, str]:
        return {
            "name": self.name,
            "fingerprint": self.root.fingerprint,
            "subject": self.root.certificate.subject.rfc4514_string(),
            "added": self.added,
        }


def load(home: Home) -> dict[str, TrustedTsa]:
    """Every trusted TSA root of this data directory, by name (none: empty)."""
    path = home.tsa_trust_file
    if not path.exists():
        return {}
    doc = canonjson.loads(
        store.read_bytes(path, limit=MAX_FILE, what="TSA trust store"),
        max_size=MAX_FILE,
        what=path.name,
    )
    corrupt = f"TSA trust store {path} is corrupt; fix or remove it"
    roots = doc.get("roots")
    if doc.get("format") != FORMAT or not isinstance(roots, dict):
        raise UsageError(corrupt)
    trusted: dict[str, TrustedTsa] = {}
    for name, entry in roots.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("certificate"), str):
            raise UsageError(corrupt)
        try:
            root = TsaRoot.from_pem(name, entry["certificate"].encode("ascii"))
        except (UsageError, UnicodeEncodeError) as exc:
            raise UsageError(f"{corrupt} (entry {name!r})") from exc
        if entry.get("fingerprint") != root.fingerprint:
            raise UsageError(f"{corrupt} (entry {name!r}: fingerprint differs)")
        trusted[name] = TrustedTsa(root, str(entry.get("added", "")))
    return trusted


def roots(home: Home) -> list[TsaRoot]:
    """The roots a timestamp verification accepts, from the reader's own trust."""
    return [t.root for t in load(home).values()]


def signing_roots(home: Home) -> tuple[TsaRoot, ...]:
    """The roots this data directory's own verdicts accept for its own tokens: its
    trusted TSA roots and those its identity lists (what a publisher may stamp with)."""
    chain = home_chain(home)
    policies = chain_policies([link.identity.extra for link in chain.links]) if chain else []
    return tuple(merged_roots(roots(home), policies))


def _save(home: Home, trusted: dict[str, TrustedTsa]) -> None:
    doc = {
        "format": FORMAT,
        "roots": {
            t.name: {
                "certificate": t.root.to_pem().decode("ascii"),
                "fingerprint": t.root.fingerprint,
                "subject": t.root.certificate.subject.rfc4514_string(),
                "added": t.added,
            }
            for t in sorted(trusted.values(), key=lambda t: t.name)
        },
    }
    store.atomic_write(home.tsa_trust_file, canonjson.dumps(doc) + b"\n", label="trust-tsa")


def add(home: Home, name: str, certificate: Path) -> TrustedTsa:
    """Trust the TSA root certificate in file `certificate` (PEM) under `name`."""
    validate_name(name, "TSA name")
    data = store.read_bytes(certificate, limit=MAX_CERTIFICATE, what="TSA certificate")
    root = TsaRoot.from_pem(name, data, what=f"TSA certificate {certificate}")
    trusted = load(home)
    existing = trusted.get(name)
    if existing is not None:
        if existing.root.der != root.der:
            raise UsageError(
                f"TSA {name!r} is already trusted with another certificate; remove it first"
            )
        return existing
    entry = TrustedTsa(root, now_text())
    trusted[name] = entry
    _save(home, trusted)
    return entry


def remove(home: Home, name: str) -> None:
    trusted = load(home)
    if name not in trusted:
        raise UsageError(f"no trusted TSA named {name!r} (see `mirror trust tsa list`)")
    del trusted[name]
    _save(home, trusted)
