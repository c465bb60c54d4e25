"""After a publish, the batch and the speed layer compared on the records both still hold (the
ones ingested between the previous watermark and the new one), per video and event hour. A
difference is logged naming the video and the hour, written to the version's data-quality
report (``_reconcile.json`` next to ``_checks.json``) and pushed as a metric that alerts; it never
blocks the publish."""

from __future__ import annotations

import json
import logging

from app import wiring
from app.batch_operations import topic_partitions
from batch_layer.job import BatchResult
from batch_layer.reconcile import REPORT_FILE, Reconciliation, compare
from batch_layer.version_views import VersionFiles
from viewcount.rawdata import version_dir
from viewcount.settings import Settings
from viewcount.timeutil import format_ms

logger = logging.getLogger(__name__)

PUSH_JOB = "viewcount_batch"
DIFFERENCES_GAUGE = "viewcount_batch_speed_differing_hours"
LISTED = 10   # differences named in the log line; the report lists them all


def reconcile_publish(settings: Settings, result: BatchResult, before: tuple[str, int] | None) -> Reconciliation:
    """Compare, report and push; ``before`` is the (version, W) published before ``result``."""
    report = _compare(settings, result, before)
    wiring.raw_store(settings).put(version_dir(result.version, REPORT_FILE),
                                   json.dumps(report.to_json(), indent=1).encode())
    if report.skipped:
        logger.info("batch and speed not compared for version %s: %s", result.version, report.skipped)
    elif report.differences:
        named = "; ".join(f"{d.video_id} hour {format_ms(d.event_hour_ms)}: batch {d.batch}, speed {d.speed}"
                          for d in report.differences[:LISTED])
        logger.warning("batch and speed differ on %d of %d hours of the records ingested %s..%s (version %s): %s%s",
                       len(report.differences), report.hours, format_ms(report.from_ms), format_ms(report.to_ms),
                       result.version, named, " …" if len(report.differences) > LISTED else "")
    else:
        logger.info("batch and speed agree on %d hours of %d videos ingested %s..%s (version %s)", report.hours,
                    report.videos, format_ms(report.from_ms), format_ms(report.to_ms), result.version)
    if settings.pushgateway and not report.skipped:
        _push(settings.pushgateway, settings.topic, len(report.differences))
    return report


def _compare(settings: Settings, result: BatchResult, before: tuple[str, int] | None) -> Reconciliation:
    watermark = result.watermark_ms
    if before is None:
        return Reconciliation(result.version, None, watermark, skipped="nothing was published before this version")
    previous, since = before
    if since >= watermark:
        return Reconciliation(result.version, since, watermark, skipped="the watermark did not move")
    counts, partitions = wiring.count_store(settings), topic_partitions(settings)
    behind = _speed_behind(settings, counts, partitions, watermark)
    if behind:
        return Reconciliation(result.version, since, watermark,
                              skipped=f"the speed layer has not applied every record ingested before "
                                      f"{format_ms(watermark)} on partitions {behind}")
    if result.manifest.get("changes", {}).get("over") != previous:
        return Reconciliation(result.version, since, watermark,
                              skipped=f"the version was not computed over {previous}, the version published before it")
    batch: dict[str, dict[int, int]] = {}
    for video, hour, views in VersionFiles(wiring.raw_store(settings), result.version).change_rows():
        batch.setdefault(video, {})[hour] = views
    speed = counts.views_ingested_between(settings.topic, partitions, since, watermark)
    return compare(result.version, since, watermark, batch, speed)


def _speed_behind(settings: Settings, counts, partitions: list[int], watermark: int) -> list[int]:
    """Partitions whose records ingested before W the speed layer has not all applied: its last
    applied record is older than W and the log holds more."""
    ingest, applied = counts.applied_ingest_times(settings.topic), counts.applied_offsets(settings.topic)
    consumer = wiring.consumer(settings, client_id="viewcount-reconcile")
    try:
        consumer.assign(settings.topic, partitions)
        ends = consumer.end_offsets(partitions)
    finally:
        consumer.close()
    return [p for p in partitions if ingest.get(p, -1) < watermark and applied.get(p, -1) < ends.get(p, 0) - 1]


def _push(gateway: str, topic: str, differing: int) -> None:
    from prometheus_client import CollectorRegistry, Gauge, pushadd_to_gateway

    registry = CollectorRegistry()
    Gauge(DIFFERENCES_GAUGE, "Hours (video, event hour) on which batch and speed differed after the last "
          "compared publish", registry=registry).set(differing)
    try:
        pushadd_to_gateway(gateway, job=PUSH_JOB, registry=registry, timeout=10, grouping_key={"topic": topic})
    except OSError:   # logged above; a gateway that is down must not fail a publish that succeeded
        logger.exception("could not push the batch/speed comparison to %s", gateway)
