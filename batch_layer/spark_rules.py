"""CONTRACT §2 as a Spark plan, built from the shared rule definition.

Each column below is the Spark form of one predicate of :mod:`viewcount.rules`, with the numbers
taken from the same :class:`~viewcount.rules.RuleSettings`; the tests run the plan and the pure
rules over the same records and demand identical outcomes. Records are ordered by (partition,
offset) within a video, which is ingest order (a video lives in one partition).
"""

from __future__ import annotations

from viewcount.rules import Outcome, RuleSettings


def classify(valid_rows, rules: RuleSettings):
    """Valid rows (the views/ columns, ``ingest_time`` and ``event_time`` as timestamps) →
    the same rows with ``outcome`` (an :class:`Outcome` value) and ``event_hour`` (ms)."""
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
    order = ["partition", "offset"]
    by_event = Window.partitionBy("video_id", "event_id").orderBy(*order)
    in_time = (in_time
               .withColumn("prev_ingest_ms", F.lag("ingest_ms").over(by_event))
               .withColumn("duplicate", F.col("prev_ingest_ms").isNotNull()
                           & (F.col("ingest_ms") - F.col("prev_ingest_ms") <= F.lit(rules.dedup_window_ms)))
               # A chain starts at each kept record; a duplicate is compared with its chain's first.
               .withColumn("chain", F.sum(F.when(F.col("duplicate"), 0).otherwise(1))
                           .over(by_event.rowsBetween(Window.unboundedPreceding, Window.currentRow)))
               .withColumn("kept_fingerprint", F.first("fingerprint").over(
                   Window.partitionBy("video_id", "event_id", "chain").orderBy(*order))))
    duplicates = in_time.where("duplicate").withColumn(
        "outcome", F.when(F.col("fingerprint") == F.col("kept_fingerprint"), Outcome.DUPLICATE.value)
        .otherwise(Outcome.CONFLICTING.value))
    kept = in_time.where(~F.col("duplicate"))

    # Step 4: qualifies.
    unqualified = kept.where(F.col("watch_ms") < F.lit(rules.min_watch_ms)) \
        .withColumn("outcome", F.lit(Outcome.UNQUALIFIED.value))
    qualified = kept.where(F.col("watch_ms") >= F.lit(rules.min_watch_ms))

    # Step 5: under_cap, in ingest order per (video, viewer, event hour).
    by_cap = Window.partitionBy("video_id", "viewer_id", "event_hour").orderBy(*order)
    capped = qualified.withColumn("nth", F.row_number().over(by_cap)).withColumn(
        "outcome", F.when(F.col("nth") <= F.lit(rules.max_views_per_viewer_hour), Outcome.COUNTED.value)
        .otherwise(Outcome.CAPPED.value))

    columns = ["partition", "offset", "video_id", "event_id", "creator_id", "viewer_id", "event_ms",
               "event_hour", "ingest_ms", "outcome"]
    return (rejected.select(*columns).unionByName(duplicates.select(*columns))
            .unionByName(unqualified.select(*columns)).unionByName(capped.select(*columns)))
