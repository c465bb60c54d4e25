"""The batch recompute: rules over every record ingested before W, as a new immutable version;
from the published version's state and the records ingested since its W when it allows.

    batch/v1/version={version}/video_hourly/event_day={day}/   (video_id, event_hour, views)
    batch/v1/version={version}/video_totals/    (video_id, creator_id, views): creator_id is the first claim
    batch/v1/version={version}/creator_daily/   (creator_id, event_day, views) by first claim
    batch/v1/version={version}/video_hour_claims/event_day={day}/   (video_id, event_hour, creator_id, views) by named creator
    batch/v1/version={version}/state/dedup/, state/caps/   the rules' state at W (batch_layer.incremental)
    batch/v1/version={version}/changes/         (video_id, event_hour, views) added over the version it was computed over
    batch/v1/version={version}/_manifest.json   W, inputs with sizes and checksums, outcomes, mode, days, …

The views kept by event day list, in the manifest's ``days``, the version that holds each day: a
run from a base writes only the days its new records count views in (batch_layer.aggregate).
    batch/v1/version={version}/_owner_mismatch.json   video → counted views naming another owner (§9)

Ownership (CONTRACT §9): a video's ``creator_id`` here is its first claim, the creator named by
its counted view of lowest offset. Billing resolves the catalog over it at billing time; the
owner-mismatch report resolves the catalog as it stood when the version was computed.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone

from batch_layer.exceptions import BatchError
from batch_layer.spark_conf import session_conf
from expectations.runner import DataDocs
from batch_layer.aggregate import claims_of, day_column, from_nothing, over_base
from batch_layer.incremental import CAP_STATE, CLAIMS_COLUMNS, DEDUP_STATE, Base, find_base, new_files
from batch_layer.version_views import VersionFiles, VersionFrames, VersionViews, read_dirs
from batch_layer.inputs import digests_in, fingerprint, input_files, input_ranges, read_manifest
from batch_layer.spark_rules import RuleStateFrames, classify_with_state
from viewcount import __version__
from viewcount.rawdata import (CHANGES, CLAIMS, CREATOR_DAILY, QUARANTINE_ROOT, VIDEO_HOURLY, VIDEO_TOTALS, VIEWS_ROOT,
                              overlaps, version_dir, view_dirs)
from viewcount.rules import RULES_VERSION, Outcome, RuleSettings
from adapters.files.base import FileStore
from viewcount.ownership import Catalog, OwnershipMode, mismatched_views
from viewcount.timeutil import format_ms

logger = logging.getLogger(__name__)

OWNER_MISMATCH_FILE = "_owner_mismatch.json"
VERSION_ID = re.compile(r"[A-Za-z0-9._-]+")


def new_version_id(watermark_ms: int) -> str:
    w = datetime.fromtimestamp(watermark_ms / 1000, tz=timezone.utc)
    return f"w{w:%Y%m%dT%H}-{uuid.uuid4().hex[:8]}"


@dataclass
class BatchResult:
    version: str
    watermark_ms: int
    outcomes: dict[str, int]
    views: VersionViews                             # the written files; a dry run's DataFrames
    manifest: dict = field(default_factory=dict)
    checks: list = field(default_factory=list)      # expectations.runner.CheckReport
    checks_path: str = ""
    owner_mismatch: dict[str, int] = field(default_factory=dict)   # video → views naming another owner
    data_docs: str = ""                             # the Data Docs index that shows its checks, if built

    @property
    def videos(self) -> int:
        return self.manifest["videos"]

    @property
    def total_views(self) -> int:
        return self.manifest["views"]

    @property
    def checks_passed(self) -> bool:
        return all(c.success for c in self.checks)

    def failed_checks(self) -> str:
        from expectations.runner import describe_failed

        return describe_failed(self.checks)


@dataclass(frozen=True)
class ViewSummary:
    videos: int
    views: int
    rows: dict[str, int]        # view → rows


def run_batch(spark, store: FileStore, rules: RuleSettings, watermark_ms: int, topic: str,
              version: str | None = None, max_invalid_share: float = 0.05, write: bool = True,
              catalog: Catalog | None = None, ownership: OwnershipMode = OwnershipMode.FIRST_CLAIM,
              based_on: str | None = None, rehash: bool = False, data_docs: DataDocs | None = None,
              full: bool = False) -> BatchResult:
    """Recompute at W; with ``write=False`` nothing is written (a dry run sees the numbers only).
    ``based_on``: the version published when the computation began (``""``: none), kept in the
    manifest so the publish can refuse to roll a newer one back (None: not checked); unless
    ``full``, the run starts from it when it can (:mod:`batch_layer.incremental`) and reads only
    the records ingested since its W.
    ``catalog`` and ``ownership`` decide whom each counted view belongs to in the owner-mismatch
    report (CONTRACT §9). Raw files that the ``based_on`` version lists keep the digests it
    recorded, unless ``rehash``. With ``data_docs``, the data checks' results are kept in that Great
    Expectations project and its Data Docs show them."""
    from pyspark.sql import functions as F

    started = time.monotonic()
    phases = Phases()
    version = version or new_version_id(watermark_ms)
    if not VERSION_ID.fullmatch(version):
        raise BatchError(f"version id {version!r}: letters, digits, '.', '_' and '-' only "
                         f"(it names folders that Spark reads as path patterns)")
    based_manifest = read_manifest(store, based_on)    # read once: digests to reuse, and the base
    listing = input_files(store, watermark_ms, {} if rehash else digests_in(based_manifest))
    files = listing.files
    logger.info("batch inputs before W=%s: %d raw files, %d hashed now (%d bytes), %d digests reused from %s",
                format_ms(watermark_ms), len(files), listing.hashed, listing.hashed_bytes, listing.reused,
                based_on or "no version")
    if not any(f["path"].startswith(VIEWS_ROOT) for f in files):
        raise BatchError(f"no raw data ingested before {format_ms(watermark_ms)} under {store.url}")
    base = None if full else find_base(store, based_on, based_manifest, rules, topic, watermark_ms, files)
    phases.mark("inputs")
    views = read_records(spark, store, files, VIEWS_ROOT, topic, watermark_ms, base)
    overlapping = overlaps(input_ranges(files, topic))
    if overlapping:
        # Two files hold the same offsets (a member that flushed after losing its partition):
        # each record is read once, and the overlap is reported rather than halting the batch.
        logger.warning("raw files of %s overlap, each record read once: %s", topic,
                       ", ".join(f"partition {p} offsets {a}..{b}" for p, a, b in overlapping))
        views = views.dropDuplicates(["partition", "offset"])
    classified, state = classify_with_state(views, rules, watermark_ms,
                                            base.state(spark, store) if base is not None else None)
    classified = classified.cache()
    read = {r["outcome"]: r["count"] for r in classified.groupBy("outcome").count().collect()}
    # Read once whatever else holds a record too: a compaction that died before it deleted the
    # files it merged leaves quarantine records twice even where no views file overlaps.
    quarantine = read_records(spark, store, files, QUARANTINE_ROOT, topic, watermark_ms, base)
    if quarantine is not None:
        quarantine = quarantine.dropDuplicates(["partition", "offset"])
        read[Outcome.INVALID.value] = quarantine.count()
    outcomes = dict(read) if base is None else dict(Counter(base.manifest["outcomes"]) + Counter(read))
    counted = classified.where(F.col("outcome") == Outcome.COUNTED.value)
    phases.mark("classify")

    built = from_nothing(counted) if base is None else over_base(spark, store, base, counted)
    changes = changes_over(spark, store, based_on, based_manifest, base, counted, built.frames.hourly)

    days = None
    if write:
        days = write_version(store, version, built.hourly, built.totals, built.daily, built.claims, state, changes,
                             kept_days=built.kept_days)
        # What follows reads the version as written, not the plan that computed it.
        frames = VersionFrames.read(spark, store, version, days)
        named_df = read_dirs(spark, store, view_dirs(version, CLAIMS, days), CLAIMS_COLUMNS)
        phases.mark("write")
    else:
        # Kept by the executors (memory, then disk) as the summary below computes them: a dry run's
        # views stay readable after the raw files they came from change (a compaction).
        frames = VersionFrames(*(df.persist() for df in (built.frames.hourly, built.frames.totals, built.frames.daily)))
        named_df = built.named
    summary = view_summary(frames)
    mismatch = owner_mismatch_of(spark, named_df, frames.totals, catalog or Catalog(), ownership)
    classified.unpersist()
    phases.mark("summarize")
    distinct_events = views.select("video_id", "event_id").distinct().count() + (
        base.manifest.get("distinct_valid_events", 0) if base is not None else 0)
    checks, raw_partitions = data_checks(views, quarantine, frames, summary, outcomes, read, distinct_events,
                                         max_invalid_share, data_docs, version,
                                         base.manifest.get("raw_partitions") if base is not None else None)
    phases.mark("checks")

    manifest = {
        "version": version, "watermark": format_ms(watermark_ms), "watermark_ms": watermark_ms,
        "topic": topic, "rules": rules.__dict__, "rules_version": RULES_VERSION, "inputs": files, "raw_input_fingerprint": fingerprint(files),
        "inputs_hashed": {"files": listing.hashed, "bytes": listing.hashed_bytes},
        "mode": "full" if base is None else "incremental", "state": True,
        "records_read": sum(read.values()), "distinct_valid_events": distinct_events,
        "raw_partitions": raw_partitions,
        "outcomes": dict(sorted(outcomes.items())), "videos": summary.videos, "views": summary.views,
        **({"days": days} if days is not None else {}),
        "overlaps": [{"partition": p, "first_offset": a, "last_offset": b} for p, a, b in overlapping],
        **({"based_on": based_on} if based_on is not None else {}),
        **({"changes": {"over": based_on}} if changes is not None else {}),
        **({"incremental_from": {"version": base.version, "watermark": format_ms(base.watermark_ms)}}
           if base is not None else {}),
        "rows": summary.rows,
        "owner_mismatch": {"views": sum(mismatch.values()), "videos": len(mismatch),
                           "ownership": ownership.value, "catalog_assignments": len(catalog or ())},
        "code_version": __version__, "duration_s": round(time.monotonic() - started, 2),
        "phases_s": phases.seconds,
        "created_at": format_ms(int(time.time() * 1000)),
    }
    manifest["checks"] = {c.name: c.success for c in checks}
    if write:
        store.put(version_dir(version, OWNER_MISMATCH_FILE), json.dumps(dict(sorted(mismatch.items())), indent=1).encode())
    checks_path = write_manifest(store, version, manifest, checks) if write else ""
    logger.info("batch version %s at W=%s (%s, %d records read): %d videos in %.1fs", version, manifest["watermark"],
                manifest["mode"], manifest["records_read"], summary.videos, manifest["duration_s"])
    return BatchResult(version, watermark_ms, outcomes, VersionFiles(store, version, days) if write else frames, manifest,
                       checks, f"{store.url}/{checks_path}" if checks_path else "", mismatch,
                       data_docs.index.as_uri() if data_docs is not None else "")


class Phases:
    """Seconds spent in each phase of a run, in order, for the manifest."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.monotonic()

    def mark(self, name: str) -> None:
        now = time.monotonic()
        self.seconds[name] = round(now - self._last, 2)
        self._last = now


def read_records(spark, store: FileStore, files: list[dict], root: str, topic: str, watermark_ms: int,
                 base: Base | None):
    """The records of ``topic`` under ``root`` ingested before W; from a base, only those ingested
    from its W on, read from the files of those hours alone. None when no file can hold any."""
    from pyspark.sql import functions as F

    ts = lambda ms: F.lit(ms / 1000).cast("timestamp")  # noqa: E731
    # mergeSchema: files written before the headers column existed are read with it empty.
    reader = spark.read.option("mergeSchema", "true").option("basePath", f"{store.url}/{root}")
    if base is None:
        if not any(f["path"].startswith(root) for f in files):
            return None
        rows = reader.parquet(f"{store.url}/{root}")
    else:
        paths = new_files(files, root, base)
        if not paths:
            # Nothing ingested since the base: an empty step, with the views' columns.
            return reader.parquet(f"{store.url}/{root}").limit(0) if root == VIEWS_ROOT else None
        rows = reader.parquet(*(f"{store.url}/{p}" for p in paths)).where(F.col("ingest_time") >= ts(base.watermark_ms))
    return rows.where(F.col("ingest_time") < ts(watermark_ms)).where(F.col("topic") == topic)


def write_version(store: FileStore, version: str, hourly_df, totals_df, daily_df, named_df=None,
                  state: RuleStateFrames | None = None, changes=None,
                  kept_days: Mapping[str, str] = {}) -> dict[str, str]:
    """The version's views; with ``named_df`` and ``state``, what a next run may start from; with
    ``changes``, its views added over the version it was computed over. The hourly views and the
    claims are written by event day, for the days they hold; ``kept_days`` (event day → version)
    are the days other versions hold for this one. Returns the version's ``days``: both."""
    out = lambda name: f"{store.url}/{version_dir(version, name)}"  # noqa: E731
    by_day(hourly_df, ["video_id", "event_hour"]).parquet(out(VIDEO_HOURLY))
    totals_df.write.mode("error").parquet(out(VIDEO_TOTALS))
    daily_df.write.mode("error").parquet(out(CREATOR_DAILY))
    if named_df is not None and state is not None:
        by_day(named_df, ["video_id", "event_hour"]).parquet(out(CLAIMS))
        state.dedup.write.mode("error").parquet(out(DEDUP_STATE))
        state.caps.write.mode("error").parquet(out(CAP_STATE))
    if changes is not None:
        changes.write.mode("error").parquet(out(CHANGES))
    written = [name.split("=", 1)[1] for name in store.list_dirs(version_dir(version, VIDEO_HOURLY))
               if name.startswith("event_day=")]
    return dict(sorted({**kept_days, **{day: version for day in written}}.items()))


def by_day(df, order: list[str]):
    """A writer of ``df`` into one folder per event day, a file per day, its rows sorted by
    ``order`` (a publish loads a video's hours of a day in one command)."""
    return (df.withColumn("event_day", day_column()).repartition("event_day")
            .sortWithinPartitions("event_day", *order).write.mode("error").partitionBy("event_day"))


def changes_over(spark, store: FileStore, based_on: str | None, based_manifest: dict | None, base: Base | None,
                 counted, hourly_df):
    """Views per (video, event hour) this version adds over ``based_on``, the version it is
    computed over (none: None), what the publish compares with the speed layer (app.reconcile).
    From that base, they are this run's counted views alone; else the difference of the two
    versions' hourly views."""
    from pyspark.sql import functions as F

    if base is not None and base.version == based_on:
        return claims_of(counted).groupBy("video_id", "event_hour").agg(F.sum("views").alias("views"))
    if not based_on or based_manifest is None:
        return None
    old = (VersionFrames.read(spark, store, based_on, based_manifest.get("days")).hourly
           .withColumnRenamed("views", "old"))
    return (hourly_df.join(old, ["video_id", "event_hour"], "full_outer")
            .select("video_id", "event_hour",
                    (F.coalesce(F.col("views"), F.lit(0)) - F.coalesce(F.col("old"), F.lit(0))).alias("views"))
            .where(F.col("views") != 0))


def view_summary(frames: VersionFrames) -> ViewSummary:
    """Videos, views and rows of each view: aggregates, computed where the views are."""
    from pyspark.sql import functions as F

    totals = frames.totals.agg(F.count("*").alias("videos"), F.sum("views").alias("views")).first()
    return ViewSummary(totals["videos"], int(totals["views"] or 0),
                       {VIDEO_HOURLY: frames.hourly.count(), VIDEO_TOTALS: totals["videos"],
                        CREATOR_DAILY: frames.daily.count()})


def owner_mismatch_of(spark, named_df, totals_df, catalog: Catalog, ownership: OwnershipMode) -> dict[str, int]:
    """Per video, the counted views naming another creator than its owner (CONTRACT §9), by the
    one rule (:func:`viewcount.ownership.mismatched_views`). Only the rows that can mismatch reach
    the driver, a partition at a time: those of videos in the catalog, and those naming another
    creator than the video's first claim."""
    from pyspark.sql import functions as F

    rows = named_df.join(totals_df.select("video_id", F.col("creator_id").alias("first_claim")), "video_id")
    can_mismatch = (F.col("creator_id") != F.col("first_claim") if ownership is OwnershipMode.FIRST_CLAIM
                    else F.lit(False))
    if len(catalog):
        known = spark.createDataFrame([(v,) for v in sorted(catalog.videos())], "video_id string")
        rows = rows.join(F.broadcast(known.withColumn("in_catalog", F.lit(True))), "video_id", "left")
        can_mismatch = can_mismatch | F.col("in_catalog").isNotNull()
    candidates = rows.where(can_mismatch).select("video_id", "event_hour", "creator_id", "views", "first_claim")
    return mismatched_views(((r[0], int(r[1]), r[2], int(r[3]), r[4]) for r in candidates.toLocalIterator()),
                            catalog, ownership)


def write_manifest(store: FileStore, version: str, manifest: dict, checks: list) -> str:
    from expectations.runner import write_reports

    checks_path = write_reports(store, version_dir(version), checks)
    store.create_exclusive(version_dir(version, "_manifest.json"),
                           json.dumps(manifest, indent=1, sort_keys=True).encode())
    return checks_path


def data_checks(views, quarantine, frames: VersionFrames, summary: ViewSummary, outcomes, read, distinct_events,
                max_invalid_share,
                data_docs=None, run_name: str = "", carried_partitions: Mapping[str, Mapping[str, int]] | None = None,
                ) -> tuple[list, dict[str, dict[str, int]]]:
    """Great Expectations over the raw records this run read (``views``, ``quarantine``, their
    outcomes ``read``) and the version's views (``frames``, validated by Spark where they are, and
    their ``summary``, ``outcomes``), with the suites in expectations/json/; with ``data_docs``, kept in its project and shown in its Data
    Docs under ``run_name``. ``distinct_events``: distinct (video, event) read, summed over the
    runs the version was built from. ``carried_partitions``: the base version's raw records and
    invalid ones per partition, so that the invalid share is the whole master dataset's, as a full
    recompute checks it, not one hour's. Returns the checks and those counts with this run's added."""
    import pandas as pd
    from pyspark.sql import functions as F

    from expectations.runner import Checker

    per_partition = {r["partition"]: r for r in views.groupBy("partition").agg(
        F.count("*").alias("rows"), F.countDistinct("offset").alias("distinct_offsets"),
        F.sum(F.when(F.col("video_id").isNull() | F.col("event_id").isNull(), 1).otherwise(0)).alias("missing_ids"),
    ).collect()}
    invalid = ({r["partition"]: r["invalid"] for r in quarantine.groupBy("partition").agg(
        F.count("*").alias("invalid"), F.countDistinct("offset").alias("distinct")).collect()}
        if quarantine is not None else {})
    carried = {int(p): c for p, c in (carried_partitions or {}).items()}
    frame, partitions = [], {}
    for p in sorted(set(per_partition) | set(carried)):
        row, before = per_partition.get(p), carried.get(p, {"rows": 0, "invalid": 0})
        new_rows = (row["rows"] if row else 0) + invalid.get(p, 0)
        rows, bad = before["rows"] + new_rows, before["invalid"] + invalid.get(p, 0)
        partitions[str(p)] = {"rows": rows, "invalid": bad}
        frame.append({"partition": p, "rows": rows,
                      "distinct_offsets": before["rows"] + (row["distinct_offsets"] if row else 0) + invalid.get(p, 0),
                      "missing_ids": (row["missing_ids"] if row else 0) or 0,
                      "invalid_share": bad / rows if rows else 0.0})
    raw = pd.DataFrame(frame, columns=["partition", "rows", "distinct_offsets", "missing_ids", "invalid_share"])
    reconcile = pd.DataFrame([{
        "total_views": summary.views,
        "counted_records": outcomes.get(Outcome.COUNTED.value, 0),
        "distinct_valid_events": distinct_events,
        "raw_valid_rows": sum(r["rows"] for r in per_partition.values()),
        "classified_rows": sum(n for o, n in read.items() if o != Outcome.INVALID.value),
    }])
    with Checker(data_docs, run_name) as checker:
        return [
            checker.check("raw_schema", views.limit(0).toPandas()),
            checker.check("raw_batch", raw, {"max_invalid_share": max_invalid_share}),
            checker.check("batch_views", views_with_hourly_sums(frames)),
            checker.check("reconcile", reconcile),
        ], partitions


def views_with_hourly_sums(frames: VersionFrames):
    """One row per video: its views, first claim, and the sum of its hourly views (the
    ``batch_views`` suite's frame, as a Spark DataFrame)."""
    from pyspark.sql import functions as F

    sums = frames.hourly.groupBy("video_id").agg(F.sum("views").alias("hourly_sum"))
    return (frames.totals.join(sums, "video_id", "left")
            .select("video_id", "views", "creator_id", F.coalesce(F.col("hourly_sum"), F.lit(0)).alias("hourly_sum")))


def spark_session(master: str, app: str = "viewcount-batch", shuffle_partitions: int = 8,
                  driver_memory: str = "2g", conf: Mapping[str, str] = {}):
    """A session on ``master`` with the project's settings; ``conf``: the operator's
    (``SPARK_CONF``, see :mod:`batch_layer.spark_conf`)."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(master).appName(app)
    for key, value in session_conf(master, driver_memory, shuffle_partitions, conf).items():
        builder = builder.config(key, value)
    return builder.getOrCreate()
