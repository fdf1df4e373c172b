"""A reader's Trust for unit tests: trusted keys, and nothing remembered unless given."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from mirror.clock import system_clock
from mirror.identity import Chain
from mirror.keys import PublicKey, TrustedKey
from mirror.verify import Trust


def trust_of(
    trusted: Sequence[TrustedKey],
    remembered: Mapping[PublicKey, Chain] | None = None,
    own: Chain | None = None,
) -> Trust:
    return Trust(tuple(trusted), dict(remembered or {}), own, system_clock())
