"""CONTRACT §2 as a Spark plan, built from the shared rule definition.

Each column below is the Spark form of one predicate of :mod:`viewcount.rules`, with the numbers
taken from the same :class:`~viewcount.rules.RuleSettings`; the tests run the plan and the pure
rules over the same records and demand identical outcomes. Records are ordered by (partition,
offset) within a video, which is ingest order (a video lives in one partition).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from viewcount.rules import Outcome, RuleSettings
from viewcount.timeutil import HOUR_MS

DEDUP_STATE_COLUMNS = "video_id string, event_id string, last_ingest_ms long, fingerprint binary"
CAP_STATE_COLUMNS = "video_id string, viewer_id string, event_hour long, counted long"


@dataclass(frozen=True)
class RuleStateFrames:
    """What the rules remember at W, as the reference's :class:`~viewcount.rules.RuleState` does:
    ``dedup`` (video_id, event_id, last_ingest_ms, fingerprint of the kept record) for every
    (video, event) a record ingested at or after W can still be a duplicate of, and ``caps``
    (video_id, viewer_id, event_hour, counted) for every event hour such a record can still be
    in. Records ingested from W on are classified from these alone, without older records."""

    dedup: Any
    caps: Any


def classify(valid_rows, rules: RuleSettings, carried: RuleStateFrames | None = None):
    """Valid rows (the views/ columns, ``ingest_time`` and ``event_time`` as timestamps) →
    the same rows with ``outcome`` (an :class:`Outcome` value) and ``event_hour`` (ms).
    ``carried``: the state at the W the rows start from (None: the rows start the stream)."""
    return _plan(valid_rows, rules, carried)[0]


def classify_with_state(valid_rows, rules: RuleSettings, watermark_ms: int,
                        carried: RuleStateFrames | None = None):
    """:func:`classify`, and the rule state at ``watermark_ms`` (every row is ingested before it)."""
    from pyspark.sql import functions as F

    classified, in_time, counted = _plan(valid_rows, rules, carried)
    # The latest in-time record of each (video, event) and its chain's kept fingerprint; only
    # entries a record ingested from W on can still be within the dedup window of.
    last = F.max_by(F.struct("ingest_ms", "kept_fingerprint"), F.struct("partition", "offset"))
    dedup = (in_time.groupBy("video_id", "event_id").agg(last.alias("last"))
             .select("video_id", "event_id", F.col("last.ingest_ms").alias("last_ingest_ms"),
                     F.col("last.kept_fingerprint").alias("fingerprint"))
             .where(F.col("last_ingest_ms") >= F.lit(watermark_ms - rules.dedup_window_ms)))
    # Caps of event hours that rule 2 still admits a record of, from W on.
    counts = counted.groupBy("video_id", "viewer_id", "event_hour").agg(F.count("*").alias("counted"))
    if carried is not None:
        counts = (counts.unionByName(carried.caps)
                  .groupBy("video_id", "viewer_id", "event_hour").agg(F.sum("counted").alias("counted")))
    caps = counts.where(F.col("event_hour") + F.lit(HOUR_MS - 1) >= F.lit(watermark_ms - rules.max_event_age_ms))
    return classified, RuleStateFrames(dedup, caps)


def _plan(valid_rows, rules: RuleSettings, carried: RuleStateFrames | None):
    """(classified rows, in-time rows with their chain's ``kept_fingerprint``, counted rows)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    ms = lambda col: F.col(col).cast("double").__mul__(1000).cast("long")  # noqa: E731 - timestamp → epoch ms
    rows = (valid_rows
            .withColumn("ingest_ms", ms("ingest_time"))
            .withColumn("event_ms", ms("event_time"))
            .withColumn("event_hour", F.col("event_ms") - F.pmod(F.col("event_ms"), F.lit(3_600_000))))

    # Step 2: time_outcome.
    too_old = F.col("event_ms") < F.col("ingest_ms") - F.lit(rules.max_event_age_ms)
    from_future = F.col("event_ms") > F.col("ingest_ms") + F.lit(rules.max_clock_skew_ms)
    rows = rows.withColumn("time_outcome", F.when(too_old, Outcome.TOO_OLD.value)
                           .when(from_future, Outcome.FROM_FUTURE.value))
    in_time = rows.where(F.col("time_outcome").isNull())
    rejected = rows.where(F.col("time_outcome").isNotNull()).withColumn("outcome", F.col("time_outcome"))

    # Step 3: is_duplicate against the latest earlier in-time record of the same (video, event).
    # A carried entry stands for the records before W: one row ahead of every record (partition
    # -1), ingested at the entry's last in-time ingest, holding its chain's kept fingerprint.
    order = ["partition", "offset"]
    by_event = Window.partitionBy("video_id", "event_id").orderBy(*order)
    in_time = in_time.withColumn("carried", F.lit(False))
    if carried is not None:
        in_time = in_time.unionByName(
            carried.dedup.select("video_id", "event_id", F.col("last_ingest_ms").alias("ingest_ms"),
                                 "fingerprint", F.lit(-1).cast("int").alias("partition"),
                                 F.lit(-1).cast("long").alias("offset"), F.lit(True).alias("carried")),
            allowMissingColumns=True)
    in_time = (in_time
               .withColumn("prev_ingest_ms", F.lag("ingest_ms").over(by_event))
               .withColumn("duplicate", F.col("prev_ingest_ms").isNotNull()
                           & (F.col("ingest_ms") - F.col("prev_ingest_ms") <= F.lit(rules.dedup_window_ms)))
               # A chain starts at each kept record; a duplicate is compared with its chain's first.
               .withColumn("chain", F.sum(F.when(F.col("duplicate"), 0).otherwise(1))
                           .over(by_event.rowsBetween(Window.unboundedPreceding, Window.currentRow)))
               .withColumn("kept_fingerprint", F.first("fingerprint").over(
                   Window.partitionBy("video_id", "event_id", "chain").orderBy(*order))))
    records = in_time.where(~F.col("carried"))
    duplicates = records.where("duplicate").withColumn(
        "outcome", F.when(F.col("fingerprint") == F.col("kept_fingerprint"), Outcome.DUPLICATE.value)
        .otherwise(Outcome.CONFLICTING.value))
    kept = records.where(~F.col("duplicate"))

    # Step 4: qualifies.
    unqualified = kept.where(F.col("watch_ms") < F.lit(rules.min_watch_ms)) \
        .withColumn("outcome", F.lit(Outcome.UNQUALIFIED.value))
    qualified = kept.where(F.col("watch_ms") >= F.lit(rules.min_watch_ms))

    # Step 5: under_cap, in ingest order per (video, viewer, event hour).
    # Views counted before W in the same cap come first.
    cap_key = ["video_id", "viewer_id", "event_hour"]
    by_cap = Window.partitionBy(*cap_key).orderBy(*order)
    nth = F.row_number().over(by_cap)
    if carried is not None:
        qualified = qualified.join(carried.caps, cap_key, "left")
        nth = nth + F.coalesce(F.col("counted"), F.lit(0))
    capped = qualified.withColumn("nth", nth).withColumn(
        "outcome", F.when(F.col("nth") <= F.lit(rules.max_views_per_viewer_hour), Outcome.COUNTED.value)
        .otherwise(Outcome.CAPPED.value))

    columns = ["partition", "offset", "video_id", "event_id", "creator_id", "viewer_id", "event_ms",
               "event_hour", "ingest_ms", "outcome"]
    classified = (rejected.select(*columns).unionByName(duplicates.select(*columns))
                  .unionByName(unqualified.select(*columns)).unionByName(capped.select(*columns)))
    counted = capped.where(F.col("outcome") == Outcome.COUNTED.value).select(*cap_key)
    return classified, in_time, counted
