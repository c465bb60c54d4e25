"""The counting rules (CONTRACT §2): examples for each step, and properties over random streams
checked against a brute-force reference written here from the contract's words."""

from __future__ import annotations

import json
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from viewcount.events import ViewEvent, parse_event
from viewcount.rules import (
    Outcome, RuleSettings, RuleState, SourceRecord, advance_ingest_time, apply_rules, cap_released_at, decide,
    dedup_released_at, ingest_times, tally,
)
from viewcount.timeutil import HOUR_MS, format_ms, hour_floor
from viewcount.partitioner import video_partition

MIN = 60_000
T0 = 1_795_256_130_000  # 2026-11-21T10:15:30Z
DEFAULT = RuleSettings()
SMALL = RuleSettings(max_event_age_ms=2 * HOUR_MS, max_clock_skew_ms=5 * MIN,
                     min_watch_ms=30_000, max_views_per_viewer_hour=2)


def value(event_id="e1", video="v1", viewer="u1", creator="c1", event_ms=T0, watch=45_000) -> bytes:
    return json.dumps({"event_id": event_id, "video_id": video, "creator_id": creator,
                       "viewer_id": viewer, "event_time": format_ms(event_ms), "watch_ms": watch}).encode()


def outcomes(pairs, rules=DEFAULT, partition=0):
    """``pairs`` = [(timestamp_ms, value bytes)] in offset order → outcomes."""
    records = [SourceRecord(partition, i, ts, v) for i, (ts, v) in enumerate(pairs)]
    return [d.outcome for d in apply_rules(records, rules)]


# --- one example per step ------------------------------------------------------------------

def test_step_1_invalid_records_never_count():
    assert outcomes([(T0, b"{}"), (T0, value())]) == [Outcome.INVALID, Outcome.COUNTED]


def test_step_2_time_window_bounds_are_inclusive():
    age, skew = DEFAULT.max_event_age_ms, DEFAULT.max_clock_skew_ms
    assert outcomes([
        (T0, value("a", event_ms=T0 - age)),
        (T0, value("b", event_ms=T0 - age - 1)),
        (T0, value("c", event_ms=T0 + skew)),
        (T0, value("d", event_ms=T0 + skew + 1)),
    ]) == [Outcome.COUNTED, Outcome.TOO_OLD, Outcome.COUNTED, Outcome.FROM_FUTURE]


def test_step_2_uses_the_running_maximum_ingest_time_not_the_record_timestamp():
    # The second record's own timestamp would make it in time; the partition's clock does not.
    late_stamp = T0 - DEFAULT.max_event_age_ms - HOUR_MS
    assert outcomes([
        (T0, value("a")),
        (late_stamp, value("b", event_ms=late_stamp)),
    ]) == [Outcome.COUNTED, Outcome.TOO_OLD]


def test_step_3_duplicates_and_conflicts_within_the_window():
    window = DEFAULT.dedup_window_ms
    assert outcomes([
        (T0, value("e1")),
        (T0 + 1, value("e1")),                        # exact re-send
        (T0 + 2, value("e1", watch=46_000)),          # same id, other contract fields
        (T0 + 3, value("e1", video="v2")),            # same id on another video: its own view
    ]) == [Outcome.COUNTED, Outcome.DUPLICATE, Outcome.CONFLICTING, Outcome.COUNTED]
    # The window is measured from the latest in-time record of the key, inclusive. (An exact
    # re-send cannot be in time at the window's far edge, so the edge case is a conflict.)
    chain = [(T0, value("e1", event_ms=T0)),
             (T0 + window, value("e1", event_ms=T0 + window - DEFAULT.max_event_age_ms)),
             (T0 + 2 * window + 1, value("e1", event_ms=T0 + 2 * window + 1))]
    assert outcomes(chain) == [Outcome.COUNTED, Outcome.CONFLICTING, Outcome.COUNTED]


def test_step_3_records_rejected_by_step_2_do_not_open_a_window():
    assert outcomes([
        (T0, value("e1", event_ms=T0 + HOUR_MS)),     # from the future: not remembered
        (T0 + 1, value("e1")),
    ]) == [Outcome.FROM_FUTURE, Outcome.COUNTED]


def test_step_4_unqualified_views_still_claim_their_event_id():
    assert outcomes([
        (T0, value("e1", watch=29_999)),
        (T0 + 1, value("e1", watch=30_000)),
        (T0 + 2, value("e2", watch=30_000)),
    ]) == [Outcome.UNQUALIFIED, Outcome.CONFLICTING, Outcome.COUNTED]


def test_step_5_caps_per_viewer_video_and_event_hour_in_ingest_order():
    hour = hour_floor(T0)
    views = [(T0 + i, value(f"e{i}", event_ms=hour + i)) for i in range(7)]
    views.append((T0 + 8, value("x1", event_ms=hour - 1)))              # previous event hour
    views.append((T0 + 9, value("x2", event_ms=hour + 5, viewer="u2")))  # another viewer
    views.append((T0 + 10, value("x3", event_ms=hour + 5, video="v2")))  # another video
    assert outcomes(views) == [Outcome.COUNTED] * 5 + [Outcome.CAPPED] * 2 + [Outcome.COUNTED] * 3


def test_unqualified_and_capped_views_do_not_use_up_the_cap():
    hour = hour_floor(T0)
    views = [(T0, value("short", event_ms=hour, watch=1))]
    views += [(T0 + i, value(f"e{i}", event_ms=hour)) for i in range(1, 6)]
    assert outcomes(views).count(Outcome.COUNTED) == 5


def test_decide_keeps_the_fingerprint_of_the_kept_record():
    state, event = RuleState(), parse_event(value("e1"))
    assert decide(state, event, T0, DEFAULT) is Outcome.COUNTED
    assert state.dedup[("v1", "e1")].fingerprint == event.fingerprint()


# --- properties ----------------------------------------------------------------------------

ids = st.sampled_from(["e1", "e2", "e3", "e4"])
videos = st.sampled_from(["v1", "v2", "v3"])
viewers = st.sampled_from(["u1", "u2"])
PARTITIONS = 3      # v1, v2, v3 land on partitions 1, 0, 2 (CONTRACT §1)


def partition_of(video: str) -> int:
    """The partition the views of ``video`` are produced to, as the real partitioner decides."""
    return video_partition(video, PARTITIONS)


@st.composite
def streams(draw, max_size=60, creators=None):
    """Ordered records of up to 3 partitions with backwards timestamps, junk and re-sends; with
    ``creators`` (a strategy), each view names a creator drawn from it, else its video's own."""
    n = draw(st.integers(0, max_size))
    clock = {0: T0, 1: T0, 2: T0}
    out, sent = [], []
    for i in range(n):
        video = draw(videos)
        partition = partition_of(video)      # key = video_id: a video lives in one partition
        clock[partition] += draw(st.sampled_from([0, 1, MIN, 20 * MIN, HOUR_MS, 3 * HOUR_MS]))
        timestamp = clock[partition] - draw(st.sampled_from([0, 0, 0, 30 * MIN, 3 * HOUR_MS]))
        kind = draw(st.sampled_from(["view", "view", "view", "resend", "junk"]))
        if kind == "resend" and sent:
            v = draw(st.sampled_from(sent))
            partition = partition_of(json.loads(v)["video_id"])
        elif kind == "junk":
            v = draw(st.sampled_from([b"{}", b"\xff", b"[1]", b'{"watch_ms": 1.5}']))
        else:
            v = value(draw(ids), video, draw(viewers), "c" + video if creators is None else draw(creators),
                      timestamp + draw(st.sampled_from([-3 * HOUR_MS, -HOUR_MS, -1, 0, 4 * MIN, 6 * MIN])),
                      draw(st.sampled_from([0, 29_999, 30_000, 60_000])))
            sent.append(v)
        out.append(SourceRecord(partition, i, timestamp, v))
    return out


def reference(records: list[SourceRecord], rules: RuleSettings) -> list[Outcome]:
    """CONTRACT §2 read literally, by brute force over all earlier records."""
    ingest, running, results = [], {}, []
    parsed = [parse_event(r.value) for r in records]
    for i, r in enumerate(records):
        running[r.partition] = max(running.get(r.partition, r.timestamp_ms), r.timestamp_ms)
        ingest.append(running[r.partition])
        e = parsed[i]
        if not isinstance(e, ViewEvent):
            results.append(Outcome.INVALID)
            continue
        if e.event_time_ms < ingest[i] - rules.max_event_age_ms:
            results.append(Outcome.TOO_OLD)
            continue
        if e.event_time_ms > ingest[i] + rules.max_clock_skew_ms:
            results.append(Outcome.FROM_FUTURE)
            continue
        earlier = [j for j in range(i) if results[j] not in (Outcome.INVALID, Outcome.TOO_OLD, Outcome.FROM_FUTURE)
                   and (parsed[j].video_id, parsed[j].event_id) == (e.video_id, e.event_id)]
        if any(ingest[i] - ingest[j] <= rules.max_event_age_ms + rules.max_clock_skew_ms for j in earlier):
            kept = max(j for j in earlier if results[j] not in (Outcome.DUPLICATE, Outcome.CONFLICTING))
            same = parsed[kept].fingerprint() == e.fingerprint()
            results.append(Outcome.DUPLICATE if same else Outcome.CONFLICTING)
            continue
        if e.watch_ms < rules.min_watch_ms:
            results.append(Outcome.UNQUALIFIED)
            continue
        hour = hour_floor(e.event_time_ms)
        used = sum(1 for j in range(i) if results[j] is Outcome.COUNTED
                   and (parsed[j].video_id, parsed[j].viewer_id, hour_floor(parsed[j].event_time_ms))
                   == (e.video_id, e.viewer_id, hour))
        results.append(Outcome.COUNTED if used < rules.max_views_per_viewer_hour else Outcome.CAPPED)
    return results


@settings(max_examples=300, deadline=None)
@given(streams())
def test_rules_equal_the_brute_force_reference(records):
    assert [d.outcome for d in apply_rules(records, SMALL)] == reference(records, SMALL)


@settings(max_examples=200, deadline=None)
@given(streams(), st.data())
def test_resending_records_never_changes_the_counts(records, data):
    resent = []
    for r in records:
        resent.append(r)
        if data.draw(st.booleans()):
            resent.append(SourceRecord(r.partition, r.offset, r.timestamp_ms, r.value))
    before, after = tally(apply_rules(records, SMALL)), tally(apply_rules(resent, SMALL))
    assert (after.videos, after.hourly, after.creators) == (before.videos, before.hourly, before.creators)


@settings(max_examples=200, deadline=None)
@given(streams())
def test_the_cap_holds_per_viewer_video_and_hour(records):
    per_cap = Counter((d.event.video_id, d.event.viewer_id, hour_floor(d.event.event_time_ms))
                      for d in apply_rules(records, SMALL) if d.outcome is Outcome.COUNTED)
    assert all(n <= SMALL.max_views_per_viewer_hour for n in per_cap.values())


@settings(max_examples=200, deadline=None)
@given(streams())
def test_ingest_time_is_monotone_per_partition_and_never_below_the_timestamp(records):
    last = {}
    for record, decision in zip(records, apply_rules(records, SMALL)):
        assert decision.ingest_ms >= record.timestamp_ms
        assert decision.ingest_ms >= last.get(record.partition, decision.ingest_ms)
        last[record.partition] = decision.ingest_ms


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.none(), st.integers(0, 10**13)), st.lists(st.integers(0, 10**13), max_size=50))
def test_ingest_times_of_a_run_are_advance_ingest_time_record_by_record(running_ms, timestamps):
    expected, running = [], running_ms
    for timestamp in timestamps:
        running = advance_ingest_time(running, timestamp)
        expected.append(running)
    assert ingest_times(running_ms, timestamps) == expected


@settings(max_examples=100, deadline=None)
@given(streams())
def test_interleaving_partitions_differently_gives_the_same_counts(records):
    by_partition = sorted(records, key=lambda r: (r.partition, r.offset))
    a, b = tally(apply_rules(records, SMALL)), tally(apply_rules(by_partition, SMALL))
    assert (a.videos, a.hourly, a.outcomes) == (b.videos, b.hourly, b.outcomes)


def test_counts_group_by_video_hour_creator_and_month():
    counts = tally(apply_rules([
        SourceRecord(0, 0, T0, value("a", video="v1", creator="c1")),
        SourceRecord(0, 1, T0, value("b", video="v1", creator="c1", event_ms=T0 - HOUR_MS)),
        SourceRecord(0, 2, T0, value("c", video="v2", creator="c2")),
    ], DEFAULT))
    assert counts.videos == {"v1": 2, "v2": 1}
    assert counts.hourly == {("v1", hour_floor(T0)): 1, ("v1", hour_floor(T0) - HOUR_MS): 1,
                             ("v2", hour_floor(T0)): 1}
    assert counts.creators == {"c1": 2, "c2": 1}
    assert counts.creator_months == {("c1", "2026-11"): 2, ("c2", "2026-11"): 1}
    assert counts.owners == {"v1": "c1", "v2": "c2"}


@settings(max_examples=300, deadline=None)
@given(streams())
def test_forgetting_state_once_the_ingest_time_releases_it_changes_no_outcome(records):
    # What the speed layer does on the data's clock: after each record, drop the partition's
    # dedup and cap entries whose release time its ingest time has reached.
    state = RuleState()
    forgetful = []
    for decision in apply_rules(records, SMALL, state):
        forgetful.append(decision.outcome)
        now, partition = decision.ingest_ms, decision.partition
        for key, entry in list(state.dedup.items()):
            if partition_of(key[0]) == partition and dedup_released_at(entry.last_ingest_ms, SMALL) <= now:
                del state.dedup[key]
        for key in list(state.caps):
            if partition_of(key[0]) == partition and cap_released_at(key[2], SMALL) <= now:
                del state.caps[key]
    assert forgetful == [d.outcome for d in apply_rules(records, SMALL)]


def test_state_is_released_only_after_the_last_ingest_time_that_needs_it():
    # The last moment a re-send is still a duplicate, and the last moment a record of an event
    # hour still passes rule 2 (and so meets its cap), both come before the release.
    last_duplicate = T0 + SMALL.dedup_window_ms
    sent = value(event_ms=T0 + SMALL.max_clock_skew_ms)
    assert outcomes([(T0, sent), (last_duplicate, sent)], SMALL) == [Outcome.COUNTED, Outcome.DUPLICATE]
    assert dedup_released_at(T0, SMALL) > last_duplicate
    hour = hour_floor(T0)
    last_in_time = hour + HOUR_MS - 1 + SMALL.max_event_age_ms
    assert outcomes([(last_in_time, value(event_ms=hour + HOUR_MS - 1))], SMALL) == [Outcome.COUNTED]
    assert cap_released_at(hour, SMALL) > last_in_time
