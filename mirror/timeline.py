"""What a stamped time proves against a publisher's identity history (pure, no I/O).

Threat model section 4: a key that was ever sufficient alone can keep signing bundles
that name an old identity version, and without a trusted time a reader cannot tell
them from bundles made before the rotation. Once a version requires timestamps, a
reader who knows it judges bundles accepted under an older rule by time:

- A version is superseded from the earliest verified timestamp on any later version
  (that later version, with its signatures, existed by then; a rotation stamps the
  new version when it signs it).
- A bundle accepted because a threshold of the keys of the version it names signed it
  (or, naming no version, because the first trusted key did) must carry a timestamp
  earlier than the moment its version was superseded, when the requirement applies
  to it: the named version is older than the first version requiring timestamps,
  or requires them itself and has been superseded. Otherwise: `signed-after-rotation`.
- Bundles accepted because a threshold of the newest version's keys signed them
  (re-signed by current keys, `mirror identity resign`) are not judged here: the
  caller skips this check for them.

Until some known version requires timestamps nothing changes: older readers and
older bundles keep their verdicts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .clock import format_time
from .envelope import Envelope
from .errors import UsageError, VerificationError
from .keys import validate_name
from .timestamp import TsaRoot, verify_envelope_stamps

SIGNED_AFTER_ROTATION = "signed-after-rotation"
FIELD = "timestamps"  # in the identity document, beside keys and threshold
MAX_TSA_ROOTS = 4


@dataclass(frozen=True, slots=True)
class TimestampPolicy:
    """An identity version's `timestamps` field, signed by its threshold:

        "timestamps": {"required": true,
                       "tsa": [{"name": "freetsa", "certificate": "<PEM root>"}]}

    `required`: bundles judged under older rules must prove their time (above).
    `tsa`: TSA root certificates the publisher uses, trusted for this publisher's
    tokens in addition to the reader's own (`mirror trust tsa`). Absent: nothing.
    """

    required: bool = False
    roots: tuple[TsaRoot, ...] = ()

    def to_field(self) -> dict[str, Any]:
        return {
            "required": self.required,
            "tsa": [
                {"name": r.name, "certificate": r.to_pem().decode("ascii")} for r in self.roots
            ],
        }

    @classmethod
    def from_extra(cls, extra: Mapping[str, Any]) -> TimestampPolicy:
        """Parse the field from an identity document's unknown fields (strict)."""
        if FIELD not in extra:
            return cls()
        value = extra[FIELD]
        what = f"identity {FIELD}"
        if not isinstance(value, dict) or set(value) != {"required", "tsa"}:
            raise UsageError(f"{what} must be an object with exactly required and tsa")
        required, entries = value["required"], value["tsa"]
        if not isinstance(required, bool):
            raise UsageError(f"{what}.required must be true or false")
        if not isinstance(entries, list) or len(entries) > MAX_TSA_ROOTS:
            raise UsageError(f"{what}.tsa must be a list of at most {MAX_TSA_ROOTS} roots")
        roots: list[TsaRoot] = []
        for entry in entries:
            if (
                not isinstance(entry, dict)
                or set(entry) != {"name", "certificate"}
                or not isinstance(entry["name"], str)
                or not isinstance(entry["certificate"], str)
            ):
                raise UsageError(f"{what}.tsa entries have exactly name and certificate")
            validate_name(entry["name"], "TSA name")
            try:
                pem = entry["certificate"].encode("ascii")
            except UnicodeEncodeError as exc:
                raise UsageError(f"{what}.tsa certificate is not PEM") from exc
            roots.append(TsaRoot.from_pem(entry["name"], pem, what=f"{what}.tsa certificate"))
        return cls(required, tuple(roots))


def chain_policies(identities: Sequence[Mapping[str, Any]]) -> list[TimestampPolicy]:
    """Each version's policy from its unknown fields (`Identity.extra`), version 1 first.

    A signed version whose field cannot be read makes the chain unusable for a
    verdict: VerificationError, reason identity-invalid."""
    policies = []
    for number, extra in enumerate(identities, start=1):
        try:
            policies.append(TimestampPolicy.from_extra(extra))
        except UsageError as exc:
            raise VerificationError(
                f"identity version {number}: {exc.message}", reason="identity-invalid"
            ) from exc
    return policies


def merged_roots(reader: Sequence[TsaRoot], policies: Sequence[TimestampPolicy]) -> list[TsaRoot]:
    """The reader's roots first (their names win), then every root a known version lists."""
    out, seen = [], set()
    for root in [*reader, *(r for p in policies for r in p.roots)]:
        if root.der not in seen:
            seen.add(root.der)
            out.append(root)
    return out


def version_times(
    versions: Sequence[tuple[int, TimestampPolicy, Envelope]], roots: Sequence[TsaRoot]
) -> list[VersionTime]:
    """Each known version with its policy and its earliest verified timestamp.

    A token on an identity version that fails is refused like any other
    (bad-timestamp, untrusted-tsa), never skipped.
    """
    out = []
    for number, policy, envelope in versions:
        stamp = verify_envelope_stamps(envelope, roots)
        out.append(VersionTime(number, policy.required, None if stamp is None else stamp.time))
    return out


@dataclass(frozen=True, slots=True)
class VersionTime:
    """One identity version as the time rule sees it."""

    version: int
    requires_timestamps: bool
    stamped: datetime | None  # earliest verified timestamp on the version's envelope


def superseded_at(versions: Sequence[VersionTime], number: int) -> datetime | None:
    """The earliest proven time a version after `number` existed (0: before version 1)."""
    times = [v.stamped for v in versions if v.version > number and v.stamped is not None]
    return min(times) if times else None


def check_bundle_time(
    versions: Sequence[VersionTime], named: int | None, stamped: datetime | None
) -> None:
    """Refuse a bundle accepted under version `named` (None: before the identity)
    whose time cannot be shown to precede that version's supersession.

    `versions` is the known chain, version 1 first; `stamped` the bundle's earliest
    verified timestamp. Raises VerificationError; returns None when the bundle passes.
    """
    required = [v.version for v in versions if v.requires_timestamps]
    if not required:
        return
    first_required = min(required)
    number = 0 if named is None else named
    what = "names no identity version" if named is None else f"names identity version {named}"
    current = max(v.version for v in versions)
    if number >= current:
        return  # the current version: its own threshold vouches for it now
    named_requires = any(v.version == number and v.requires_timestamps for v in versions)
    if number < first_required or named_requires:
        limit = superseded_at(versions, number)
        if stamped is None:
            raise VerificationError(
                f"bundle {what}, superseded before identity version {current}, which "
                "requires timestamps, and carries no timestamp; current keys must re-sign "
                "it (`mirror identity resign`)",
                reason=SIGNED_AFTER_ROTATION,
            )
        if limit is None:
            raise VerificationError(
                f"bundle {what}, but no later version has a timestamp to show the bundle "
                "came before it; current keys must re-sign it (`mirror identity resign`)",
                reason=SIGNED_AFTER_ROTATION,
            )
        if stamped > limit:
            raise VerificationError(
                f"bundle {what} but was stamped {format_time(stamped)}, after that version was "
                f"superseded ({format_time(limit)}): signed after the rotation",
                reason=SIGNED_AFTER_ROTATION,
            )
