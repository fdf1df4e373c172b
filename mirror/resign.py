"""`identity resign`: re-issue bundle folders under the publisher's current identity.

Above bundle writing and the trust core: a bundle is first checked intact and signed
by a key the identity ever had, then written again (new identity.json, manifest signed
by current keys; content, article and capture facts unchanged).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .bundle import write_bundle
from .clock import format_time, utc_now
from .config import Home
from .identity import CHAIN_NAME
from .keys import TrustedKey
from .publisher import load_signer, require_chain
from .verify import check_own_folder


@dataclass(frozen=True, slots=True)
class ResignResult:
    path: Path
    root_cid: str
    old_version: int | None
    version: int


def resign(home: Home, folders: Sequence[Path], passphrase: str) -> list[ResignResult]:
    """Re-sign each folder under the current identity version.

    Each folder must be intact and signed by some key that ever belonged to this
    identity (revoked ones included). Only resign bundles you know you published: a
    stolen key may have signed others.
    """
    chain = require_chain(home)
    signer = load_signer(home, passphrase)
    pool = [TrustedKey(chain.name, k, "") for k in chain.all_keys()]
    results = []
    for folder in folders:
        folder = Path(folder)
        manifest = check_own_folder(folder, pool).manifest
        content: dict[str, bytes | Path] = {
            f.path: folder / f.path for f in manifest.files if f.path != CHAIN_NAME
        }
        old = manifest.publisher.identity_version
        result = write_bundle(
            folder,
            content,
            article=manifest.article.to_dict(),
            capture=manifest.capture.to_dict(),
            signer=signer,
            created_at=manifest.created_at,
            publisher={"resigned_at": format_time(utc_now())},
        )
        version = signer.version or 0
        results.append(ResignResult(folder, result.root.encode(), old, version))
    return results
