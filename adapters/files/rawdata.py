"""The master dataset read through a file store: a partition's flush progress and the rows of
Parquet folders. The layout itself is :mod:`viewcount.rawdata`."""

from __future__ import annotations

import pyarrow as pa

from adapters.files.base import FileStore
from adapters.files.exceptions import NotFound
from viewcount.rawdata import FlushProgress, progress_path


def read_progress(store: FileStore, topic: str, partition: int) -> FlushProgress | None:
    """A partition's flush progress from a file store; None when the sink never flushed it."""
    try:
        return FlushProgress.from_json(store.read(progress_path(topic, partition)))
    except NotFound:
        return None


def read_parquet_rows(store: FileStore, directory: str, columns: list[str] | None = None) -> list[dict]:
    """Every row of the Parquet files below ``directory`` of a file store (Spark's output folders:
    hidden and ``_``-prefixed files skipped)."""
    import pyarrow.parquet as pq

    rows: list[dict] = []
    for info in store.walk(directory):
        name = info.path.rsplit("/", 1)[-1]
        if name.endswith(".parquet") and not name.startswith((".", "_")):
            rows += pq.read_table(pa.BufferReader(store.read(info.path)), columns=columns).to_pylist()
    return rows
