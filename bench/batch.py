"""Batch recompute: Spark ``local[2]`` over N generated events, and DuckDB on the same files.

The raw dataset is built once and kept under ``bench/.data/``: N events from the traffic
generator, keyed by video over 4 partitions, cut into range files per partition and ingest hour
by the raw sink's own ``Chunk`` (the exact files the sink writes). Then, in every run, side by
side on the same files:

  spark_recompute  read, the CONTRACT §2 rules (classify), the three views, written as Parquet:
                   what ``viewcount batch run`` computes
  spark_job        all of ``run_batch``: the above plus input checksums, the data checks and the
                   manifest
  duckdb           the same rules and the same three views in DuckDB SQL, written as Parquet

Each figure is seconds, the median of the runs; the ratio is spark_recompute / duckdb, per run.
DuckDB's counts must equal Spark's, or the benchmark fails.

    .venv/bin/python -m pip install -e '.[bench]'
    .venv/bin/python bench/batch.py [--events 10000000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, partition_of, summarize, write_result

from batch_layer.aggregate import aggregate
from batch_layer.job import run_batch, spark_session, write_version
from batch_layer.spark_rules import classify
from ingestion.chunk import Chunk
from viewcount.events import parse_event
from devtools.generate import INGEST_TIME_FIELD, traffic_lines
from adapters.kafka.seam import Record
from ingestion.produce import as_object, field_time_ms, key_of
from viewcount.rawdata import QUARANTINE_ROOT, VIEWS_ROOT
from viewcount.rules import Outcome, RuleSettings, advance_ingest_time
from adapters.files.local import LocalFileStore, LocalStoreConfig
from viewcount.timeutil import DAY_MS, HOUR_MS, hour_floor, now_ms

TOPIC = "bench.views"
PARTITIONS = 4
DATA = ROOT / "bench" / ".data"
RANGE_RECORDS = 250_000   # the sink's FLUSH_RECORDS default order of magnitude


_LINES: list[bytes] = []   # the generated lines, shared with the forked writers (copy-on-write)


def build_dataset(events: int, seed: int, workers: int = 2, days: int = 7) -> tuple[LocalFileStore, int]:
    """The raw dataset of N events over the ``days`` before now and W (the hour after the last
    ingest time), built once per (N, seed, days)."""
    root = DATA / (f"raw-{events}-{seed}" if days == 7 else f"raw-{events}-{seed}-{days}d")
    marker = root / "dataset.json"
    if marker.exists():
        return LocalFileStore(LocalStoreConfig(str(root))), json.loads(marker.read_text())["watermark_ms"]
    shutil.rmtree(root, ignore_errors=True)
    started = time.monotonic()
    end = now_ms()
    _LINES[:] = traffic_lines(events, seed, end - days * DAY_MS, end, RuleSettings())
    print(f"generated {len(_LINES):,} events in {time.monotonic() - started:.0f}s; writing range files "
          f"with {workers} processes", file=sys.stderr)
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        last_ingest = pool.starmap(write_partitions, [(w, workers, str(root)) for w in range(workers)])
    watermark = hour_floor(max(last_ingest)) + HOUR_MS
    marker.write_text(json.dumps({"events": len(_LINES), "seed": seed, "watermark_ms": watermark}) + "\n")
    print(f"dataset ready in {time.monotonic() - started:.0f}s at {root}", file=sys.stderr)
    _LINES.clear()
    return LocalFileStore(LocalStoreConfig(str(root))), watermark


def write_partitions(worker: int, workers: int, root: str) -> int:
    """What the raw sink would write for the partitions ``p % workers == worker``; returns the
    last ingest time."""
    store = LocalFileStore(LocalStoreConfig(root))
    chunks: dict[int, Chunk] = {}
    offsets, ingest = [0] * PARTITIONS, [0] * PARTITIONS

    def write(chunk: Chunk) -> None:
        quarantine = chunk.quarantine_parquet()
        if quarantine is not None:
            store.put_new(chunk.range.path(QUARANTINE_ROOT), quarantine)
        store.put_new(chunk.range.path(), chunk.views_parquet())

    for n, line in enumerate(_LINES, start=1):
        obj = as_object(line)
        key = key_of(obj)
        p = partition_of(key, PARTITIONS)
        if p % workers != worker:
            continue
        timestamp = field_time_ms(obj, INGEST_TIME_FIELD) or ingest[p]
        ingest[p] = advance_ingest_time(ingest[p], timestamp)
        chunk = chunks.get(p)
        if chunk is not None and (chunk.hour_ms != hour_floor(ingest[p]) or chunk.size >= RANGE_RECORDS):
            write(chunk)
            chunk = None
        if chunk is None:
            chunk = chunks[p] = Chunk(TOPIC, p, hour_floor(ingest[p]), offsets[p])
        chunk.add(Record(TOPIC, p, offsets[p], timestamp, key, line), ingest[p], parse_event(line))
        offsets[p] += 1
        if n % 2_000_000 == 0:
            print(f"  writer {worker}: {n:,} lines read", file=sys.stderr)
    for chunk in chunks.values():
        write(chunk)
    return max(ingest)


def spark_recompute(spark, store: LocalFileStore, watermark_ms: int, out: str) -> dict[str, int]:
    from pyspark.sql import functions as F

    views = (spark.read.parquet(f"{store.url}/{VIEWS_ROOT}")
             .where(F.col("ingest_time") < F.lit(watermark_ms / 1000).cast("timestamp")))
    counted = classify(views, RuleSettings()).where(F.col("outcome") == Outcome.COUNTED.value)
    counted = counted.cache()   # as run_batch does: three views from one classification
    hourly_df, totals_df, daily_df = aggregate(counted)
    write_version(LocalFileStore(LocalStoreConfig(out)), "bench", hourly_df, totals_df, daily_df)
    counted.unpersist()
    totals = spark.read.parquet(f"{LocalFileStore(LocalStoreConfig(out)).url}/batch/v1/version=bench/video_totals")
    return {r["video_id"]: r["views"] for r in totals.collect()}


# CONTRACT §2 steps 2–5 as classify() writes them in Spark, over the same columns.
DUCKDB_SQL = """
CREATE OR REPLACE TEMP VIEW rows AS
SELECT partition, "offset", video_id, event_id, creator_id, viewer_id, watch_ms, fingerprint,
       epoch_ms(ingest_time) AS ingest_ms, epoch_ms(event_time) AS event_ms,
       epoch_ms(event_time) - epoch_ms(event_time) % 3600000 AS event_hour
FROM read_parquet('{views}/**/*.parquet')
WHERE epoch_ms(ingest_time) < {watermark_ms};

CREATE OR REPLACE TEMP VIEW in_time AS
SELECT * FROM rows
WHERE event_ms >= ingest_ms - {max_age} AND event_ms <= ingest_ms + {skew};

CREATE OR REPLACE TEMP VIEW flagged AS
SELECT *, prev_ingest IS NOT NULL AND ingest_ms - prev_ingest <= {dedup_window} AS duplicate
FROM (SELECT *, lag(ingest_ms) OVER (PARTITION BY video_id, event_id ORDER BY partition, "offset") AS prev_ingest
      FROM in_time);

CREATE OR REPLACE TEMP VIEW counted AS
SELECT * FROM (
  SELECT *, row_number() OVER (PARTITION BY video_id, viewer_id, event_hour ORDER BY partition, "offset") AS nth
  FROM flagged WHERE NOT duplicate AND watch_ms >= {min_watch})
WHERE nth <= {cap};

COPY (SELECT video_id, event_hour, count(*) AS views FROM counted GROUP BY ALL)
  TO '{out}/video_hourly' (FORMAT parquet, PER_THREAD_OUTPUT);
COPY (SELECT video_id, count(*) AS views, arg_max(creator_id, partition * 1e12 + "offset") AS creator_id
      FROM counted GROUP BY ALL) TO '{out}/video_totals' (FORMAT parquet, PER_THREAD_OUTPUT);
COPY (SELECT creator_id, strftime(make_timestamp(event_ms * 1000), '%Y-%m-%d') AS event_day, count(*) AS views
      FROM counted GROUP BY ALL) TO '{out}/creator_daily' (FORMAT parquet, PER_THREAD_OUTPUT);
"""


def duckdb_recompute(store: LocalFileStore, watermark_ms: int, out: Path) -> dict[str, int]:
    import duckdb

    rules = RuleSettings()
    out.mkdir(parents=True)
    con = duckdb.connect(config={"threads": 2})
    try:
        con.execute(DUCKDB_SQL.format(
            views=f"{store.root}/{VIEWS_ROOT}", watermark_ms=watermark_ms, max_age=rules.max_event_age_ms,
            skew=rules.max_clock_skew_ms, dedup_window=rules.dedup_window_ms, min_watch=rules.min_watch_ms,
            cap=rules.max_views_per_viewer_hour, out=out))
        rows = con.execute(f"SELECT video_id, views FROM read_parquet('{out}/video_totals/*.parquet')").fetchall()
        return dict(rows)
    finally:
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--driver-memory", default="6g")
    args = parser.parse_args()

    store, watermark = build_dataset(args.events, args.seed)
    spark = spark_session(args.master, "viewcount-bench", driver_memory=args.driver_memory)
    spark.sparkContext.setLogLevel("ERROR")
    figures: dict[str, list[float]] = {"spark_recompute": [], "spark_job": [], "duckdb": []}
    ratios: list[float] = []
    try:
        for run in range(args.runs):
            with tempfile.TemporaryDirectory(prefix="viewcount-bench-batch-") as tmp:
                started = time.perf_counter()
                spark_totals = spark_recompute(spark, store, watermark, str(Path(tmp) / "spark"))
                figures["spark_recompute"].append(time.perf_counter() - started)

                started = time.perf_counter()
                duck_totals = duckdb_recompute(store, watermark, Path(tmp) / "duckdb")
                figures["duckdb"].append(time.perf_counter() - started)
                if duck_totals != spark_totals:
                    differ = sorted(v for v in spark_totals.keys() | duck_totals.keys()
                                    if spark_totals.get(v) != duck_totals.get(v))
                    raise SystemExit(f"DuckDB and Spark disagree on {len(differ)} videos, e.g. {differ[:5]}")

                started = time.perf_counter()
                result = run_batch(spark, store, RuleSettings(), watermark, TOPIC, version=f"bench-{run}",
                                   write=False)
                figures["spark_job"].append(time.perf_counter() - started)
                assert {v: n for v, (n, _) in result.views.collect_totals().items()} == spark_totals
            ratios.append(figures["spark_recompute"][-1] / figures["duckdb"][-1])
            print(f"run {run + 1}: " + ", ".join(f"{k} {v[-1]:.1f}s" for k, v in figures.items())
                  + f", Spark/DuckDB {ratios[-1]:.2f}x", file=sys.stderr)
    finally:
        spark.stop()

    result = {f"{k}_s": summarize([round(x, 2) for x in v]) for k, v in figures.items()}
    counted = sum(spark_totals.values())
    result.update({"events": args.events, "counted_views": counted, "videos": len(spark_totals),
                   "master": args.master, "spark_over_duckdb": summarize([round(r, 2) for r in ratios]),
                   "target_spark_recompute_s": 90})
    path = write_result("batch", result)
    print(f"median: Spark recompute {statistics.median(figures['spark_recompute']):.1f}s "
          f"(target ≤ 90s), whole job {statistics.median(figures['spark_job']):.1f}s, "
          f"DuckDB {statistics.median(figures['duckdb']):.1f}s, ratio {statistics.median(ratios):.2f}x; "
          f"{counted:,} views counted")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
