"""Prometheus metrics of the speed layer, on a registry of its own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from viewcount.rules import Outcome


class SpeedMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.records = Counter("viewcount_speed_records_total", "Records applied, by outcome",
                               ["outcome"], registry=r)
        for outcome in Outcome:
            self.records.labels(outcome.value)
        self.apply_seconds = Histogram("viewcount_speed_apply_seconds", "One atomic step (one partition's batch)",
                                       buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
                                       registry=r)
        self.freshness = Histogram("viewcount_speed_freshness_seconds",
                                   "Wall clock at apply minus the record's ingest time",
                                   buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60), registry=r)
        self.owner_mismatch = Counter("viewcount_speed_owner_mismatch_total",
                                      "Counted views naming a creator other than the video's first claim "
                                      "(CONTRACT §9; the batch report resolves the catalog too)", registry=r)
        self.expired = Counter("viewcount_speed_state_expired_total",
                               "Keys the steps dropped: dedup and cap state the partition's ingest time has "
                               "passed, buckets and claims the published watermark has passed", registry=r)
        self.rewinds = Counter("viewcount_speed_rewinds_total",
                               "Partitions rewound because Redis came back holding less than it had confirmed",
                               registry=r)
        self.retention_gap = Counter("viewcount_speed_retention_gap_records_total",
                                     "Records retention deleted before the speed layer applied them, accepted with "
                                     "--accept-gap (never counted)", registry=r)
        self.lag = Gauge("viewcount_speed_consumer_lag", "Records behind the log end, by partition",
                         ["partition"], registry=r)

    def records_applied(self) -> dict[Outcome, int]:
        """Records applied so far, by outcome."""
        return {o: int(self.registry.get_sample_value("viewcount_speed_records_total", {"outcome": o.value}) or 0)
                for o in Outcome}

    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        if port:
            start_http_server(port, addr=host, registry=self.registry)
