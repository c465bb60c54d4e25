"""Who owns a video (CONTRACT §9), as pure functions, against a reference written out here."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.viewcount.test_rules import SMALL, T0, streams, value
from viewcount.ownership import Assignment, Catalog, OwnershipMode, owner_at, owner_mismatches, payable_views
from viewcount.rules import Outcome, SourceRecord, apply_rules, tally
from viewcount.timeutil import HOUR_MS, hour_floor

H0 = hour_floor(T0)
FIRST, CATALOG = OwnershipMode.FIRST_CLAIM, OwnershipMode.CATALOG


def test_the_latest_assignment_at_or_before_the_hour_wins_and_ties_go_to_the_later_record():
    catalog = Catalog([Assignment("v1", H0, 1, "ca"), Assignment("v1", H0 + 2 * HOUR_MS, 2, "cb"),
                       Assignment("v1", H0 + 2 * HOUR_MS, 3, "cc")])
    assert [catalog.owner_at("v1", H0 + i * HOUR_MS) for i in range(-1, 4)] == [None, "ca", "ca", "cc", "cc"]
    assert catalog.owner_at("v2", H0) is None and "v1" in catalog and "v2" not in catalog
    assert catalog.candidates_of("cb") == {"v1"}


def test_hours_before_the_first_assignment_fall_back_to_the_first_claim_or_to_no_one():
    catalog = Catalog([Assignment("v1", H0, 1, "ca")])
    assert owner_at(catalog, "first", FIRST, "v1", H0 - HOUR_MS) == "first"
    assert owner_at(catalog, "first", CATALOG, "v1", H0 - HOUR_MS) is None
    assert owner_at(catalog, "first", CATALOG, "v1", H0) == "ca"
    assert owner_at(catalog, None, FIRST, "v9", H0) is None


def test_an_assignment_off_the_hour_is_refused():
    with pytest.raises(ValueError, match="UTC hour"):
        Catalog([Assignment("v1", H0 + 1, 1, "ca")])


def test_the_first_counted_view_claims_a_video_and_later_views_never_move_it():
    counts = tally(apply_rules([
        SourceRecord(0, 0, T0, value("a", video="v1", viewer="ua", creator="owner", watch=1000)),   # not counted
        SourceRecord(0, 1, T0, value("b", video="v1", viewer="ub", creator="first")),
        SourceRecord(0, 2, T0, value("c", video="v1", viewer="uc", creator="forger")),
        SourceRecord(0, 3, T0, value("d", video="v1", viewer="ud", creator="forger")),
    ], SMALL))
    assert counts.owners == {"v1": "first"}
    assert counts.creators == {"first": 3} and counts.owner_mismatch == {"v1": 2}


def test_a_transfer_splits_the_views_at_its_hour():
    hourly = [("v1", H0 - HOUR_MS, 4), ("v1", H0, 5), ("v1", H0 + HOUR_MS, 6), ("v2", H0, 7)]
    catalog = Catalog([Assignment("v1", H0, 1, "cb")])
    assert payable_views(hourly, {"v1": "ca", "v2": "cc"}, catalog, FIRST).by_creator == {"ca": 4, "cb": 11, "cc": 7}
    strict = payable_views(hourly, {"v1": "ca", "v2": "cc"}, catalog, CATALOG)
    assert (strict.by_creator, strict.unassigned, strict.unassigned_videos) == ({"cb": 11}, 11, {"v1": 4, "v2": 7})


# --- the property: owners and payouts equal a reference that reads §9 literally ----------------
creators = st.sampled_from(["ca", "cb", "cc"])


@st.composite
def catalogs(draw):
    entries = draw(st.lists(st.tuples(st.sampled_from(["v1", "v2", "v3"]), st.integers(-4, 8), creators),
                            max_size=6))
    return [Assignment(video, H0 + hours * HOUR_MS, seq, creator)
            for seq, (video, hours, creator) in enumerate(entries, start=1)]


def reference_owner(video: str, hour_ms: int, assignments: list[Assignment], counted: list, mode) -> str | None:
    """§9 by brute force: the newest entry in effect at the hour, else the counted view of lowest offset."""
    entries = [a for a in assignments if a.video_id == video and a.effective_from_ms <= hour_ms]
    if entries:
        return max(entries, key=lambda a: (a.effective_from_ms, a.seq)).creator_id
    if mode is CATALOG:
        return None
    firsts = sorted((d.partition, d.offset, d.event.creator_id) for d in counted if d.event.video_id == video)
    return firsts[0][2] if firsts else None


def reference_payouts(counted: list, assignments: list[Assignment], mode) -> tuple[Counter, int]:
    paid, unassigned = Counter(), 0
    for d in counted:
        owner = reference_owner(d.event.video_id, hour_floor(d.event.event_time_ms), assignments, counted, mode)
        if owner is None:
            unassigned += 1
        else:
            paid[owner] += 1
    return paid, unassigned


@settings(max_examples=300, deadline=None)
@given(records=streams(creators=creators), assignments=catalogs(), mode=st.sampled_from(list(OwnershipMode)))
def test_payouts_follow_the_owner_at_each_views_hour(records, assignments, mode):
    decisions = list(apply_rules(records, SMALL))
    counted = [d for d in decisions if d.outcome is Outcome.COUNTED]
    counts = tally(decisions)
    payable = payable_views(((v, h, n) for (v, h), n in counts.hourly.items()), counts.owners,
                            Catalog(assignments), mode)
    paid, unassigned = reference_payouts(counted, assignments, mode)
    assert (Counter(payable.by_creator), payable.unassigned) == (+paid, unassigned)

    named = Counter((d.event.video_id, hour_floor(d.event.event_time_ms), d.event.creator_id) for d in counted)
    mismatches = owner_mismatches(((v, h, c, n) for (v, h, c), n in named.items()), counts.owners,
                                  Catalog(assignments), mode)
    expected = Counter()
    for d in counted:
        owner = reference_owner(d.event.video_id, hour_floor(d.event.event_time_ms), assignments, counted, mode)
        if owner is not None and owner != d.event.creator_id:
            expected[d.event.video_id] += 1
    assert mismatches == dict(expected)
