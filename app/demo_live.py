"""The demo's live phase: players send views of the demo's videos, as they happen, through the
HTTP collector (write key, NDJSON batches), one request twice as a player retrying would, and a
line that is not an event; the layers take them from Kafka and the API's answer grows by exactly
the views sent."""

from __future__ import annotations

import json
import random
import urllib.request
from dataclasses import dataclass

from viewcount.timeutil import format_ms, now_ms

BATCH = 100


@dataclass(frozen=True)
class LiveReport:
    requests: int
    events: int              # valid views sent (each counts once)
    resent_events: int       # sent a second time in a resent request: counted once all the same
    invalid: int             # lines the collector reported invalid (kept in quarantine)
    by_video: dict[str, int]


def live_views(videos: dict[str, dict], count: int, seed: int) -> list[dict]:
    """``count`` views happening now, of the demo's videos, each by its owner's video and a viewer
    of its own (so that no rule drops one)."""
    rng = random.Random(seed)
    chosen = rng.sample(sorted(videos), min(len(videos), 20))
    moment = format_ms(now_ms())
    return [{"event_id": f"live-{seed}-{i}", "video_id": video, "creator_id": videos[video]["creator_id"],
             "viewer_id": f"live_viewer_{i}", "event_time": moment, "watch_ms": 45_000}
            for i, video in enumerate(rng.choice(chosen) for _ in range(count))]


def send_as_players(collector_url: str, write_key: str, events: list[dict]) -> LiveReport:
    """POST the views in NDJSON batches of :data:`BATCH`, the first batch twice, and one line that
    is not an event in the last batch. Every request must be answered 202."""
    batches = [events[i:i + BATCH] for i in range(0, len(events), BATCH)]
    bodies = [b"\n".join(json.dumps(e).encode() for e in batch) for batch in batches]
    bodies[-1] += b"\n{not an event"
    invalid = 0
    for body in [bodies[0], *bodies]:
        request = urllib.request.Request(f"{collector_url}/v1/events", data=body, method="POST", headers={
            "Authorization": f"Bearer {write_key}", "Content-Type": "application/x-ndjson",
            "User-Agent": "viewcount-demo-player/1.0"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            if answer.status != 202:
                raise RuntimeError(f"the collector answered {answer.status}: {answer.read()[:200]!r}")
            invalid += len(json.loads(answer.read())["invalid"])
    by_video: dict[str, int] = {}
    for e in events:
        by_video[e["video_id"]] = by_video.get(e["video_id"], 0) + 1
    return LiveReport(requests=len(bodies) + 1, events=len(events), resent_events=len(batches[0]), invalid=invalid,
                      by_video=by_video)
