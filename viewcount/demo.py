"""The main job on the local stack, end to end, as far as the pipeline reaches today:
stack up → topics → generated traffic → produce → read the topic back and check it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from viewcount import wiring
from viewcount.generate import generate
from viewcount.kafka.seam import RecordConsumer
from viewcount.produce import produce_lines, read_lines
from viewcount.settings import Settings
from viewcount.stack.manager import CORE, Stack
from viewcount.timeutil import DAY_MS, now_ms


@dataclass
class DemoSummary:
    lines: int
    produced: int
    read_back: int
    partitions: int
    outcomes: dict
    views: int
    videos: int
    seconds: dict


def read_topic(consumer: RecordConsumer, topic: str, partitions: list[int],
               deadline_s: float = 60.0) -> int:
    """Count the records of ``topic`` from the beginning up to the end offsets seen at start."""
    consumer.assign(topic, partitions)
    ends = consumer.end_offsets(partitions)
    for p in partitions:
        consumer.seek(p, 0)
    seen = 0
    deadline = time.monotonic() + deadline_s
    while any(consumer.position(p) < ends[p] for p in partitions):
        if time.monotonic() > deadline:
            raise TimeoutError(f"reading {topic} back took longer than {deadline_s:.0f}s")
        for records in consumer.poll(1.0).values():
            seen += len(records)
    return seen


def run_demo(settings: Settings, events: int, seed: int, out_dir: Path,
             say: Callable[[str], None] = print) -> DemoSummary:
    seconds: dict[str, float] = {}

    def step(name: str, started: float) -> None:
        seconds[name] = round(time.monotonic() - started, 2)

    t = time.monotonic()
    say("[1/5] starting the local stack (Kafka KRaft, Redis AOF)")
    Stack(settings).up(CORE, progress=lambda line: say("      " + line))
    step("stack_up", t)

    t = time.monotonic()
    say("[2/5] creating topics")
    admin = wiring.topic_admin(settings)
    try:
        created = admin.ensure_topics(wiring.topic_specs(settings))
        partitions = admin.partitions(settings.topic)
    finally:
        admin.close()
    for name, new in created.items():
        say(f"      {name}: {'created' if new else 'exists'}")
    step("topics", t)

    t = time.monotonic()
    say(f"[3/5] generating {events} events (seed {seed}) into {out_dir}")
    end_ms = now_ms()
    traffic = generate(events, seed, out_dir, end_ms - 2 * DAY_MS, end_ms, settings.rules,
                       settings.as_public_dict())
    step("generate", t)

    t = time.monotonic()
    say(f"[4/5] producing {traffic.lines} lines to {settings.topic}")
    consumer = wiring.consumer(settings)
    try:
        before = sum(consumer_end(consumer, settings.topic, partitions).values())
    finally:
        consumer.close()
    producer = wiring.producer(settings)
    try:
        with open(traffic.events_path, "rb") as stream:
            report = produce_lines(read_lines(stream), producer, settings.topic,
                                   traffic.truth["generator"]["ingest_time_field"],
                                   progress=lambda n: say(f"      … {n} lines"))
    finally:
        producer.close()
    say(f"      sent {report.sent} in {report.seconds:.1f}s ({report.rate:,.0f}/s), "
        f"{len(report.failed)} refused")
    step("produce", t)

    t = time.monotonic()
    say(f"[5/5] reading {settings.topic} back")
    consumer = wiring.consumer(settings)
    try:
        total = read_topic(consumer, settings.topic, partitions)
    finally:
        consumer.close()
    step("read_back", t)
    return DemoSummary(
        lines=traffic.lines, produced=report.sent, read_back=total - before,
        partitions=len(partitions), outcomes=traffic.truth["outcomes"],
        views=traffic.truth["total_views"], videos=len(traffic.truth["videos"]), seconds=seconds,
    )


def consumer_end(consumer: RecordConsumer, topic: str, partitions: list[int]) -> dict[int, int]:
    consumer.assign(topic, partitions)
    return consumer.end_offsets(partitions)
