"""Who signs: one value that carries the signing keys and the identity they sign under.

A bundle, a feed or a re-signed bundle needs the same facts: keys that meet the
threshold (the first is the one the manifest names), the identity version they sign
under and the chain bytes that travel with it. Without a publisher identity a
Signer is one key and no chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import UsageError
from .keys import SigningKey


@dataclass(frozen=True, slots=True)
class Signer:
    keys: tuple[SigningKey, ...]
    version: int | None = None  # identity version, None when there is no identity
    chain: bytes | None = None  # identity.json: the chain from version 1 to `version`

    def __post_init__(self) -> None:
        if not self.keys:
            raise UsageError("nothing to sign with: no key")
        if (self.version is None) != (self.chain is None):
            raise UsageError("an identity signer needs both its version and its chain")

    @classmethod
    def single(cls, key: SigningKey) -> Signer:
        return cls((key,))

    @property
    def key(self) -> SigningKey:
        return self.keys[0]

    def publisher(self) -> dict[str, Any]:
        """The manifest's publisher facts this signer vouches for."""
        out: dict[str, Any] = {"key_id": self.key.public.key_id}
        if self.version is not None:
            out["identity_version"] = self.version
        return out
