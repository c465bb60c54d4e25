"""The batch layer's operations as one call each, from settings: what `viewcount batch …` and the
Airflow DAGs run. Each builds its clients, does one step, and releases what it started."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date

from audit.kinds import BATCH_PUBLISH
from batch_layer.exceptions import ChecksFailed
from audit.kinds import HOLE_ACCEPTED
from batch_layer.exceptions import DatasetHole
from batch_layer.holes import Hole, accepted_holes, find_holes, require_no_holes
from viewcount import __version__
from batch_layer.job import BatchResult, run_batch, spark_session
from batch_layer.spark_conf import read_spark_conf
from batch_layer.versions import load_checks, load_result
from batch_layer.publish import publish
from batch_layer.replay import ReplayReport, replay_days
from batch_layer.watermark import check_watermark, safe_watermark
from app import wiring
from viewcount.rawdata import version_dir
from viewcount.settings import Settings
from viewcount.timeutil import format_ms

logger = logging.getLogger(__name__)


def topic_partitions(settings: Settings) -> list[int]:
    return wiring.topic_partition_ids(settings)


def safe_watermark_now(settings: Settings) -> int:
    """The latest W every partition's flush progress has passed."""
    return safe_watermark(wiring.raw_store(settings), settings.topic, topic_partitions(settings))


def require_no_holes_now(settings: Settings) -> None:
    """Refuse a master dataset whose stored offsets have a hole (CONTRACT §4), naming it; holes
    accepted in the ledger as lost do not count."""
    from audit.ledger import AuditLedger

    accepted = accepted_holes(AuditLedger(wiring.file_store(settings, settings.audit_store)).records(), settings.topic)
    require_no_holes(wiring.raw_store(settings), settings.topic, topic_partitions(settings), accepted)


def accept_hole(settings: Settings, hole: Hole, reason: str) -> dict:
    """Record, in the ledger, that ``hole`` is lost: it must be a hole now, and Kafka must no
    longer hold any of it (else it can be re-ingested, and is refused)."""
    store = wiring.raw_store(settings)
    with wiring.audit_ledger(settings) as ledger:
        accepted = accepted_holes(ledger.records(), settings.topic)
        current = find_holes(store, settings.topic, topic_partitions(settings), accepted)
        if not any(h.partition == hole.partition and h.first <= hole.first and hole.last <= h.last for h in current):
            listed = ", ".join(f"partition {h.partition} offsets {h.first}..{h.last}" for h in current) or "none"
            raise DatasetHole(f"partition {hole.partition} offsets {hole.first}..{hole.last} is not a hole of the "
                              f"master dataset (its holes now: {listed})")
        consumer = wiring.consumer(settings, client_id="viewcount-accept-hole")
        try:
            consumer.assign(settings.topic, [hole.partition])
            log_start = consumer.beginning_offsets([hole.partition])[hole.partition]
        finally:
            consumer.close()
        if log_start <= hole.last:
            raise DatasetHole(f"Kafka still holds offsets {max(hole.first, log_start)}..{hole.last} of partition "
                              f"{hole.partition}: re-ingest them (`{hole.replay_command()}`) rather than accept them")
        payload = {"topic": settings.topic, "partition": hole.partition, "first_offset": hole.first,
                   "last_offset": hole.last, "reason": reason, "log_start_offset": log_start}
        return ledger.append(HOLE_ACCEPTED, payload, {"code_version": __version__})


def recompute(settings: Settings, watermark_ms: int | None = None, rehash: bool = False,
              full: bool = False) -> BatchResult:
    """Recompute at W (default: the safe W) and write the version; nothing is published. Unless
    ``full``, start from the published version when it allows (its rule state, and the records
    ingested since its W). Raw files the published version lists keep their recorded digests
    unless ``rehash``."""
    require_no_holes_now(settings)
    safe = safe_watermark_now(settings)
    watermark = safe if watermark_ms is None else check_watermark(watermark_ms, safe)
    published = wiring.batch_views(settings).batch_pointer()    # what the version is computed over
    spark = spark_session(settings.spark_master, driver_memory=settings.spark_driver_memory,
                          conf=read_spark_conf(settings.spark_conf))
    try:
        return run_batch(spark, wiring.raw_store(settings), settings.rules, watermark, settings.topic,
                         max_invalid_share=settings.batch_max_invalid_share,
                         catalog=wiring.catalog(settings), ownership=settings.ownership_mode,
                         based_on=published[0] if published else "", rehash=rehash,
                         data_docs=wiring.data_docs(settings), full=full)
    finally:
        spark.stop()


def require_checks_passed(settings: Settings, version: str) -> dict:
    """The version's data checks, as its report says; raises :class:`ChecksFailed` if one failed.
    Reads the report only: the views are read once, by the publish that follows."""
    store = wiring.raw_store(settings)
    checks = load_checks(store, version)
    if not all(c.success for c in checks):
        from expectations.runner import describe_failed

        raise ChecksFailed(f"version {version}: {describe_failed(checks)} "
                           f"(report: {store.url}/{version_dir(version, '_checks.json')})")
    return {c.name: c.success for c in checks}


def publish_version(settings: Settings, version: str, kind: str = BATCH_PUBLISH,
                    extra: dict | None = None) -> dict:
    """Publish a written version unless a later watermark is already published (a late or
    re-run hourly interval must not move readers back). Returns what was done."""
    result = load_result(wiring.raw_store(settings), version)
    serving = wiring.batch_views(settings)
    pointer = serving.batch_pointer()
    if pointer is not None and kind == BATCH_PUBLISH and pointer[1] > result.watermark_ms:
        logger.info("not publishing %s (W %s): %s with W %s is newer", version, format_ms(result.watermark_ms),
                    *pointer[:1], format_ms(pointer[1]))
        return {"published": False, "version": version, "current": pointer[0]}
    with wiring.audit_ledger(settings) as ledger:
        record = publish(result, serving, ledger, kind=kind, extra=extra)
    done = {"published": True, "version": version, "audit_seq": record["seq"],
            "watermark": format_ms(result.watermark_ms)}
    if kind == BATCH_PUBLISH:
        from app.reconcile import reconcile_publish

        report = reconcile_publish(settings, result, pointer)
        done["batch_speed_differing_hours"] = None if report.skipped else len(report.differences)
    return done


def replay(settings: Settings, from_day: date, to_day: date, dry_run: bool,
           say: Callable[[str], None] = lambda line: None) -> ReplayReport:
    """Recompute the event days and write the merged version unless ``dry_run``; never publishes."""
    require_no_holes_now(settings)
    spark = spark_session(settings.spark_master, "viewcount-replay", driver_memory=settings.spark_driver_memory,
                          conf=read_spark_conf(settings.spark_conf))
    try:
        return replay_days(spark, wiring.raw_store(settings), wiring.batch_views(settings), settings.rules,
                           settings.topic, from_day, to_day, dry_run, say=say,
                           max_invalid_share=settings.batch_max_invalid_share,
                           catalog=wiring.catalog(settings), ownership=settings.ownership_mode)
    finally:
        spark.stop()
