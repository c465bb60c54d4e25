"""What counts as a view: CONTRACT §2, rules version 2, as pure functions with explicit state.

This module is the one definition of a view. The predicates below are what the speed layer's
Lua step and the batch layer's Spark plan are built from and tested against; the stream
functions at the bottom apply them in order to a record sequence, which is how ``truth.json``
and every parity test get their numbers. Nothing here does I/O.

The five steps, in order: valid → in time → unique → qualified → capped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from itertools import accumulate

from viewcount.events import InvalidEvent, ViewEvent, parse_event
from viewcount.timeutil import HOUR_MS, hour_floor, month_key

RULES_VERSION = 2  # 2: RFC 8259 strictness and the 65,536-byte limit (CONTRACT §2)


class Outcome(str, Enum):
    """Where a record ends. Exactly one per record; only ``COUNTED`` adds a view."""

    COUNTED = "counted"
    INVALID = "invalid"          # step 1
    TOO_OLD = "too_old"          # step 2
    FROM_FUTURE = "from_future"  # step 2
    DUPLICATE = "duplicate"      # step 3, same contract fields as the kept record
    CONFLICTING = "conflicting"  # step 3, a duplicate whose contract fields differ
    UNQUALIFIED = "unqualified"  # step 4
    CAPPED = "capped"            # step 5


@dataclass(frozen=True)
class RuleSettings:
    """The numbers of CONTRACT §2, in milliseconds and counts (defaults as in the contract)."""

    max_event_age_ms: int = 7 * 24 * HOUR_MS
    max_clock_skew_ms: int = 5 * 60_000
    min_watch_ms: int = 30_000
    max_views_per_viewer_hour: int = 5

    @property
    def dedup_window_ms(self) -> int:
        """How far back (in ingest time) an earlier record makes a later one a duplicate."""
        return self.max_event_age_ms + self.max_clock_skew_ms



# --- the predicates: one per step -------------------------------------------------------------

def time_outcome(event_time_ms: int, ingest_ms: int, rules: RuleSettings) -> Outcome | None:
    """Step 2. ``None`` when ``ingest - MAX_EVENT_AGE <= event_time <= ingest + MAX_CLOCK_SKEW``."""
    if event_time_ms < ingest_ms - rules.max_event_age_ms:
        return Outcome.TOO_OLD
    if event_time_ms > ingest_ms + rules.max_clock_skew_ms:
        return Outcome.FROM_FUTURE
    return None


def is_duplicate(previous_ingest_ms: int | None, ingest_ms: int, rules: RuleSettings) -> bool:
    """Step 3. ``previous_ingest_ms`` is the latest ingest time of an earlier in-time record
    with the same ``(video_id, event_id)``, or ``None`` if there is none."""
    return previous_ingest_ms is not None and ingest_ms - previous_ingest_ms <= rules.dedup_window_ms


def qualifies(watch_ms: int, rules: RuleSettings) -> bool:
    """Step 4."""
    return watch_ms >= rules.min_watch_ms


def under_cap(counted_in_cap: int, rules: RuleSettings) -> bool:
    """Step 5. ``counted_in_cap`` views already counted for this (video, viewer, event hour)."""
    return counted_in_cap < rules.max_views_per_viewer_hour


def advance_ingest_time(running_max_ms: int | None, timestamp_ms: int) -> int:
    """CONTRACT §1: a record's ingest time is the running maximum of its partition's timestamps."""
    return timestamp_ms if running_max_ms is None else max(running_max_ms, timestamp_ms)


def ingest_times(running_max_ms: int | None, timestamps_ms: list[int]) -> list[int]:
    """:func:`advance_ingest_time` over records of one partition in offset order: the ingest time
    of each. Never decreasing."""
    if running_max_ms is None:
        return list(accumulate(timestamps_ms, max))
    return list(accumulate(timestamps_ms, max, initial=running_max_ms))[1:]


# --- when state may be forgotten: on the data's clock, never the wall's ----------------------

def dedup_released_at(last_ingest_ms: int, rules: RuleSettings) -> int:
    """The ingest time from which no later record can be a duplicate of one whose latest in-time
    copy was ingested at ``last_ingest_ms``: the first hour boundary past the dedup window. Once
    the partition's ingest time reaches it, the entry may be forgotten (the speed layer lists it
    under that hour)."""
    return hour_floor(last_ingest_ms + rules.dedup_window_ms) + HOUR_MS


def cap_released_at(event_hour_ms: int, rules: RuleSettings) -> int:
    """The ingest time from which rule 2 admits no record of ``event_hour_ms`` (its last
    millisecond plus ``MAX_EVENT_AGE``, to the hour boundary past it): the cap may be forgotten."""
    return hour_floor(event_hour_ms + HOUR_MS - 1 + rules.max_event_age_ms) + HOUR_MS


# --- explicit state and the ordered application of the steps ----------------------------------

@dataclass(slots=True)
class DedupEntry:
    last_ingest_ms: int      # latest in-time record of this (video, event id), for the window
    fingerprint: bytes       # contract fields of the record that was kept, for conflicts


@dataclass
class RuleState:
    """Everything the rules remember between records. Keyed by video, as the layers are."""

    ingest_ms: dict[int, int] = field(default_factory=dict)                    # partition → max
    dedup: dict[tuple[str, str], DedupEntry] = field(default_factory=dict)      # (video, event)
    caps: dict[tuple[str, str, int], int] = field(default_factory=dict)         # (video, viewer, hour)


def decide(state: RuleState, event: ViewEvent, ingest_ms: int, rules: RuleSettings) -> Outcome:
    """Apply steps 2–5 to one valid event and update ``state`` accordingly."""
    late_or_early = time_outcome(event.event_time_ms, ingest_ms, rules)
    if late_or_early is not None:
        return late_or_early

    dedup_key = (event.video_id, event.event_id)
    entry = state.dedup.get(dedup_key)
    previous = entry.last_ingest_ms if entry is not None else None
    if is_duplicate(previous, ingest_ms, rules):
        entry.last_ingest_ms = ingest_ms
        return Outcome.DUPLICATE if entry.fingerprint == event.fingerprint() else Outcome.CONFLICTING
    state.dedup[dedup_key] = DedupEntry(ingest_ms, event.fingerprint())

    if not qualifies(event.watch_ms, rules):
        return Outcome.UNQUALIFIED

    cap_key = (event.video_id, event.viewer_id, hour_floor(event.event_time_ms))
    counted = state.caps.get(cap_key, 0)
    if not under_cap(counted, rules):
        return Outcome.CAPPED
    state.caps[cap_key] = counted + 1
    return Outcome.COUNTED


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """A record of the views topic as both layers see it."""

    partition: int
    offset: int
    timestamp_ms: int
    value: bytes | None


@dataclass(frozen=True, slots=True)
class Decision:
    partition: int
    offset: int
    ingest_ms: int
    outcome: Outcome
    event: ViewEvent | None
    invalid: InvalidEvent | None = None


def apply_rules(records: Iterable[SourceRecord], rules: RuleSettings,
                state: RuleState | None = None) -> Iterator[Decision]:
    """Steps 1–5 over records in offset order per partition (any interleaving of partitions
    gives the same outcomes, since all views of a video share a partition)."""
    state = RuleState() if state is None else state
    for record in records:
        ingest_ms = advance_ingest_time(state.ingest_ms.get(record.partition), record.timestamp_ms)
        state.ingest_ms[record.partition] = ingest_ms
        parsed = parse_event(record.value)
        if isinstance(parsed, InvalidEvent):
            yield Decision(record.partition, record.offset, ingest_ms, Outcome.INVALID, None, parsed)
            continue
        outcome = decide(state, parsed, ingest_ms, rules)
        yield Decision(record.partition, record.offset, ingest_ms, outcome, parsed)


@dataclass
class Counts:
    """The numbers every layer must agree on (CONTRACT §3), from a stream of decisions."""

    outcomes: Counter = field(default_factory=Counter)
    videos: Counter = field(default_factory=Counter)               # video → views
    hourly: Counter = field(default_factory=Counter)               # (video, event hour ms) → views
    creators: Counter = field(default_factory=Counter)             # owner → views
    creator_months: Counter = field(default_factory=Counter)       # (owner, "YYYY-MM") → views
    owners: dict[str, str] = field(default_factory=dict)           # video → its first claim (§9)
    owner_mismatch: Counter = field(default_factory=Counter)       # video → views naming another creator

    def add(self, decision: Decision) -> None:
        self.outcomes[decision.outcome.value] += 1
        if decision.outcome is not Outcome.COUNTED:
            return
        event = decision.event
        self.videos[event.video_id] += 1
        self.hourly[(event.video_id, hour_floor(event.event_time_ms))] += 1
        # Without a catalog, a video belongs to the creator its first counted view names (§9).
        owner = self.owners.setdefault(event.video_id, event.creator_id)
        self.creators[owner] += 1
        self.creator_months[(owner, month_key(event.event_time_ms))] += 1
        if owner != event.creator_id:
            self.owner_mismatch[event.video_id] += 1


def tally(decisions: Iterable[Decision]) -> Counts:
    counts = Counts()
    for decision in decisions:
        counts.add(decision)
    return counts
