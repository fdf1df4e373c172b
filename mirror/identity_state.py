"""What this data directory knows of publisher identities, on disk.

Two sources, both re-verified on every load: the chains a reader remembers
(state/identity/<sha256 of the anchor key>.json, the longest chain seen for the
publisher trusted through that key) and the publisher's own identity (identity/vN.json).
Loading is free of side effects; `save` is the only writer of the reader's memory and
is called by the reader layer after a verdict succeeded, never during a check.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path

from . import canonjson, store
from .config import Home
from .envelope import Envelope
from .errors import UsageError, VerificationError
from .identity import (
    MAX_CHAIN,
    MAX_DOCUMENT,
    Chain,
    parse_chain_obj,
    parse_link,
    verify_chain,
)
from .keys import PublicKey, TrustedKey

STATE_FORMAT = "mirror-identity-state/1"
_VERSION_FILE = re.compile(r"^v([1-9][0-9]{0,5})\.json$")


# -- the reader's memory -----------------------------------------------------------------


def state_path(home: Home, anchor: PublicKey) -> Path:
    return home.state_dir / "identity" / f"{hashlib.sha256(anchor.raw).hexdigest()}.json"


def remembered(home: Home, anchor: PublicKey) -> Chain | None:
    """The longest chain seen for the publisher trusted through `anchor`, re-verified."""
    path = state_path(home, anchor)
    if not path.exists():
        return None
    data = store.read_bytes(path, limit=MAX_CHAIN + 4096, what="identity state")
    doc = canonjson.loads(data.rstrip(b"\n"), max_size=MAX_CHAIN + 4096, what=str(path))
    if doc.get("format") != STATE_FORMAT or not isinstance(doc.get("chain"), dict):
        raise UsageError(f"{path} is not an identity state file")
    return verify_chain(parse_chain_obj(doc["chain"], str(path)), [anchor])


def remembered_version(home: Home, anchor: PublicKey) -> int:
    known = remembered(home, anchor)
    return known.current.version if known else 0


def state_bytes(anchor: PublicKey, chain: Chain) -> bytes:
    body = canonjson.loads(chain.to_bytes().rstrip(b"\n"), max_size=MAX_CHAIN)
    doc = {"format": STATE_FORMAT, "anchor": anchor.to_text(), "chain": body}
    return canonjson.dumps(doc) + b"\n"


def save(home: Home, anchor: PublicKey, chain: Chain) -> None:
    """Remember `chain` for `anchor` when it is longer than what is remembered.

    The caller has already merged it with the remembered chain (a fork was refused
    then), so this only ever moves forward.
    """
    known = remembered(home, anchor)
    if known is not None and len(chain.links) <= len(known.links):
        return
    store.atomic_write(state_path(home, anchor), state_bytes(anchor, chain), label="identity-state")


def remembered_chains(home: Home, trusted: Sequence[TrustedKey]) -> dict[PublicKey, Chain]:
    """The remembered chain of every trusted key that has one."""
    out: dict[PublicKey, Chain] = {}
    for t in trusted:
        known = remembered(home, t.key)
        if known is not None:
            out[t.key] = known
    return out


# -- the publisher's own identity --------------------------------------------------------


def identity_dir(home: Home) -> Path:
    return home.root / "identity"


def load_envelope(path: Path, what: str) -> Envelope:
    data = store.read_bytes(path, limit=MAX_DOCUMENT * 2, what=what)
    return Envelope.from_bytes(data, max_size=MAX_DOCUMENT * 2, what=what)


def home_chain(home: Home) -> Chain | None:
    """This data directory's identity (every version kept as identity/vN.json)."""
    directory = identity_dir(home)
    if not directory.is_dir():
        return None
    numbers = sorted(
        int(m.group(1)) for p in directory.iterdir() if (m := _VERSION_FILE.match(p.name))
    )
    if not numbers:
        return None
    if numbers != list(range(1, len(numbers) + 1)):
        raise VerificationError(
            f"{directory} is missing identity versions (has {numbers})", reason="identity-invalid"
        )
    envs = [load_envelope(directory / f"v{n}.json", f"identity v{n}") for n in numbers]
    return verify_chain(envs, parse_link(envs[0]).keys)
