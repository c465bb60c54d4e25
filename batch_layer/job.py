"""The batch recompute: rules over every record ingested before W, as a new immutable version.

    batch/v1/version={version}/video_hourly/    (video_id, event_hour, views)
    batch/v1/version={version}/video_totals/    (video_id, creator_id, views)
    batch/v1/version={version}/creator_daily/   (creator_id, event_day, views)
    batch/v1/version={version}/_manifest.json   W, inputs with sizes and checksums, outcomes, …
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

from batch_layer.exceptions import BatchError
from batch_layer.spark_rules import classify
from viewcount import __version__
from viewcount.rawdata import QUARANTINE_ROOT, VIEWS_ROOT, parse_hour_dir
from viewcount.rules import Outcome, RuleSettings
from viewcount.storage.base import FileStore
from viewcount.timeutil import format_ms

logger = logging.getLogger(__name__)

BATCH_ROOT = "batch/v1"


def new_version_id(watermark_ms: int) -> str:
    w = datetime.fromtimestamp(watermark_ms / 1000, tz=timezone.utc)
    return f"w{w:%Y%m%dT%H}-{uuid.uuid4().hex[:8]}"


@dataclass
class BatchResult:
    version: str
    watermark_ms: int
    outcomes: dict[str, int]
    totals: dict[str, tuple[int, str]]              # video → (views, owner)
    hourly: dict[str, dict[int, int]]               # video → event hour → views
    creator_daily: dict[tuple[str, str], int]       # (creator, YYYY-MM-DD) → views
    manifest: dict = field(default_factory=dict)


def input_files(store: FileStore, watermark_ms: int) -> list[dict]:
    """Every raw file of an ingest hour before W, with its size and SHA-256."""
    files = []
    for root in (VIEWS_ROOT, QUARANTINE_ROOT):
        for date_dir in store.list_dirs(root):
            for hour_dir in store.list_dirs(f"{root}/{date_dir}"):
                if parse_hour_dir(date_dir, hour_dir) >= watermark_ms:
                    continue
                for info in store.list(f"{root}/{date_dir}/{hour_dir}"):
                    if info.path.endswith(".parquet"):
                        digest = hashlib.sha256(store.read(info.path)).hexdigest()
                        files.append({"path": info.path, "size": info.size, "sha256": digest})
    return sorted(files, key=lambda f: f["path"])


def fingerprint(files: list[dict]) -> str:
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()


def run_batch(spark, store: FileStore, rules: RuleSettings, watermark_ms: int, topic: str,
              version: str | None = None) -> BatchResult:
    from pyspark.sql import functions as F

    started = time.monotonic()
    version = version or new_version_id(watermark_ms)
    files = input_files(store, watermark_ms)
    if not any(f["path"].startswith(VIEWS_ROOT) for f in files):
        raise BatchError(f"no raw data ingested before {format_ms(watermark_ms)} under {store.url}")
    before_w = F.col("ingest_time") < F.lit(watermark_ms / 1000).cast("timestamp")
    views = spark.read.parquet(f"{store.url}/{VIEWS_ROOT}").where(before_w).where(F.col("topic") == topic)
    classified = classify(views, rules).cache()
    outcomes = {r["outcome"]: r["count"] for r in classified.groupBy("outcome").count().collect()}
    if any(f["path"].startswith(QUARANTINE_ROOT) for f in files):
        quarantine = spark.read.parquet(f"{store.url}/{QUARANTINE_ROOT}").where(before_w).where(F.col("topic") == topic)
        outcomes[Outcome.INVALID.value] = quarantine.count()
    counted = classified.where(F.col("outcome") == Outcome.COUNTED.value)

    hourly_df = counted.groupBy("video_id", "event_hour").agg(F.count("*").alias("views"))
    totals_df = counted.groupBy("video_id").agg(
        F.count("*").alias("views"),
        F.max_by("creator_id", F.struct("partition", "offset")).alias("creator_id"))
    daily_df = (counted.withColumn("event_day", F.date_format(
        (F.col("event_ms") / 1000).cast("timestamp"), "yyyy-MM-dd"))
        .groupBy("creator_id", "event_day").agg(F.count("*").alias("views")))

    out = f"{store.url}/{BATCH_ROOT}/version={version}"
    hourly_df.write.mode("error").parquet(f"{out}/video_hourly")
    totals_df.write.mode("error").parquet(f"{out}/video_totals")
    daily_df.write.mode("error").parquet(f"{out}/creator_daily")

    totals = {r["video_id"]: (r["views"], r["creator_id"]) for r in totals_df.collect()}
    hourly: dict[str, dict[int, int]] = {}
    for r in hourly_df.collect():
        hourly.setdefault(r["video_id"], {})[int(r["event_hour"])] = r["views"]
    daily = {(r["creator_id"], r["event_day"]): r["views"] for r in daily_df.collect()}
    classified.unpersist()

    manifest = {
        "version": version, "watermark": format_ms(watermark_ms), "watermark_ms": watermark_ms,
        "topic": topic, "rules": rules.__dict__, "inputs": files, "raw_input_fingerprint": fingerprint(files),
        "outcomes": dict(sorted(outcomes.items())), "videos": len(totals),
        "rows": {"video_hourly": sum(len(h) for h in hourly.values()), "video_totals": len(totals),
                 "creator_daily": len(daily)},
        "code_version": __version__, "duration_s": round(time.monotonic() - started, 2),
        "created_at": format_ms(int(time.time() * 1000)),
    }
    store.create_exclusive(f"{BATCH_ROOT}/version={version}/_manifest.json",
                           json.dumps(manifest, indent=1, sort_keys=True).encode())
    logger.info("batch version %s at W=%s: %d videos in %.1fs", version, manifest["watermark"], len(totals),
                manifest["duration_s"])
    return BatchResult(version, watermark_ms, outcomes, totals, hourly, daily, manifest)


def spark_session(master: str, app: str = "viewcount-batch"):
    from pyspark.sql import SparkSession

    return (SparkSession.builder.master(master).appName(app)
            .config("spark.ui.enabled", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", "8")
            .getOrCreate())
