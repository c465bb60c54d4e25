"""Factories for raw-sink tests: a fresh topic with produced records, a sink, and a reader of
what the sink wrote."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingestion.metrics import SinkMetrics
from ingestion.sink import RawSink, SinkConfig
from app import wiring
from devtools.generate import generate
from adapters.kafka.seam import TopicSpec
from viewcount.rawdata import QUARANTINE_ROOT, VIEWS_ROOT
from viewcount.settings import Settings
from adapters.files.base import FileStore
from viewcount.timeutil import DAY_MS, now_ms
from tests.conftest import produce_traffic


@dataclass
class Scenario:
    settings: Settings          # topic, DLQ topic and raw store of this test only
    store: FileStore
    lines: list[bytes]
    truth: dict | None

    @property
    def group(self) -> str:
        return f"sink-{self.settings.topic}"

    def sink(self, flush_records: int = 2000, flush_age_s: float = 30.0, store: FileStore | None = None,
             instance: str | None = None, flush_bytes: int = 64 << 20, **consumer_config) -> tuple[RawSink, callable]:
        """A sink in the scenario's group; ``instance`` names it as a static member;
        ``consumer_config`` overrides the consumer's (``max_poll_interval_ms=…``)."""
        settings = self.settings if instance is None else self.settings.replace(kafka_group_instance_id=instance)
        consumer = wiring.consumer(settings, group_id=self.group, **consumer_config)
        producer = wiring.producer(settings)
        config = SinkConfig(settings.topic, settings.dlq_topic, flush_records, flush_age_s, flush_bytes=flush_bytes)
        sink = RawSink(config, consumer, producer, store or self.store, SinkMetrics())

        def close():
            consumer.close()
            producer.close()

        return sink, close

    def run_sink(self, until_idle_s: float = 2.0, **kw) -> RawSink:
        sink, close = self.sink(**kw)
        try:
            sink.run(until_idle_s=until_idle_s)
        finally:
            close()
        return sink

    def produce(self, lines: list[bytes]) -> None:
        produce_traffic(self.settings, lines)


def read_area(store: FileStore, root: str) -> pa.Table | None:
    tables = [pq.read_table(pa.BufferReader(store.read(f.path))) for f in store.walk(root)
              if f.path.endswith(".parquet")]
    return pa.concat_tables(tables) if tables else None


def rows(store: FileStore, root: str = VIEWS_ROOT) -> list[dict]:
    table = read_area(store, root)
    return [] if table is None else table.to_pylist()


@pytest.fixture
def make_scenario(stack, stack_settings, tmp_path) -> Callable[..., Scenario]:
    """``make_scenario(events=N | lines=[...], store="local"|"hdfs", partitions=3, days=1.0, end_ms=now)``:
    generated traffic covers the ``days`` before ``end_ms``."""
    admin = wiring.topic_admin(stack_settings)

    def make(events: int | None = None, lines: list[bytes] | None = None, store: str = "local",
             partitions: int = 3, seed: int = 5, days: float = 1.0, end_ms: int | None = None,
             produce: bool = True) -> Scenario:
        name = f"raw-{uuid.uuid4().hex[:10]}"
        if store == "local":
            raw_url = (tmp_path / name).as_uri()
        else:
            raw_url = f"{stack_settings.hdfs_namenode}/tests/{name}"
        settings = stack_settings.replace(topic=name, dlq_topic=f"{name}.dlq", raw_store=raw_url,
                                          topic_partitions=partitions)
        # Kept long enough for traffic dated weeks back (a closed billing month) to be read.
        keep = {"retention.ms": str(60 * DAY_MS), "segment.ms": str(60 * DAY_MS)}
        admin.ensure_topics([TopicSpec(name, partitions, 1, keep), TopicSpec(f"{name}.dlq", partitions, 1, keep)])
        truth = None
        if events is not None:
            end = end_ms or now_ms()
            traffic = generate(events, seed, tmp_path / f"{name}-traffic", end - int(days * DAY_MS), end,
                               settings.rules, settings.as_public_dict())
            lines = traffic.events_path.read_bytes().split(b"\n")[:-1]
            truth = traffic.truth
        scenario = Scenario(settings, wiring.raw_store(settings), lines, truth)
        if produce:  # else the test sends the lines itself
            scenario.produce(lines)
        return scenario

    yield make
    admin.close()


def committed_files(store: FileStore) -> int:
    """How many range files of the views area are committed."""
    return sum(1 for f in store.walk(VIEWS_ROOT) if f.path.endswith(".parquet"))


def assert_exact(scenario: Scenario) -> tuple[list[dict], list[dict]]:
    """Every produced record is in exactly one file, once."""
    valid, quarantined = rows(scenario.store), rows(scenario.store, QUARANTINE_ROOT)
    seen = [(r["partition"], r["offset"]) for r in valid + quarantined]
    assert len(seen) == len(set(seen)), "a (partition, offset) was written twice"
    assert len(seen) == len(scenario.lines), f"{len(seen)} rows for {len(scenario.lines)} records"
    for p in {p for p, _ in seen}:
        offsets = sorted(o for q, o in seen if q == p)
        assert offsets == list(range(offsets[0], offsets[0] + len(offsets))), f"gap in partition {p}"
        assert offsets[0] == 0
    assert sorted(r["value"] for r in valid + quarantined) == sorted(scenario.lines)
    return valid, quarantined


def here() -> Path:
    return Path(__file__).parent
