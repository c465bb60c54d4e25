"""The main job on the local stack, end to end.

stack up → topics → a seeded stream reaching back into the last closed month (a backfill, sent
with its original ingest times) → produced → raw sink and speed layer run until caught up → batch
recompute and publish → the HTTP API's answer for every video compared with truth.json → live:
players send views through the HTTP collector, and the API's answers grow by exactly those →
billing for the closed month compared with truth.json → audit verify against the anchor topic.

Each run works in a namespace of its own (topic, Redis key prefix, raw and audit folders), so
runs never mix and the comparison is exact every time.
"""

from __future__ import annotations

import json
import secrets
import signal
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from app import wiring
from app.background import Background
from devtools.generate import generate
from ingestion.produce import produce_lines, read_lines
from viewcount.settings import Settings
from devtools.stack.manager import CLUSTER, CORE, Stack, cluster_settings
from viewcount.timeutil import DAY_MS, HOUR_MS, format_ms, now_ms, parse_rfc3339_ms

STEPS = 10
RATE_CARD = b'currency = "USD"\ndefault_rate_per_1000 = "2.50"\n[creators.creator_0001]\nrate_per_1000 = "4.00"\n'


@dataclass
class DemoSummary:
    namespace: str
    out_dir: Path
    lines: int = 0
    produced: int = 0
    raw_valid: int = 0
    raw_quarantined: int = 0
    outcomes: dict = field(default_factory=dict)
    views: int = 0
    forged_views: int = 0          # views naming another creator than the video's owner (truth.json)
    batch_watermark: str = ""
    batch_views: int = 0
    speed_views: int = 0
    videos_checked: int = 0
    mismatches: dict[str, tuple[int, int]] = field(default_factory=dict)
    freshness_s: float = 0.0
    period: str = ""
    payouts: int = 0
    payouts_total: str = ""
    payout_mismatches: dict[str, tuple[int, int]] = field(default_factory=dict)
    statement: str = ""
    audit_records: int = 0
    api_url: str = ""
    api_key: tuple[str, str] = ("", "")
    live_requests: int = 0
    live_events: int = 0
    live_resent: int = 0
    live_invalid: int = 0
    live_mismatches: dict[str, tuple[int, int]] = field(default_factory=dict)
    collector_url: str = ""
    write_key: str = ""
    cluster: dict = field(default_factory=dict)    # the settings that point at the cluster, when on one
    seconds: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return (self.raw_valid + self.raw_quarantined == self.produced == self.lines
                and not self.mismatches and not self.payout_mismatches and not self.live_mismatches
                and self.live_events > 0)


def demo_settings(settings: Settings, namespace: str, out_dir: Path) -> Settings:
    return settings.replace(
        topic=f"{settings.topic}.{namespace}", dlq_topic=f"{settings.topic}.{namespace}.dlq",
        redis_prefix=namespace, raw_store=(out_dir / "raw").as_uri(), audit_store=(out_dir / "audit").as_uri(),
        audit_topic=f"{settings.audit_topic}.{namespace}",   # one anchor per ledger
        ingest_group=f"{settings.ingest_group}-{namespace}", speed_group=f"{settings.speed_group}-{namespace}",
        # the backfill reaches weeks back: keep it on the topic until both sinks have read it
        topic_retention=max(settings.topic_retention, 60 * DAY_MS),
        admin_token=settings.admin_token or secrets.token_hex(24),
        api_keys_file=str(out_dir / "api-keys.json"), rate_card=str(out_dir / "rates.toml"),
        collector_keys_file=str(out_dir / "write-keys.json"),
        collector_ip_hmac_key=settings.collector_ip_hmac_key or secrets.token_hex(24))


class _Layers:
    """The raw sink and the speed layer, each in its own consumer group, running at once on two
    threads of this process; :meth:`stop` ends both cleanly (the sink flushes what it holds)."""

    def __init__(self, s: Settings, until_idle_s: float | None) -> None:
        from ingestion.metrics import SinkMetrics
        from speed_layer.metrics import SpeedMetrics

        self.sink_metrics = SinkMetrics()
        self._layers = [wiring.raw_sink(s, self.sink_metrics), wiring.speed_counter(s, SpeedMetrics())]
        self._workers = [Background(layer.run, name=name, until_idle_s=until_idle_s)
                         for layer, name in zip(self._layers, ("raw-sink", "speed-layer"))]

    def stop(self) -> None:
        for layer in self._layers:
            layer.stop()

    def join(self) -> None:
        for worker in self._workers:
            worker.join()


def _get(url: str, token: str) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def run_demo(settings: Settings, events: int, seed: int, out_root: Path, say: Callable[[str], None] = print,
             api_port: int = 0, keep_running: bool = False, cluster: bool = False,
             on_summary: Callable[[DemoSummary], None] | None = None) -> DemoSummary:
    """Run the main job; ``on_summary`` gets the result before ``keep_running`` serves on. With
    ``cluster``, on 3 Kafka brokers (topics of 3 replicas) and a Redis Cluster of 6 nodes."""
    from adapters.files.keyfile import write_json_0600
    from serving_layer.auth import key_digest, new_api_key
    from serving_layer.server import ApiServer

    namespace = f"demo-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{uuid.uuid4().hex[:4]}"
    out_dir = out_root / namespace
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = DemoSummary(namespace, out_dir, cluster=cluster_settings(settings) if cluster else {})
    s = demo_settings(settings.replace(**summary.cluster), namespace, out_dir)
    clock = time.monotonic()

    def step(n: int, text: str) -> None:
        nonlocal clock
        say(f"[{n}/{STEPS}] {text}")
        clock = time.monotonic()

    def took(name: str) -> None:
        summary.seconds[name] = round(time.monotonic() - clock, 2)

    if cluster:
        step(1, "starting the local cluster (3 Kafka brokers, a Redis Cluster of 3 masters and 3 replicas)")
    else:
        step(1, "starting the local stack (Kafka KRaft, Redis AOF)")
    Stack(settings).up(CLUSTER if cluster else CORE, progress=lambda line: say("      " + line))
    took("stack_up")

    step(2, f"creating topics {s.topic} and its dead-letter topic")
    admin = wiring.topic_admin(s)
    try:
        admin.ensure_topics(wiring.topic_specs(s))
    finally:
        admin.close()
    took("topics")

    end_ms = now_ms()
    from billing.period import Period

    period = Period.latest_closed(end_ms - HOUR_MS, s.max_event_age, s.max_clock_skew)
    start_ms = period.end_ms - 2 * DAY_MS
    step(3, f"generating {events:,} events (seed {seed}) from {format_ms(start_ms)} to now: the last two days of "
            f"{period} (a closed month, backfilled) up to the present")
    traffic = generate(events, seed, out_dir, start_ms, end_ms, s.rules, s.as_public_dict())
    summary.lines, summary.outcomes, summary.views = traffic.lines, traffic.truth["outcomes"], traffic.truth["total_views"]
    summary.forged_views = traffic.truth["owner_mismatch"]
    took("generate")

    step(4, f"producing {traffic.lines:,} lines, then running the raw sink ({s.raw_store}) and the speed layer "
            f"until both have caught up")
    producer = wiring.producer(s)
    try:
        with open(traffic.events_path, "rb") as stream:
            report = produce_lines(read_lines(stream), producer, s.topic,
                                   traffic.truth["generator"]["ingest_time_field"],
                                   progress=lambda n: say(f"      … {n:,} lines sent") if n % 50_000 == 0 else None)
    finally:
        producer.close()
    summary.produced = report.sent
    say(f"      sent {report.sent:,} in {report.seconds:.1f}s ({report.rate:,.0f}/s), {len(report.failed)} refused")
    layers = _Layers(s, until_idle_s=2)
    layers.join()
    summary.raw_valid = layers.sink_metrics.records_written("valid")
    summary.raw_quarantined = layers.sink_metrics.records_written("invalid")
    say(f"      raw store: {summary.raw_valid:,} rows in views/, {summary.raw_quarantined:,} in quarantine/; "
        f"speed layer caught up")
    took("produce_and_sinks")

    step(5, f"batch layer: Spark ({s.spark_master}) recompute below the safe watermark, checks, publish")
    from app.batch_operations import recompute
    from batch_layer.publish import publish

    batch = recompute(s)
    with wiring.audit_ledger(s) as ledger:
        record = publish(batch, wiring.batch_views(s), ledger)
    summary.batch_watermark = format_ms(batch.watermark_ms)
    say(f"      version {batch.version} at W {summary.batch_watermark}: {batch.videos:,} videos; "
        f"audit seq {record['seq']}")
    say(f"      data checks passed; Data Docs: {batch.data_docs}")
    took("batch")

    step(6, "starting the HTTP API and asking it for every video")
    creator = sorted({v["creator_id"] for v in traffic.truth["videos"].values()})[0]
    key = new_api_key()
    write_json_0600(s.api_keys_file, {key_digest(key): creator})
    summary.api_key = (creator, key)
    server = ApiServer(wiring.api_app(s), s.serve_host, api_port or _free_port()).start()
    summary.api_url = server.url
    collector, collector_clients = None, []
    try:
        for n, (video, expected) in enumerate(traffic.truth["videos"].items(), start=1):
            got = _get(f"{server.url}/v1/videos/{video}/views", s.admin_token)
            summary.batch_views += got["batch_views"]
            summary.speed_views += got["speed_views"]
            if got["views"] != expected["views"] or got["creator_id"] != expected["creator_id"]:
                summary.mismatches[video] = (got["views"], expected["views"])
            if got["as_of"]:
                summary.freshness_s = max(summary.freshness_s, (now_ms() - parse_rfc3339_ms(got["as_of"])) / 1000)
            if n % 1000 == 0:
                say(f"      … {n:,} videos checked")
        summary.videos_checked = len(traffic.truth["videos"])
        took("api_compare")

        step(7, "live: players send views through the HTTP collector → Kafka → raw sink and speed layer → API")
        from app.demo_live import live_views, send_as_players

        summary.write_key = secrets.token_urlsafe(32)
        write_json_0600(s.collector_keys_file, {key_digest(summary.write_key): "demo-player"})
        collector_app, collector_clients = wiring.collector_app(s)
        collector = ApiServer(collector_app, s.collector_host, _free_port()).start()
        summary.collector_url = collector.url
        live = send_as_players(collector.url, summary.write_key,
                               live_views(traffic.truth["videos"], max(100, min(2000, events // 10)), seed))
        summary.live_requests, summary.live_events = live.requests, live.events
        summary.live_resent, summary.live_invalid = live.resent_events, live.invalid
        say(f"      {live.requests} requests to {collector.url}/v1/events, 202 each: {live.events:,} views of "
            f"{len(live.by_video)} videos, {live.resent_events} of them sent twice, {live.invalid} invalid line")
        _Layers(s, until_idle_s=2).join()
        for video, n in sorted(live.by_video.items()):
            got = _get(f"{server.url}/v1/videos/{video}/views", s.admin_token)["views"]
            if got != traffic.truth["videos"][video]["views"] + n:
                summary.live_mismatches[video] = (got, traffic.truth["videos"][video]["views"] + n)
        say(f"      the API's answers grew by exactly the views sent: {not summary.live_mismatches}")
        took("live")

        step(8, f"billing {period} (closed at W {summary.batch_watermark}) and comparing payouts with the truth")
        Path(s.rate_card).write_bytes(RATE_CARD)
        from app.billing_operations import monthly_billing, summary as billing_summary

        outcome = monthly_billing(s).run(period)
        done = billing_summary(outcome)
        expected_views = {c: m["months"][str(period)] for c, m in traffic.truth["creators"].items()
                          if m["months"].get(str(period))}
        paid = {line.entry.creator_id: line.entry.views for line in outcome.lines}
        summary.payout_mismatches = {c: (paid.get(c, 0), n) for c, n in expected_views.items() if paid.get(c, 0) != n}
        summary.payout_mismatches.update({c: (n, 0) for c, n in paid.items() if c not in expected_views})
        summary.period, summary.payouts, summary.payouts_total = str(period), len(outcome.lines), done["amount"]
        summary.statement = outcome.statement_csv
        say(f"      {len(outcome.written)} payouts, {done['amount']} USD; statement {summary.statement}")
        took("billing")

        step(9, "verifying the audit ledger against its anchor topic")
        with wiring.audit_ledger(s) as ledger:
            audit = ledger.verify_anchored()
        summary.audit_records = audit.records
        say(f"      intact, every record anchored in {s.audit_topic}: {audit.records} records, head seq "
            f"{audit.head_seq} {audit.head_hash[:16]}…")
        took("audit_verify")

        step(10, "done" + (": the API, the collector, the raw sink and the speed layer keep running (Ctrl-C "
                           "stops them)" if keep_running else ""))
        if on_summary is not None:
            on_summary(summary)
        if keep_running:
            _keep_running(s, server, summary, say)
    finally:
        if collector is not None:
            collector.stop()
        for client in collector_clients:
            client.close()
        server.stop()
    return summary


def _keep_running(s: Settings, server, summary: DemoSummary, say: Callable[[str], None]) -> None:
    """Serve, collect, count and store live traffic until Ctrl-C or SIGTERM; then stop the layers
    cleanly."""
    say(f"      API {server.url}  dashboard {server.url}/dashboard/  metrics {server.url}/metrics")
    say(f"      send views: curl -H 'Authorization: Bearer {summary.write_key}' -H 'Content-Type: "
        f"application/x-ndjson' --data-binary @views.ndjson {summary.collector_url}/v1/events")
    say(f"      player snippet: {summary.collector_url}/static/viewcount-beacon.js")
    say(f"      or produce: VIEWCOUNT_TOPIC={s.topic} viewcount produce FILE")
    layers = _Layers(s, until_idle_s=None)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.wait()
    except KeyboardInterrupt:
        say("      stopping: the raw sink flushes what it holds, the speed layer settles its steps")
    finally:
        signal.signal(signal.SIGTERM, previous)
        layers.stop()
        layers.join()
        say("      stopped")


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
