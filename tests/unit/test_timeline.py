"""The time rule of timestamped identities (mirror/timeline.py), on fixed times.

The scenario of issue 12 and threat model section 4: v1 {A}; v2 {A, B, C} 2-of-3
requiring timestamps; A alone signing a new bundle naming v1 with a fresh stamp is
refused, A's bundle stamped before the rotation still verifies.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mirror.errors import VerificationError
from mirror.timeline import VersionTime, chain_policies, check_bundle_time, superseded_at

T1 = datetime(2026, 1, 1, tzinfo=UTC)  # v1 stamped
T2 = datetime(2026, 6, 1, tzinfo=UTC)  # v2 (requires timestamps) stamped
HOUR = timedelta(hours=1)

V1 = VersionTime(1, False, T1)
V2 = VersionTime(2, True, T2)


def refused(reason: str):  # type: ignore[no-untyped-def]
    return pytest.raises(VerificationError, check=lambda e: e.reason == reason)


def test_superseded_at_is_the_earliest_later_stamp():
    v3 = VersionTime(3, True, T2 - HOUR)  # an earlier stamp on a later version still bounds
    assert superseded_at([V1, V2, v3], 1) == T2 - HOUR
    assert superseded_at([V1, V2], 0) == T1
    assert superseded_at([V1, V2], 2) is None
    assert superseded_at([V1, VersionTime(2, True, None)], 1) is None


def test_fresh_stamp_naming_v1_after_rotation_is_refused():
    with refused("signed-after-rotation") as info:
        check_bundle_time([V1, V2], 1, T2 + HOUR)
    assert (
        "2026-06-01T01:00:00Z" in info.value.message
        and "2026-06-01T00:00:00Z" in info.value.message
    )


def test_bundle_stamped_before_rotation_still_passes():
    check_bundle_time([V1, V2], 1, T2 - HOUR)


def test_unstamped_bundle_naming_v1_or_no_version_is_refused():
    for named in (1, None):
        with refused("signed-after-rotation") as info:
            check_bundle_time([V1, V2], named, None)
        assert "identity resign" in info.value.message


def test_no_version_means_before_version_1():
    check_bundle_time([V1, V2], None, T1 - HOUR)
    with refused("signed-after-rotation"):
        check_bundle_time([V1, V2], None, T1 + HOUR)


def test_current_version_is_not_judged_by_time():
    check_bundle_time([V1, V2], 2, T2 + HOUR)
    check_bundle_time([V1, V2], 2, None)


def test_unstamped_rotation_cannot_bound_older_bundles():
    with refused("signed-after-rotation") as info:
        check_bundle_time([V1, VersionTime(2, True, None)], 1, T1 + HOUR)
    assert "no later version has a timestamp" in info.value.message


def test_superseded_version_that_required_timestamps_is_judged_too():
    v3 = VersionTime(3, True, T2 + 10 * HOUR)
    check_bundle_time([V1, V2, v3], 2, T2 + HOUR)
    with refused("signed-after-rotation"):
        check_bundle_time([V1, V2, v3], 2, T2 + 11 * HOUR)


def test_without_any_requirement_nothing_changes():
    plain = [V1, VersionTime(2, False, T2)]
    for named in (None, 1, 2):
        check_bundle_time(plain, named, None)
        check_bundle_time(plain, named, T2 + 100 * HOUR)


def test_unreadable_policy_in_a_signed_version_makes_the_chain_invalid():
    assert [p.required for p in chain_policies([{}, {}])] == [False, False]
    with refused("identity-invalid") as info:
        chain_policies([{}, {"timestamps": {"required": "yes", "tsa": []}}])
    assert "identity version 2" in info.value.message
