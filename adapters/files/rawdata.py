"""The master dataset read through a file store: its range files, a partition's flush progress
and first stored offset, and the rows of Parquet folders. The layout itself is :mod:`viewcount.rawdata`."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pyarrow as pa

from adapters.files.base import FileStore
from adapters.files.exceptions import NotFound
from viewcount.rawdata import VIEWS_ROOT, FlushProgress, RangeFile, origin_path, parse_hour_dir, parse_name, progress_path


def read_progress(store: FileStore, topic: str, partition: int) -> FlushProgress | None:
    """A partition's flush progress from a file store; None when the sink never flushed it."""
    try:
        return FlushProgress.from_json(store.read(progress_path(topic, partition)))
    except NotFound:
        return None


def range_files(store: FileStore, topic: str, partition: int | None = None, root: str = VIEWS_ROOT,
                since_hour_ms: int | None = None) -> list[RangeFile]:
    """The range files of ``topic`` (one partition, or all), oldest offsets first. ``since_hour_ms``
    skips hour folders before that hour (ingest time is monotone per partition)."""
    found = []
    for date_dir in store.list_dirs(root):
        for hour_name in store.list_dirs(f"{root}/{date_dir}"):
            hour_ms = parse_hour_dir(date_dir, hour_name)
            if since_hour_ms is not None and hour_ms < since_hour_ms:
                continue
            for info in store.list(f"{root}/{date_dir}/{hour_name}"):
                parsed = parse_name(info.path.rsplit("/", 1)[-1], hour_ms)
                if parsed and parsed.topic == topic and (partition is None or parsed.partition == partition):
                    found.append(parsed)
    return sorted(found, key=lambda f: (f.partition, f.first))


def read_origin(store: FileStore, topic: str, partition: int) -> int | None:
    """The first offset the sink ever stored of a partition; None when it has not recorded one
    (it never flushed the partition, or the dataset predates the record)."""
    try:
        return int(json.loads(store.read(origin_path(topic, partition)))["first_offset"])
    except NotFound:
        return None


def iter_parquet_rows(store: FileStore, directory: str, columns: list[str] | None = None,
                      batch_rows: int = 10_000) -> Iterator[dict]:
    """The rows of the Parquet files below ``directory`` of a file store (Spark's output folders:
    hidden and ``_``-prefixed files skipped), one file and ``batch_rows`` rows at a time: what is
    held is one file's bytes and one batch, however many rows the folder has."""
    import pyarrow.parquet as pq

    for info in store.walk(directory):
        name = info.path.rsplit("/", 1)[-1]
        if name.endswith(".parquet") and not name.startswith((".", "_")):
            parquet = pq.ParquetFile(pa.BufferReader(store.read(info.path)))
            for batch in parquet.iter_batches(batch_size=batch_rows, columns=columns):
                yield from batch.to_pylist()


def read_parquet_rows(store: FileStore, directory: str, columns: list[str] | None = None) -> list[dict]:
    """Every row of the Parquet files below ``directory`` (:func:`iter_parquet_rows`), as a list."""
    return list(iter_parquet_rows(store, directory, columns))
