"""Counted rows → a version's views, from nothing or over the version a run starts from.

A version keeps its counted views per (video, event hour, named creator) (``video_hour_claims/``)
and its hourly views (``video_hourly/``) **by event day**: one folder per day, and its manifest's
``days`` says which version holds each day. A run from a base rewrites only the event days its
new records count views in, and lists the base's folders for the others: a day no new record
touches is never read or written again. Totals and daily views are small (a row per video, per
creator and day) and are rewritten whole, from the base's plus the new records'.
"""

from __future__ import annotations

from dataclasses import dataclass

from adapters.files.base import FileStore
from batch_layer.incremental import Base
from batch_layer.version_views import HOURLY_COLUMNS, VersionFrames, read_dirs
from viewcount.rawdata import VIDEO_HOURLY, day_dirs


@dataclass(frozen=True)
class NewViews:
    """What a run writes (``claims`` and ``hourly`` of the event days in ``written_days`` only, the
    whole ``totals`` and ``daily``), and the version's views whole (``frames``, ``named``: every
    day's claims), which a dry run uses without writing."""

    claims: object
    hourly: object
    totals: object
    daily: object
    kept_days: dict[str, str]      # event day → the base version that holds it
    frames: VersionFrames
    named: object


def day_column(hour_column: str = "event_hour"):
    """The UTC event day (YYYY-MM-DD) of an event hour in ms (the session's time zone is UTC)."""
    from pyspark.sql import functions as F

    return F.date_format((F.col(hour_column) / 1000).cast("timestamp"), "yyyy-MM-dd")


def claims_of(counted):
    """Counted rows → views per (video, event hour, the creator each view names)."""
    from pyspark.sql import functions as F

    return counted.groupBy("video_id", "event_hour", "creator_id").agg(F.count("*").alias("views"))


def first_claims_of(counted):
    """Counted rows → each video's first claim: the creator its counted record of lowest offset
    names (CONTRACT §9)."""
    from pyspark.sql import functions as F

    return counted.groupBy("video_id").agg(F.min_by("creator_id", F.struct("partition", "offset")).alias("creator_id"))


def views_from(named_df, first_claims):
    """Views per (video, event hour, named creator) and first claims → the three batch views:
    views per (video, event hour); views and first claim per video; views per (first claim,
    event day)."""
    from pyspark.sql import functions as F

    # One shuffle by video: each aggregate below keeps it, and a video's hours land together.
    named_df = named_df.repartition("video_id")
    hourly_df = named_df.groupBy("video_id", "event_hour").agg(F.sum("views").alias("views"))
    totals_df = (hourly_df.groupBy("video_id").agg(F.sum("views").alias("views"))
                 .join(first_claims, "video_id"))
    return hourly_df, totals_df, daily_from(hourly_df, first_claims)


def daily_from(hourly_df, first_claims):
    """Hourly views and first claims → views per (first claim, event day)."""
    from pyspark.sql import functions as F

    return (hourly_df.join(first_claims, "video_id").withColumn("event_day", day_column())
            .groupBy("creator_id", "event_day").agg(F.sum("views").alias("views")))


def aggregate(counted):
    """Counted rows → the three batch views (:func:`views_from`)."""
    return views_from(claims_of(counted), first_claims_of(counted))


def from_nothing(counted) -> NewViews:
    claims, first = claims_of(counted), first_claims_of(counted)
    hourly, totals, daily = views_from(claims, first)
    return NewViews(claims, hourly, totals, daily, {}, VersionFrames(hourly, totals, daily), claims)


def over_base(spark, store: FileStore, base: Base, counted) -> NewViews:
    """The views of ``base`` with the views of ``counted`` (the records since its W) added; only
    the event days those count views in are recomputed, from the base's claims of those days."""
    from pyspark.sql import functions as F

    step, step_first = claims_of(counted), first_claims_of(counted)
    touched = {r[0] for r in step.select(day_column().alias("day")).distinct().collect()}
    kept = {day: holder for day, holder in base.days.items() if day not in touched}
    claims = (base.claims(spark, store, touched).unionByName(step)
              .groupBy("video_id", "event_hour", "creator_id").agg(F.sum("views").alias("views")))
    # A video's first claim stays its base's: its later views have higher offsets.
    old_first = base.first_claims(spark, store)
    first = old_first.unionByName(step_first.join(old_first, "video_id", "left_anti"))
    hourly = claims.repartition("video_id").groupBy("video_id", "event_hour").agg(F.sum("views").alias("views"))
    totals = (base.totals(spark, store).select("video_id", "views")
              .unionByName(step.groupBy("video_id").agg(F.sum("views").alias("views")))
              .groupBy("video_id").agg(F.sum("views").alias("views")).join(first, "video_id"))
    daily = (base.daily(spark, store).where(~F.col("event_day").isin(sorted(touched)))
             .unionByName(daily_from(hourly, first)))
    whole_hourly = hourly.unionByName(read_dirs(spark, store, day_dirs(VIDEO_HOURLY, kept), HOURLY_COLUMNS))
    whole_named = claims.unionByName(base.claims(spark, store, kept))
    return NewViews(claims, hourly, totals, daily, kept, VersionFrames(whole_hourly, totals, daily), whole_named)
