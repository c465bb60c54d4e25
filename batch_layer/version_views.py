"""A batch version's three views (CONTRACT §5), wherever they are: Spark DataFrames in the run that
computes them (:class:`VersionFrames`), or the Parquet files of a written version
(:class:`VersionFiles`). Both give the views as streams of rows, so that whoever publishes or
reads a version holds a bounded batch of rows, however many videos it has; the ``collect_``
methods load a whole view, for tests and small tools."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from adapters.files.base import FileStore
from adapters.files.rawdata import iter_parquet_rows
from batch_layer.views_store import HourRow, VideoRow
from viewcount.rawdata import CHANGES, CREATOR_DAILY, VIDEO_HOURLY, VIDEO_TOTALS, view_dirs

DailyRow = tuple[str, str, int]     # (creator_id, event day YYYY-MM-DD, views)
HOURLY_COLUMNS = "video_id string, event_hour long, views long"
TOTALS_COLUMNS = "video_id string, views long, creator_id string"
DAILY_COLUMNS = "creator_id string, event_day string, views long"


class VersionViews(ABC):
    @abstractmethod
    def video_rows(self) -> Iterator[VideoRow]:
        """(video, views, first claim), one row per video."""

    @abstractmethod
    def hour_rows(self) -> Iterator[HourRow]:
        """(video, event hour ms, views), a video's hours one after the other."""

    @abstractmethod
    def daily_rows(self) -> Iterator[DailyRow]:
        """(first claim, event day, views)."""

    def collect_totals(self) -> dict[str, tuple[int, str]]:
        """video → (views, first claim), the whole view in memory."""
        return {video: (views, owner) for video, views, owner in self.video_rows()}

    def collect_hourly(self) -> dict[str, dict[int, int]]:
        """video → event hour → views, the whole view in memory."""
        hourly: dict[str, dict[int, int]] = {}
        for video, hour, views in self.hour_rows():
            hourly.setdefault(video, {})[hour] = views
        return hourly

    def collect_daily(self) -> dict[tuple[str, str], int]:
        """(first claim, event day) → views, the whole view in memory."""
        return {(creator, day): views for creator, day, views in self.daily_rows()}


@dataclass(frozen=True)
class VersionFiles(VersionViews):
    """A written version's views, read from its Parquet files a batch of rows at a time.
    ``days``: its manifest's (event day → the version holding it), for the views kept by day."""

    store: FileStore
    version: str
    days: Mapping[str, str] | None = None

    def _rows(self, view: str, columns: list[str]) -> Iterator[tuple]:
        for directory in view_dirs(self.version, view, self.days):
            for row in iter_parquet_rows(self.store, directory, columns):
                yield tuple(row[c] for c in columns)

    def video_rows(self) -> Iterator[VideoRow]:
        for video, views, owner in self._rows(VIDEO_TOTALS, ["video_id", "views", "creator_id"]):
            yield video, int(views), owner

    def hour_rows(self) -> Iterator[HourRow]:
        for video, hour, views in self._rows(VIDEO_HOURLY, ["video_id", "event_hour", "views"]):
            yield video, int(hour), int(views)

    def daily_rows(self) -> Iterator[DailyRow]:
        for creator, day, views in self._rows(CREATOR_DAILY, ["creator_id", "event_day", "views"]):
            yield creator, day, int(views)

    def change_rows(self) -> Iterator[HourRow]:
        """(video, event hour ms, views added over the version it was computed over), when it
        recorded them (its manifest's ``changes``)."""
        for video, hour, views in self._rows(CHANGES, ["video_id", "event_hour", "views"]):
            yield video, int(hour), int(views)


@dataclass(frozen=True)
class VersionFrames(VersionViews):
    """The views as Spark DataFrames; rows reach the driver a partition at a time."""

    hourly: object      # DataFrame (video_id, event_hour, views)
    totals: object      # DataFrame (video_id, views, creator_id)
    daily: object       # DataFrame (creator_id, event_day, views)

    @classmethod
    def read(cls, spark, store: FileStore, version: str, days: Mapping[str, str] | None = None) -> VersionFrames:
        """A written version's views (``days``: as for :class:`VersionFiles`)."""
        read = lambda view, columns: read_dirs(spark, store, view_dirs(version, view, days), columns)  # noqa: E731
        return cls(read(VIDEO_HOURLY, HOURLY_COLUMNS), read(VIDEO_TOTALS, TOTALS_COLUMNS),
                   read(CREATOR_DAILY, DAILY_COLUMNS))

    def video_rows(self) -> Iterator[VideoRow]:
        for r in self.totals.select("video_id", "views", "creator_id").toLocalIterator():
            yield r[0], int(r[1]), r[2]

    def hour_rows(self) -> Iterator[HourRow]:
        for r in (self.hourly.select("video_id", "event_hour", "views")
                  .sortWithinPartitions("video_id", "event_hour").toLocalIterator()):
            yield r[0], int(r[1]), int(r[2])

    def daily_rows(self) -> Iterator[DailyRow]:
        for r in self.daily.select("creator_id", "event_day", "views").toLocalIterator():
            yield r[0], r[1], int(r[2])


def read_dirs(spark, store: FileStore, directories: list[str], columns: str):
    """The Parquet files of ``directories`` as one DataFrame of ``columns`` (a DDL schema); no
    directory: an empty one."""
    if not directories:
        return spark.createDataFrame([], columns)
    return spark.read.schema(columns).parquet(*(f"{store.url}/{d}" for d in directories))
