"""The main job on the local stack, end to end, as far as the pipeline reaches today.

stack up → topics → generated traffic → produce → raw sink → speed layer → batch recompute
and publish → audit verify → every video's merged count compared with truth.json. Each run works in a namespace of its own (topic, Redis
key prefix, raw-store folder), so runs never mix and the comparison is exact every time.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from viewcount import wiring
from viewcount.generate import generate
from viewcount.produce import produce_lines, read_lines
from viewcount.settings import Settings
from viewcount.stack.manager import CORE, Stack
from viewcount.timeutil import DAY_MS, format_ms, now_ms

STEPS = 9


@dataclass
class DemoSummary:
    namespace: str
    lines: int
    produced: int
    raw_valid: int
    raw_quarantined: int
    outcomes: dict
    videos_checked: int
    mismatches: dict[str, tuple[int, int]]
    views: int
    seconds: dict = field(default_factory=dict)
    batch_watermark: str = ""
    batch_views: int = 0
    speed_views: int = 0
    audit_records: int = 0


def demo_settings(settings: Settings, namespace: str, out_dir: Path) -> Settings:
    return settings.replace(
        topic=f"{settings.topic}.{namespace}", dlq_topic=f"{settings.topic}.{namespace}.dlq",
        redis_prefix=namespace, raw_store=(out_dir / "raw").as_uri(),
        ingest_group=f"{settings.ingest_group}-{namespace}", speed_group=f"{settings.speed_group}-{namespace}",
        audit_store=(out_dir / "audit").as_uri(),
        ingest_metrics_port=0, speed_metrics_port=0)


def run_demo(settings: Settings, events: int, seed: int, out_root: Path,
             say: Callable[[str], None] = print) -> DemoSummary:
    from ingestion.metrics import SinkMetrics
    from ingestion.sink import RawSink, SinkConfig
    from speed_layer.counter import SpeedConfig, SpeedCounter
    from speed_layer.metrics import SpeedMetrics
    from viewcount.serving_store.base import StateTtls

    namespace = f"demo-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:4]}"
    out_dir = out_root / namespace
    s = demo_settings(settings, namespace, out_dir)
    seconds: dict[str, float] = {}
    clock = time.monotonic()

    def step(n: int, text: str) -> None:
        nonlocal clock
        say(f"[{n}/{STEPS}] {text}")
        clock = time.monotonic()

    def took(name: str) -> None:
        seconds[name] = round(time.monotonic() - clock, 2)

    step(1, "starting the local stack (Kafka KRaft, Redis AOF)")
    Stack(settings).up(CORE, progress=lambda line: say("      " + line))
    took("stack_up")

    step(2, f"creating topics {s.topic} and its dead-letter topic")
    admin = wiring.topic_admin(s)
    try:
        admin.ensure_topics(wiring.topic_specs(s))
    finally:
        admin.close()
    took("topics")

    step(3, f"generating {events} events (seed {seed}) into {out_dir}")
    end_ms = now_ms()
    traffic = generate(events, seed, out_dir, end_ms - 2 * DAY_MS, end_ms, s.rules, s.as_public_dict())
    took("generate")

    step(4, f"producing {traffic.lines} lines")
    producer = wiring.producer(s)
    try:
        with open(traffic.events_path, "rb") as stream:
            report = produce_lines(read_lines(stream), producer, s.topic,
                                   traffic.truth["generator"]["ingest_time_field"],
                                   progress=lambda n: say(f"      … {n} lines") if n % 50_000 == 0 else None)
    finally:
        producer.close()
    say(f"      sent {report.sent} in {report.seconds:.1f}s ({report.rate:,.0f}/s), {len(report.failed)} refused")
    took("produce")

    step(5, f"raw sink: {s.topic} → {s.raw_store}")
    consumer, dlq = wiring.consumer(s, group_id=s.ingest_group), wiring.producer(s)
    sink = RawSink(SinkConfig(s.topic, s.dlq_topic, s.ingest_flush_records, s.ingest_flush_age / 1000),
                   consumer, dlq, wiring.raw_store(s), SinkMetrics())
    try:
        sink.run(until_idle_s=2)
    finally:
        consumer.close()
        dlq.close()
    raw_valid = int(sink.metrics.records.labels("valid")._value.get())
    raw_quarantined = int(sink.metrics.records.labels("invalid")._value.get())
    say(f"      {raw_valid} rows in views/, {raw_quarantined} in quarantine/")
    took("raw_sink")

    step(6, f"speed layer: {s.topic} → Redis (prefix {namespace})")
    consumer = wiring.consumer(s, group_id=s.speed_group)
    store = wiring.serving_store(s)
    counter = SpeedCounter(SpeedConfig(s.topic, s.rules, StateTtls.for_rules(s.rules, s.speed_bucket_retention)),
                           consumer, store, SpeedMetrics())
    try:
        counter.run(until_idle_s=2)
    finally:
        consumer.close()
    took("speed_layer")

    step(7, f"batch layer: Spark ({s.spark_master}) recompute and publish")
    from audit.ledger import AuditLedger
    from batch_layer.job import run_batch, spark_session
    from batch_layer.publish import publish
    from batch_layer.watermark import safe_watermark

    admin = wiring.topic_admin(s)
    try:
        partitions = admin.partitions(s.topic)
    finally:
        admin.close()
    watermark = safe_watermark(wiring.raw_store(s), s.topic, partitions)
    spark = spark_session(s.spark_master, "viewcount-demo", driver_memory=s.spark_driver_memory)
    try:
        batch = run_batch(spark, wiring.raw_store(s), s.rules, watermark, s.topic,
                          max_invalid_share=s.batch_max_invalid_share)
    finally:
        spark.stop()
    ledger = AuditLedger(wiring.file_store(s, s.audit_store))
    record = publish(batch, store, ledger)
    say(f"      version {batch.version} at W {format_ms(watermark)}: {len(batch.totals)} videos; audit seq {record['seq']}")
    took("batch")

    step(8, "verifying the audit ledger")
    audit = ledger.verify()
    say(f"      intact: {audit.records} records, head {audit.head_hash[:16]}…")
    took("audit_verify")

    step(9, f"comparing every video's merged count (batch below W + speed from W) with {traffic.truth_path}")
    mismatches = {}
    batch_views = speed_views = 0
    for video, expected in traffic.truth["videos"].items():
        got = store.video_views(video)
        batch_views, speed_views = batch_views + got.batch_views, speed_views + got.speed_views
        if got.views != expected["views"] or got.creator_id != expected["creator_id"]:
            mismatches[video] = (got.views, expected["views"])
    took("compare")
    return DemoSummary(namespace, traffic.lines, report.sent, raw_valid, raw_quarantined,
                       traffic.truth["outcomes"], len(traffic.truth["videos"]), mismatches,
                       traffic.truth["total_views"], seconds, format_ms(watermark), batch_views, speed_views,
                       audit.records)
