"""Re-ingest: rewrite missing range files of one partition from Kafka.

Only offsets the sink has already committed past are considered (the rest belong to the running
sink), ranges still present are skipped, and a range whose views file exists but whose
quarantine file is gone gets only its quarantine file back. Dead letters are not sent again.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from ingestion.chunk import Chunk, file_metadata
from ingestion.dataset import read_checkpoint
from ingestion.exceptions import ReplayError
from viewcount.events import InvalidEvent, parse_event
from adapters.kafka.seam import RecordConsumer
from adapters.files.rawdata import range_files, read_progress
from viewcount.rawdata import QUARANTINE_ROOT, gaps
from viewcount.rules import advance_ingest_time
from adapters.files.base import FileStore
from viewcount.timeutil import hour_floor

logger = logging.getLogger(__name__)


@dataclass
class ReplayReport:
    partition: int
    from_offset: int
    to_offset: int
    gaps: list[tuple[int, int]] = field(default_factory=list)
    quarantine_missing: list[tuple[int, int]] = field(default_factory=list)
    files_written: list[str] = field(default_factory=list)
    records_restored: int = 0


def replay_partition(store: FileStore, consumer: RecordConsumer, topic: str, partition: int,
                     from_offset: int | None = None, from_time_ms: int | None = None,
                     to_offset: int | None = None,
                     progress: Callable[[int], None] | None = None) -> ReplayReport:
    if read_progress(store, topic, partition) is None:
        raise ReplayError(f"{topic}-{partition} has no flush progress in the raw store: the raw sink has not "
                          f"flushed this partition yet (run `viewcount ingest` first)")
    views = range_files(store, topic, partition)
    if not views:
        raise ReplayError(f"nothing committed for {topic}-{partition} yet: run `viewcount ingest`")
    # The sink's checkpoint remembers the last commit even if that newest file was deleted.
    hint = read_checkpoint(store, topic, partition)
    committed_last = max([f.last for f in views] + ([hint["last_offset"]] if hint else []))
    consumer.assign(topic, [partition])
    if from_time_ms is not None:
        from_offset = consumer.offsets_for_time([partition], from_time_ms)[partition]
        if from_offset is None:
            raise ReplayError(f"no record of {topic}-{partition} at or after that time")
    start = 0 if from_offset is None else from_offset
    end = committed_last if to_offset is None else to_offset
    if end > committed_last:
        raise ReplayError(f"--to-offset {end} is past what the sink has committed ({committed_last}); "
                          "later offsets belong to the running sink")
    if start > end:
        raise ReplayError(f"empty range: from {start} to {end}")
    report = ReplayReport(partition, start, end, gaps=gaps(views, start, end))

    quarantined = {f.name for f in range_files(store, topic, partition, QUARANTINE_ROOT)}
    needs_quarantine = []
    for f in views:
        if f.last >= start and f.first <= end and f.name not in quarantined:
            if file_metadata(store.read(f.path()))["invalid"] > 0:
                needs_quarantine.append(f)
    report.quarantine_missing = [(f.first, f.last) for f in needs_quarantine]
    if not report.gaps and not needs_quarantine:
        return report

    read_from = min([g[0] for g in report.gaps] + [f.first for f in needs_quarantine])
    log_start = consumer.beginning_offsets([partition])[partition]
    if read_from < log_start:
        raise ReplayError(f"offsets {read_from}..{log_start - 1} of {topic}-{partition} are no longer "
                          "in Kafka (retention); they cannot be re-ingested")
    before = [f for f in views if f.last < read_from]
    ingest_ms = (file_metadata(store.read(max(before, key=lambda f: f.last).path()))["max_ingest_ms"]
                 if before else None)

    def gap_of(offset: int) -> int | None:
        return next((i for i, (a, b) in enumerate(report.gaps) if a <= offset <= b), None)

    quarantine_chunks = {f.first: (f, Chunk(topic, partition, f.hour_ms, f.first)) for f in needs_quarantine}
    gap_chunk: Chunk | None = None

    def flush_gap() -> None:
        nonlocal gap_chunk
        if gap_chunk is None:
            return
        quarantine = gap_chunk.quarantine_parquet()
        if quarantine is not None and store.put_new(gap_chunk.range.path(QUARANTINE_ROOT), quarantine):
            report.files_written.append(gap_chunk.range.path(QUARANTINE_ROOT))
        if store.put_new(gap_chunk.range.path(), gap_chunk.views_parquet()):
            report.files_written.append(gap_chunk.range.path())
        report.records_restored += gap_chunk.size
        gap_chunk = None

    consumer.seek(partition, read_from)
    position = read_from
    while position <= end:
        batch = consumer.poll(1.0).get(partition, [])
        if not batch and consumer.position(partition) >= consumer.end_offsets([partition])[partition]:
            break
        for record in batch:
            if record.offset > end:
                position = record.offset
                break
            position = record.offset + 1
            ingest_ms = advance_ingest_time(ingest_ms, record.timestamp_ms)
            parsed = parse_event(record.value)
            gap = gap_of(record.offset)
            if gap is not None:
                hour_ms = hour_floor(ingest_ms)
                # One file per gap and ingest hour, as the sink would have split them.
                if gap_chunk is not None and (gap_chunk.hour_ms != hour_ms
                                              or gap_of(gap_chunk.first_offset) != gap):
                    flush_gap()
                if gap_chunk is None:
                    gap_chunk = Chunk(topic, partition, hour_ms, record.offset)
                gap_chunk.add(record, ingest_ms, parsed)
            else:
                flush_gap()
                owner = next((c for first, (f, c) in quarantine_chunks.items()
                              if f.first <= record.offset <= f.last), None)
                if owner is not None and isinstance(parsed, InvalidEvent):
                    owner.add(record, ingest_ms, parsed)
        if progress is not None:
            progress(min(position, end + 1) - read_from)
    flush_gap()
    for f, chunk in quarantine_chunks.values():
        chunk.last_offset = f.last  # the file is named by the views file's range
        data = chunk.quarantine_parquet()
        if data is not None and store.put_new(f.path(QUARANTINE_ROOT), data):
            report.files_written.append(f.path(QUARANTINE_ROOT))
            report.records_restored += chunk.size
    return report


def tqdm_progress(total: int, description: str):
    """A progress bar on stderr (a no-op when stderr is not a terminal and tqdm is quiet)."""
    from tqdm import tqdm

    bar = tqdm(total=total, desc=description, unit="rec", file=sys.stderr, dynamic_ncols=True)

    def update(done: int) -> None:
        bar.update(done - bar.n)

    return bar, update
