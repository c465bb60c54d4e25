"""Redis away and back, and batch versions flipping under readers, through the HTTP API."""

from __future__ import annotations

import threading
from collections import defaultdict

import pytest

from app import wiring
from adapters.kafka.seam import Record
from viewcount.rules import SourceRecord, apply_rules, tally
from viewcount.timeutil import HOUR_MS, hour_floor
from app.background import Background
from devtools.sandbox import wait_for
from tests.serving_layer.conftest import ADMIN_TOKEN

pytestmark = pytest.mark.integration


def test_redis_unreachable_answers_503_and_recovers_without_a_restart(make_api, counted, stack):
    api = make_api(counted)
    video, truth = next(iter(counted.truth["videos"].items()))
    path = f"/v1/videos/{video}/views"
    assert api.get(path, ADMIN_TOKEN).status_code == 200
    stack.down(("redis",), progress=lambda line: None)
    try:
        down = api.get(path, ADMIN_TOKEN)
        assert down.status_code == 503 and down.headers["retry-after"] == "1"
        assert down.json() == {"error": "unavailable", "detail": "the view store is not reachable; retry shortly"}
        assert api.get("/readyz").status_code == 503
        assert api.get("/healthz").status_code == 200
    finally:
        stack.up(("redis",), progress=lambda line: None)
    back = wait_for(lambda: (r := api.get(path, ADMIN_TOKEN)).status_code == 200 and r, 30, what="recovery")
    assert back.json()["views"] == truth["views"]
    assert api.get("/readyz").status_code == 200
    assert api.metrics.store_unavailable._value.get() >= 2


def records_of(scenario) -> list[SourceRecord]:
    """The topic read back in offset order: what the layers saw."""
    consumer = wiring.consumer(scenario.settings)
    partitions = list(range(scenario.settings.topic_partitions))
    out: list[Record] = []
    try:
        consumer.assign(scenario.settings.topic, partitions)
        ends = consumer.end_offsets(partitions)
        while any(consumer.position(p) < ends[p] for p in partitions):
            for batch in consumer.poll(0.5, 5000).values():
                out.extend(batch)
    finally:
        consumer.close()
    return sorted((SourceRecord(r.partition, r.offset, r.timestamp_ms, r.value) for r in out),
                  key=lambda r: (r.partition, r.offset))


def test_answers_stay_exact_while_batch_versions_flip_in_a_loop(make_api, counted):
    """Versions at different watermarks split the same records differently between batch and
    speed; a reader that saw a mix would see a total off the truth."""
    records = records_of(counted)
    ingest = {(d.partition, d.offset): d.ingest_ms for d in apply_rules(records, counted.settings.rules)}
    hours = sorted({hour_floor(t) for t in ingest.values()})
    versions = []
    for n, watermark in enumerate(hours[1::2] + [hours[-1] + HOUR_MS]):
        below = tally(apply_rules([r for r in records if ingest[(r.partition, r.offset)] < watermark],
                                  counted.settings.rules))
        hourly = defaultdict(dict)
        for (video, hour), views in below.hourly.items():
            hourly[video][hour] = views
        totals = {v: (views, below.owners[v]) for v, views in below.videos.items()}
        versions.append((f"loop{n}", watermark, totals, dict(hourly)))
    store = wiring.batch_views(counted.settings)
    stop = threading.Event()

    def publish_in_a_loop():
        i = 0
        while not stop.is_set():
            version, watermark, totals, hourly = versions[i % len(versions)]
            store.publish_batch(f"{version}-{i}", watermark, totals, hourly, grace_s=5)
            i += 1

    api = make_api(counted)
    publisher = Background(publish_in_a_loop)
    videos = sorted(counted.truth["videos"].items(), key=lambda kv: -kv[1]["views"])[:10]
    seen_watermarks = set()
    try:
        for _ in range(30):
            for video, truth in videos:
                doc = api.get(f"/v1/videos/{video}/views", ADMIN_TOKEN).json()
                assert doc["views"] == doc["batch_views"] + doc["speed_views"] == truth["views"], doc
                seen_watermarks.add(doc["batch_watermark"])
    finally:
        stop.set()
        publisher.join(60)
    assert len(seen_watermarks) >= 2   # the reads did land on different versions
