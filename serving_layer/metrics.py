"""Prometheus metrics of the API, on a registry of its own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class ServeMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.latency = Histogram(
            "viewcount_api_request_seconds", "Request latency by route template, method and status",
            ["route", "method", "status"], registry=self.registry,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 1))
        self.rate_limited = Counter("viewcount_api_rate_limited_total", "Requests answered 429",
                                    registry=self.registry)
        self.store_unavailable = Counter("viewcount_api_store_unavailable_total",
                                         "Requests answered 503 because Redis did not answer",
                                         registry=self.registry)
        self.batch_age = Gauge("viewcount_batch_watermark_age_seconds",
                               "Seconds between now and the published batch watermark W (set at each scrape)",
                               registry=self.registry)
