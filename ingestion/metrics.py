"""Prometheus metrics of the raw sink, on a registry of its own (no process-wide globals)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server


UNPUBLISHED_REASONS = ("not_owner", "ownership_unconfirmed", "store_unavailable")


class SinkMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.records = Counter("viewcount_ingest_records_total", "Records written, by outcome",
                               ["outcome"], registry=r)
        self.files = Counter("viewcount_ingest_files_total", "Parquet files committed, by area",
                             ["area"], registry=r)
        self.bytes = Counter("viewcount_ingest_bytes_total", "Parquet bytes committed, by area",
                             ["area"], registry=r)
        self.flush_seconds = Histogram("viewcount_ingest_flush_seconds",
                                       "Time from sealing one range to its commit (encoding included)",
                                       buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10), registry=r)
        self.lag = Gauge("viewcount_ingest_consumer_lag", "Records behind the log end, by partition",
                         ["partition"], registry=r)
        self.progress_age = Gauge("viewcount_ingest_flush_progress_age_seconds",
                                  "Wall time minus the flushed-through ingest time, by partition",
                                  ["partition"], registry=r)
        self.dead_letters = Counter("viewcount_ingest_dead_letters_total",
                                    "Invalid records sent to the dead-letter topic", registry=r)
        self.unpublished = Counter("viewcount_ingest_unpublished_ranges_total",
                                   "Ranges not committed, by reason: not_owner (the group coordinator refused this "
                                   "member's fence), ownership_unconfirmed (no coordinator answered), "
                                   "store_unavailable (the raw store refused a write); the partition is read again "
                                   "from what the store holds", ["reason"], registry=r)
        for reason in UNPUBLISHED_REASONS:
            self.unpublished.labels(reason)
        self.retention_gap = Counter("viewcount_ingest_retention_gap_records_total",
                                     "Records retention deleted before the raw sink stored them, accepted with "
                                     "--accept-gap", registry=r)

    def records_written(self, outcome: str) -> int:
        """Records written so far with ``outcome`` (``valid`` or ``invalid``)."""
        return int(self.registry.get_sample_value("viewcount_ingest_records_total", {"outcome": outcome}) or 0)

    def unpublished_ranges(self, reason: str) -> int:
        """Ranges not committed so far for ``reason`` (one of ``UNPUBLISHED_REASONS``)."""
        return int(self.registry.get_sample_value("viewcount_ingest_unpublished_ranges_total",
                                                  {"reason": reason}) or 0)

    def serve(self, port: int, host: str = "127.0.0.1") -> None:
        if port:
            start_http_server(port, addr=host, registry=self.registry)
