"""Factories for speed-layer tests: a topic with generated traffic, a counter, and its answers."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass

import pytest

from speed_layer.counter import SpeedConfig, SpeedCounter
from speed_layer.metrics import SpeedMetrics
from app import wiring
from devtools.generate import compute_truth, generate
from adapters.kafka.seam import TopicSpec
from speed_layer.store import CountStore
from viewcount.settings import Settings
from viewcount.timeutil import DAY_MS, now_ms
from tests.conftest import produce_traffic


@dataclass
class SpeedScenario:
    settings: Settings        # own topic, own key prefix, own consumer group
    truth: dict
    lines: list[bytes]

    @property
    def group(self) -> str:
        return self.settings.speed_group

    def counter(self, store: CountStore | None = None, instance: str | None = None) -> tuple[SpeedCounter, callable]:
        """A counter in the scenario's group; ``instance`` names it as a static member."""
        settings = self.settings if instance is None else self.settings.replace(kafka_group_instance_id=instance)
        consumer = wiring.consumer(settings, group_id=self.group)
        config = SpeedConfig(settings.topic, settings.rules, settings.speed_bucket_retention)
        return SpeedCounter(config, consumer, store or wiring.count_store(settings), SpeedMetrics()), consumer.close

    def produce(self, lines: list[bytes]) -> None:
        produce_traffic(self.settings, lines)

    def run(self, until_idle_s: float = 2.0) -> SpeedCounter:
        counter, close = self.counter()
        try:
            counter.run(until_idle_s=until_idle_s)
        finally:
            close()
        return counter

    def process(self, *args: str, instance: str | None = None, env: dict[str, str] | None = None) -> subprocess.Popen:
        env = {**os.environ, **self.settings.to_env(), "VIEWCOUNT_SPEED_METRICS_PORT": "0", **(env or {})}
        if instance is not None:
            env["VIEWCOUNT_KAFKA_GROUP_INSTANCE_ID"] = instance
        return subprocess.Popen([sys.executable, "-m", "app", "speed", *args], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def mismatches(self) -> dict[str, tuple[int, int]]:
        """video → (speed layer, truth) for every video where they differ."""
        store = wiring.view_reader(self.settings)
        out = {}
        for video, expected in self.truth["videos"].items():
            got = store.video_views(video)
            if got.views != expected["views"] or got.creator_id != expected["creator_id"]:
                out[video] = (got.views, expected["views"])
        return out


@pytest.fixture
def make_speed_scenario(stack, stack_settings, tmp_path):
    admin = wiring.topic_admin(stack_settings)

    def make(events: int, partitions: int = 3, days: float = 1.0, seed: int = 9, produce: bool = True,
             **overrides) -> SpeedScenario:
        """``produce=False``: the traffic is generated but left to the test to send; ``events=0``:
        none is generated, the test writes its own lines."""
        name = f"speed-{uuid.uuid4().hex[:10]}"
        settings = stack_settings.replace(topic=name, dlq_topic=f"{name}.dlq", redis_prefix=name,
                                          speed_group=f"{name}-g", topic_partitions=partitions, **overrides)
        admin.ensure_topics([TopicSpec(name, partitions)])
        if not events:
            return SpeedScenario(settings, compute_truth([], settings.rules), [])
        end = now_ms()
        traffic = generate(events, seed, tmp_path / name, end - int(days * DAY_MS), end, settings.rules,
                           settings.as_public_dict())
        scenario = SpeedScenario(settings, traffic.truth, traffic.events_path.read_bytes().split(b"\n")[:-1])
        if produce:
            scenario.produce(scenario.lines)
        return scenario

    yield make
    admin.close()
