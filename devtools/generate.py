"""Synthetic view traffic with known answers: ``events.jsonl`` and ``truth.json``.

The traffic has what real traffic has: Zipf-popular videos, repeat viewers, exact re-sends and
conflicting duplicates, the same event id on other videos, late-but-in-time, too-old and future
events, unqualified watches, binge viewers who hit the cap, invalid lines (broken fields,
injection attempts in ids, non-UTF-8 bytes, deep JSON), poison (``NaN``, a repeated key, a value
over 65,536 bytes: not JSON or too large under rules version 2), and forged views: valid views of a
video naming another creator, which count for the video and are paid to its owner (CONTRACT §9).

Every JSON-object line carries its ingest time in the field ``ingest_time``, non-decreasing
through the file, for ``viewcount produce --ingest-time-field ingest_time``. Because those times
never go backwards, every record's ingest time (the running maximum of its partition) is its own
timestamp whatever the partitioning, so ``truth.json`` holds for any partition count. Lines that
cannot carry a time (not JSON, not UTF-8, too deep to parse) are stamped at send time by the
producer; they come last so that stamp cannot move any valid record's ingest time.
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from pathlib import Path

from viewcount.rules import RULES_VERSION, RuleSettings, SourceRecord, apply_rules, tally
from viewcount.timeutil import DAY_MS, HOUR_MS, format_hour, format_ms, hour_floor

INGEST_TIME_FIELD = "ingest_time"
MINUTE_MS = 60_000


# Share of lines of each kind; the rest are ordinary views.
MIX = {
    "late": 0.03, "too_old": 0.01, "future": 0.01, "resend": 0.05, "conflict": 0.01,
    "reused_id": 0.01, "binge": 0.01, "invalid": 0.02, "poison": 0.002, "forged": 0.005,
}
TOO_LARGE_BYTES = 70_000
UNSTAMPABLE_SHARE = 0.002
UNQUALIFIED_SHARE = 0.2


@dataclass(frozen=True)
class GeneratedTraffic:
    events_path: Path
    truth_path: Path
    lines: int
    truth: dict


class _Traffic:
    def __init__(self, events: int, seed: int, start_ms: int, end_ms: int, rules: RuleSettings) -> None:
        self.rng = random.Random(seed)
        self.events, self.start_ms, self.end_ms, self.rules = events, start_ms, end_ms, rules
        n_videos = max(20, events // 150)
        n_creators = max(5, n_videos // 8)
        self.creators = [f"creator_{i:04d}" for i in range(n_creators)]
        self.videos = [f"vid_{i:06d}" for i in range(n_videos)]
        self.owner = {v: self.rng.choice(self.creators) for v in self.videos}
        self.video_weights = _zipf_cum_weights(n_videos, 1.1)
        self.viewers = [f"viewer_{i:07d}" for i in range(max(100, events // 8))]
        self.viewer_weights = _zipf_cum_weights(len(self.viewers), 0.8)
        self.sent: list[dict] = []  # recent valid events, for re-sends and conflicts
        self.lines: list[bytes] = []

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _video(self) -> str:
        return self.rng.choices(self.videos, cum_weights=self.video_weights)[0]

    def _viewer(self) -> str:
        return self.rng.choices(self.viewers, cum_weights=self.viewer_weights)[0]

    def _watch_ms(self) -> int:
        if self.rng.random() < UNQUALIFIED_SHARE:
            return self.rng.randrange(0, self.rules.min_watch_ms)
        return self.rng.randrange(self.rules.min_watch_ms, 20 * self.rules.min_watch_ms)

    def _event(self, ingest_ms: int, lag_ms: int, video: str | None = None,
               viewer: str | None = None) -> dict:
        video = video or self._video()
        event = {
            "event_id": self._uuid(),
            "video_id": video,
            "creator_id": self.owner[video],
            "viewer_id": viewer or self._viewer(),
            "event_time": format_ms(ingest_ms - lag_ms),
            "watch_ms": self._watch_ms(),
        }
        if self.rng.random() < 0.9:
            event["schema_version"] = 1
        if self.rng.random() < 0.05:
            event["player"] = self.rng.choice(["web", "ios", "android", "tv"])  # ignored field
        return event

    def _emit(self, obj: dict, ingest_ms: int) -> None:
        line = dict(obj)
        line[INGEST_TIME_FIELD] = format_ms(ingest_ms)
        self.lines.append(json.dumps(line, separators=(",", ":")).encode())

    def _remember(self, event: dict) -> None:
        self.sent.append(event)
        if len(self.sent) > 5000:
            del self.sent[: len(self.sent) - 5000]

    def build(self) -> list[bytes]:
        unstampable = max(4, int(self.events * UNSTAMPABLE_SHARE))
        stamped = self.events - unstampable
        times = sorted(self.rng.randrange(self.start_ms, self.end_ms + 1) for _ in range(stamped))
        kinds, weights = list(MIX) + ["view"], list(MIX.values()) + [1 - sum(MIX.values())]
        i = 0
        while i < stamped:
            ingest_ms = times[i]
            if i and self.sent and hour_floor(ingest_ms) > times[i - 1]:
                # The first record of an hour, put exactly on the boundary where a batch watermark
                # can fall, as a re-send of the last view before it: a duplicate straddling W.
                ingest_ms = times[i] = hour_floor(ingest_ms)
                self._emit(self.sent[-1], ingest_ms)
                i += 1
                continue
            kind = self.rng.choices(kinds, weights=weights)[0]
            if kind in ("resend", "conflict", "reused_id") and not self.sent:
                kind = "view"
            if kind == "binge":
                i += self._binge(times, i, stamped)
                continue
            if kind == "invalid":
                self._emit(_invalid_object(self.rng, self._video(), ingest_ms), ingest_ms)
            elif kind == "poison":
                self.lines.append(_poison_line(self.rng, self._event(ingest_ms, 0), ingest_ms))
            elif kind == "forged":   # a take-over attempt: the view counts, the video does not move
                event = self._event(ingest_ms, int(self.rng.expovariate(1 / 2000)))
                event["creator_id"] = self.rng.choice([c for c in self.creators if c != event["creator_id"]])
                self._emit(event, ingest_ms)
            elif kind == "resend":
                self._emit(self.rng.choice(self.sent[-2000:]), ingest_ms)
            elif kind == "conflict":
                changed = dict(self.rng.choice(self.sent[-2000:]))
                changed["watch_ms"] = changed["watch_ms"] + self.rng.randrange(1, 5000)
                self._emit(changed, ingest_ms)
            elif kind == "reused_id":
                event = self._event(ingest_ms, self.rng.randrange(0, 5000))
                event["event_id"] = self.rng.choice(self.sent)["event_id"]
                self._remember(event)
                self._emit(event, ingest_ms)
            else:
                lag = {
                    "late": lambda: self.rng.randrange(HOUR_MS, self.rules.max_event_age_ms - MINUTE_MS),
                    "too_old": lambda: self.rules.max_event_age_ms + self.rng.randrange(1000, 3 * DAY_MS),
                    "future": lambda: -(self.rules.max_clock_skew_ms + self.rng.randrange(1000, 2 * HOUR_MS)),
                }.get(kind, lambda: int(self.rng.expovariate(1 / 2000)))()
                event = self._event(ingest_ms, lag)
                self._remember(event)
                self._emit(event, ingest_ms)
            i += 1
        self.lines.extend(_unstampable_lines(self.rng, unstampable))
        return self.lines

    def _binge(self, times: list[int], i: int, stamped: int) -> int:
        """One viewer watching one video over and over within an hour: the cap's case."""
        video, viewer = self._video(), self._viewer()
        size = min(self.rules.max_views_per_viewer_hour + self.rng.randrange(1, 5), stamped - i)
        hour = hour_floor(times[i])
        for k in range(size):
            ingest_ms = times[i + k]
            event_ms = max(hour, min(ingest_ms, hour + HOUR_MS - 1) - self.rng.randrange(0, 1000))
            event = self._event(ingest_ms, ingest_ms - event_ms, video=video, viewer=viewer)
            event["watch_ms"] = self.rng.randrange(self.rules.min_watch_ms, 4 * self.rules.min_watch_ms)
            self._remember(event)
            self._emit(event, ingest_ms)
        return size


def _zipf_cum_weights(n: int, s: float) -> list[float]:
    total, out = 0.0, []
    for rank in range(1, n + 1):
        total += 1 / rank**s
        out.append(total)
    return out


_HOSTILE_IDS = [
    "../../etc/passwd", "vid 1", "vid;DROP TABLE views", "a" * 65, "", "vïdéo", "vid\u0000x",
    "views:*", "{vid}", "vid\nnext", "<script>", "${jndi:ldap://x}",
]


def _invalid_object(rng: random.Random, video: str, ingest_ms: int) -> dict:
    """A JSON object that breaks one rule of CONTRACT §1 (it can still carry its ingest time)."""
    event = {
        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "video_id": video, "creator_id": "creator_0000", "viewer_id": "viewer_0000001",
        "event_time": format_ms(ingest_ms), "watch_ms": 45_000,
    }
    breakage = rng.randrange(8)
    if breakage == 0:
        del event[rng.choice(list(event))]
    elif breakage == 1:
        event[rng.choice(["event_id", "creator_id", "viewer_id"])] = rng.choice(_HOSTILE_IDS)
    elif breakage == 2:
        event["event_time"] = rng.choice(["2026-11-21 10:00:00", "yesterday", "2026-11-21T10:00:00",
                                          "2026-13-01T00:00:00Z", 1763719200000])
    elif breakage == 3:
        event["watch_ms"] = rng.choice([45000.0, True, "45000", -1, 86_400_001, None])
    elif breakage == 4:
        event["schema_version"] = rng.choice([2, "1", 1.0, True])
    elif breakage == 5:
        event["video_id"] = rng.choice(_HOSTILE_IDS)
    elif breakage == 6:
        event["video_id"] = 12345
    else:
        event["viewer_id"] = ["not", "a", "string"]
    return event


def _poison_line(rng: random.Random, event: dict, ingest_ms: int) -> bytes:
    """A line other parsers might read differently or choke on; it still carries its ingest time."""
    body = json.dumps({**event, INGEST_TIME_FIELD: format_ms(ingest_ms)}, separators=(",", ":"))[:-1]
    kind = rng.randrange(3)
    if kind == 0:
        return (body + ',"score":NaN}').encode()
    if kind == 1:
        return (body + ',"watch_ms":1}').encode()                        # the key again: which one counts?
    return (body + ',"pad":"' + "x" * TOO_LARGE_BYTES + '"}').encode()   # over 65,536 bytes


def _unstampable_lines(rng: random.Random, count: int) -> list[bytes]:
    makers = [
        lambda: b'{"event_id": "\xff\xfe", "video_id": "vid_000001"}',
        lambda: b"not json at all",
        lambda: b"[" * 10_000 + b"]" * 10_000,
        lambda: b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
        lambda: b'["vid_000001", 1]',
        lambda: b'"just a string"',
        lambda: b'{"video_id": "vid_000001", "truncated": ',
        lambda: b"\x00\x01\x02 binary \x9c",
    ]
    return [makers[k % len(makers)]() for k in range(count)] if count else []


def traffic_lines(events: int, seed: int, start_ms: int, end_ms: int, rules: RuleSettings) -> list[bytes]:
    """The generated lines in produce order, each with its ingest-time field (no truth computed)."""
    return _Traffic(events, seed, start_ms, end_ms, rules).build()


def generate(events: int, seed: int, out_dir: Path, start_ms: int, end_ms: int,
             rules: RuleSettings, settings_public: dict) -> GeneratedTraffic:
    if events < 10:
        raise ValueError("--events must be at least 10")
    if end_ms <= start_ms:
        raise ValueError("the traffic must span a positive time range")
    lines = traffic_lines(events, seed, start_ms, end_ms, rules)
    out_dir.mkdir(parents=True, exist_ok=True)
    events_path = out_dir / "events.jsonl"
    with open(events_path, "wb") as f:
        for line in lines:
            f.write(line + b"\n")
    truth = compute_truth(lines, rules)
    truth["generator"] = {
        "events": events, "seed": seed, "start": format_ms(start_ms), "end": format_ms(end_ms),
        "ingest_time_field": INGEST_TIME_FIELD,
    }
    truth["settings"] = {k: settings_public[k] for k in (
        "MAX_EVENT_AGE", "MAX_CLOCK_SKEW", "MIN_WATCH_MS", "MAX_VIEWS_PER_VIEWER_HOUR")}
    truth_path = out_dir / "truth.json"
    truth_path.write_text(json.dumps(truth, indent=1, sort_keys=True) + "\n")
    return GeneratedTraffic(events_path, truth_path, len(lines), truth)


def compute_truth(lines: list[bytes], rules: RuleSettings) -> dict:
    """The rules applied to the lines as produced with their ingest-time field."""
    records = []
    last_ms = 0
    for offset, line in enumerate(lines):
        last_ms = max(last_ms, _ingest_field_ms(line, last_ms))
        records.append(SourceRecord(0, offset, last_ms, line))
    counts = tally(apply_rules(records, rules))
    videos = {}
    for video, views in sorted(counts.videos.items()):
        videos[video] = {"creator_id": counts.owners[video], "views": views, "hourly": {},
                         "owner_mismatch": counts.owner_mismatch.get(video, 0)}
    for (video, hour_ms), views in sorted(counts.hourly.items()):
        videos[video]["hourly"][format_hour(hour_ms)] = views
    creators: dict[str, dict] = {c: {"views": n, "months": {}} for c, n in sorted(counts.creators.items())}
    for (creator, month), views in sorted(counts.creator_months.items()):
        creators[creator]["months"][month] = views
    return {
        "rules_version": RULES_VERSION,
        "records": len(lines),
        "outcomes": dict(sorted(counts.outcomes.items())),
        "total_views": sum(counts.videos.values()),
        "owner_mismatch": sum(counts.owner_mismatch.values()),
        "videos": videos,
        "creators": creators,
    }


def _ingest_field_ms(line: bytes, fallback_ms: int) -> int:
    from ingestion.produce import ingest_time_of

    found = ingest_time_of(line, INGEST_TIME_FIELD)
    return fallback_ms if found is None else found
