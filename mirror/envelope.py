"""Signed envelopes (DSSE): {payloadType, payload, signatures: [{keyid, sig}]}.

Each signature is Ed25519 over PAE(payloadType, payload) =
    "DSSEv1" SP len(type) SP type SP len(payload) SP payload
(https://github.com/secure-systems-lab/dsse/blob/master/protocol.md), so a signature
made for one payload type can never be replayed as another (a feed passed off as a
manifest fails). Verification returns the exact payload bytes that were verified;
callers parse those bytes and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from . import canonjson
from .errors import UsageError, VerificationError
from .keys import SigningKey, TrustedKey, b64decode_strict, b64encode

MANIFEST_TYPE = "application/vnd.mirror.manifest+json"
FEED_TYPE = "application/vnd.mirror.feed+json"
HEAD_TYPE = "application/vnd.mirror.feed-head+json"
IDENTITY_TYPE = "application/vnd.mirror.identity+json"

MAX_ENVELOPE = 16 << 20
MAX_SIGNATURES = 16
_SIG_FIELDS = {"keyid", "sig", "tst"}


def _by_keyid(signature: Signature) -> str:
    return signature.keyid


def pae(payload_type: str, payload: bytes) -> bytes:
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


@dataclass(frozen=True, slots=True)
class Signature:
    keyid: str
    sig: bytes
    tst: bytes | None = None  # reserved: DER RFC 3161 token over `sig` (unsigned field)

    def to_dict(self) -> dict[str, str]:
        out = {"keyid": self.keyid, "sig": b64encode(self.sig)}
        if self.tst is not None:
            out["tst"] = b64encode(self.tst)
        return out


@dataclass(frozen=True, slots=True)
class Envelope:
    payload_type: str
    payload: bytes
    signatures: tuple[Signature, ...]

    def to_bytes(self) -> bytes:
        doc = {
            "payload": b64encode(self.payload),
            "payloadType": self.payload_type,
            "signatures": [s.to_dict() for s in self.signatures],
        }
        return canonjson.dumps(doc) + b"\n"

    def canonical(self) -> Envelope:
        """The form mirror writes: signatures ordered by key id."""
        return Envelope(
            self.payload_type, self.payload, tuple(sorted(self.signatures, key=_by_keyid))
        )

    def is_canonical(self, data: bytes) -> bool:
        """True when `data` is exactly the bytes mirror writes for this envelope."""
        return data == self.canonical().to_bytes()

    @classmethod
    def from_bytes(
        cls, data: bytes, *, max_size: int = MAX_ENVELOPE, what: str = "envelope"
    ) -> Envelope:
        doc = canonjson.loads(data.rstrip(b"\n"), max_size=max_size, what=what)
        if set(doc) != {"payload", "payloadType", "signatures"}:
            raise UsageError(f"{what} must have exactly payload, payloadType and signatures")
        payload_type, payload, sigs = doc["payloadType"], doc["payload"], doc["signatures"]
        if not isinstance(payload_type, str) or not isinstance(payload, str):
            raise UsageError(f"{what}: payloadType and payload must be strings")
        if not isinstance(sigs, list) or not 1 <= len(sigs) <= MAX_SIGNATURES:
            raise UsageError(f"{what} must carry 1 to {MAX_SIGNATURES} signatures")
        signatures = []
        for entry in sigs:
            if not isinstance(entry, dict) or not {"keyid", "sig"} <= set(entry) <= _SIG_FIELDS:
                raise UsageError(f"{what}: each signature has keyid, sig and optionally tst")
            if not all(isinstance(v, str) for v in entry.values()):
                raise UsageError(f"{what}: keyid, sig and tst must be strings")
            sig = b64decode_strict(entry["sig"], "signature")
            tst = b64decode_strict(entry["tst"], "timestamp token") if "tst" in entry else None
            signatures.append(Signature(entry["keyid"], sig, tst))
        return cls(payload_type, b64decode_strict(payload, "payload"), tuple(signatures))


def sign(payload_type: str, payload: bytes, keys: Sequence[SigningKey]) -> Envelope:
    message = pae(payload_type, payload)
    signatures = (Signature(k.public.key_id, k.sign(message)) for k in keys)
    return Envelope(payload_type, payload, tuple(signatures)).canonical()


def add_signature(envelope: Envelope, key: SigningKey) -> Envelope:
    """Co-sign: append KEY's signature (replacing an older one by the same key)."""
    message = pae(envelope.payload_type, envelope.payload)
    kept = tuple(s for s in envelope.signatures if s.keyid != key.public.key_id)
    return Envelope(
        envelope.payload_type,
        envelope.payload,
        (*kept, Signature(key.public.key_id, key.sign(message))),
    ).canonical()


@dataclass(frozen=True, slots=True)
class Verified:
    payload: bytes
    signers: tuple[TrustedKey, ...]  # distinct trusted keys with a valid signature
    unmatched: int = 0  # signatures no candidate key made (or a second one by a key)


def verify(
    envelope: Envelope,
    payload_type: str,
    trusted: Sequence[TrustedKey],
    *,
    threshold: int = 1,
    what: str = "signature",
) -> Verified:
    """Count valid signatures by distinct trusted keys; key ids are only hints.

    Every signature is tried against every trusted key, so a key id pointing at a
    trusted key cannot lend its name to a signature made by another key; and a
    signature only counts when its key id names the key that made it, so no byte of
    an envelope can change without failing verification.
    """
    if envelope.payload_type != payload_type:
        raise VerificationError(
            f"{what}: payload type is {envelope.payload_type!r}, expected {payload_type!r}",
            reason="wrong-type",
        )
    message = pae(envelope.payload_type, envelope.payload)
    signers: dict[bytes, TrustedKey] = {}
    unmatched = 0
    for signature in envelope.signatures:
        for candidate in trusted:
            if (
                candidate.key.raw not in signers
                and signature.keyid == candidate.key.key_id
                and candidate.key.verify(signature.sig, message)
            ):
                signers[candidate.key.raw] = candidate
                break
        else:
            unmatched += 1
    if len(signers) < threshold:
        reason = "threshold-not-met" if signers else "untrusted-key"
        if threshold == 1:
            raise VerificationError(f"{what}: not signed by a trusted key", reason=reason)
        raise VerificationError(
            f"{what}: {len(signers)} valid signature(s) by trusted keys, {threshold} required",
            reason=reason,
        )
    return Verified(envelope.payload, tuple(signers.values()), unmatched)
