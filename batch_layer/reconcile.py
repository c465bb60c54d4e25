"""Batch and speed, reconciled after a publish (pure: no I/O).

A publish moves W from the previous watermark ``W0`` to ``W1``. For the records ingested in
``[W0, W1)`` both layers still hold an answer: the new version's hourly views less the previous
version's are the batch's count of them (the version's ``changes/``, written when it was computed
over the previous one), and the speed layer's buckets of ingest hours in ``[W0, W1)`` are its
count, both per (video, event hour). The rules are the same, so they must
be equal; a difference names the video and the hour, and never blocks the publish.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

from viewcount.timeutil import format_ms

REPORT_FILE = "_reconcile.json"


@dataclass(frozen=True)
class HourDifference:
    video_id: str
    event_hour_ms: int
    batch: int
    speed: int


@dataclass
class Reconciliation:
    version: str
    from_ms: int | None            # W0: the watermark published before; None for a first publish
    to_ms: int                     # W1
    videos: int = 0                # compared
    hours: int = 0
    differences: list[HourDifference] = field(default_factory=list)
    skipped: str | None = None     # why nothing was compared

    def to_json(self) -> dict:
        return {"version": self.version, "from": None if self.from_ms is None else format_ms(self.from_ms),
                "to": format_ms(self.to_ms), "videos": self.videos, "hours": self.hours, "skipped": self.skipped,
                "differences": [{**asdict(d), "event_hour": format_ms(d.event_hour_ms)} for d in self.differences]}


def compare(version: str, from_ms: int, to_ms: int, batch: Mapping[str, Mapping[int, int]],
            speed: Mapping[str, Mapping[int, int]]) -> Reconciliation:
    report = Reconciliation(version, from_ms, to_ms)
    for video in sorted(set(batch) | set(speed)):
        b, s = batch.get(video, {}), speed.get(video, {})
        report.videos += 1
        for hour in sorted(set(b) | set(s)):
            report.hours += 1
            if b.get(hour, 0) != s.get(hour, 0):
                report.differences.append(HourDifference(video, hour, b.get(hour, 0), s.get(hour, 0)))
    return report
