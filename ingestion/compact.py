"""Compaction of closed ingest hours: the small range files one partition wrote in one hour become
fewer, larger ones, and every record keeps its (partition, offset) identity and its bytes.

A merged file is named by the offset range it covers, like any range file, so the batch, the hole
check, the sink's resume and `ingest replay` read it as they read the files it replaces. Only
files that follow each other without a gap are merged: a hole stays a hole.

Exactly once under kill -9, in three steps per merged file (:meth:`Compactor.merge`):

1. write the merged quarantine file, then the merged views file (``put_new``: durable once it
   returns);
2. append one audit record naming the merged files and every file they replace, with sizes and
   SHA-256, unless the ledger already holds it;
3. delete the replaced files.

A crash after step 1 leaves the old files beside the merged ones. Their offsets overlap, and the
batch reads each record once, so the views do not change meanwhile; the next run finds a file
whose range holds others, checks that it holds their records, and goes on at step 2 or 3.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq

from adapters.files.base import FileStore
from adapters.files.exceptions import NotFound
from audit.kinds import RAW_COMPACTION
from audit.ledger import AuditLedger, HeadMoved
from ingestion.chunk import METADATA_KEY, range_file_bytes
from ingestion.exceptions import CompactionError
from viewcount import __version__
from viewcount.failpoints import NONE, Failpoints
from viewcount.rawdata import QUARANTINE_ROOT, VIEWS_ROOT, RangeFile, parse_hour_dir, parse_name
from viewcount.timeutil import HOUR_MS, format_ms

logger = logging.getLogger(__name__)

DEFAULT_TARGET_BYTES = 128 * 1024 * 1024


@dataclass(frozen=True)
class Merge:
    """Range files of one partition and hour, each following the one before, to become one."""

    parts: tuple[RangeFile, ...]

    @property
    def target(self) -> RangeFile:
        first, last = self.parts[0], self.parts[-1]
        return RangeFile(first.partition, first.first, last.last, first.hour_ms, first.topic)


@dataclass(frozen=True)
class Leftover:
    """Files an interrupted compaction replaced but did not delete: ``merged`` covers each."""

    merged: RangeFile
    replaced: tuple[RangeFile, ...]


@dataclass
class CompactionPlan:
    merges: list[Merge] = field(default_factory=list)
    leftovers: list[Leftover] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)     # why a partition's hour was left alone

    @property
    def files_replaced(self) -> int:
        return sum(len(m.parts) for m in self.merges) + sum(len(x.replaced) for x in self.leftovers)


@dataclass
class CompactionReport:
    merged: int = 0              # merged views files written or completed
    replaced: int = 0            # views files deleted
    audit_seqs: list[int] = field(default_factory=list)


def plan(store: FileStore, topic: str, before_ms: int, target_bytes: int = DEFAULT_TARGET_BYTES) -> CompactionPlan:
    """What to merge among the views files of ``topic`` in the ingest hours that ended at or
    before ``before_ms``, and what an interrupted run left to finish."""
    found = CompactionPlan()
    for date_dir in store.list_dirs(VIEWS_ROOT):
        for hour_name in store.list_dirs(f"{VIEWS_ROOT}/{date_dir}"):
            hour_ms = parse_hour_dir(date_dir, hour_name)
            if hour_ms + HOUR_MS > before_ms:
                continue
            by_partition: dict[int, list[tuple[RangeFile, int]]] = {}
            for info in store.list(f"{VIEWS_ROOT}/{date_dir}/{hour_name}"):
                parsed = parse_name(info.path.rsplit("/", 1)[-1], hour_ms)
                if parsed is not None and parsed.topic == topic:
                    by_partition.setdefault(parsed.partition, []).append((parsed, info.size))
            for partition, files in sorted(by_partition.items()):
                _plan_partition_hour(files, target_bytes, found)
    return found


def _plan_partition_hour(files: list[tuple[RangeFile, int]], target_bytes: int, into: CompactionPlan) -> None:
    kept: list[tuple[RangeFile, int]] = []
    inside: dict[RangeFile, list[RangeFile]] = {}
    for f, size in sorted(files, key=lambda item: (item[0].first, -item[0].last)):
        if kept and f.last <= kept[-1][0].last:
            inside.setdefault(kept[-1][0], []).append(f)
        elif kept and f.first <= kept[-1][0].last:
            # Two files share some offsets and neither holds the other: not what a compaction leaves.
            into.skipped.append(f"partition {f.partition} hour {format_ms(f.hour_ms)}: {kept[-1][0].name} and "
                                f"{f.name} overlap")
            return
        else:
            kept.append((f, size))
    into.leftovers += [Leftover(merged, tuple(replaced)) for merged, replaced in inside.items()]
    run: list[tuple[RangeFile, int]] = []

    def close_run() -> None:
        if len(run) > 1:
            into.merges.append(Merge(tuple(f for f, _ in run)))
        run.clear()

    for f, size in kept:
        if run and (f.first != run[-1][0].last + 1 or sum(s for _, s in run) + size > target_bytes):
            close_run()
        run.append((f, size))
    close_run()


class Compactor:
    """Carries out a :class:`CompactionPlan` on one store, recording each merge in the ledger."""

    def __init__(self, store: FileStore, ledger: AuditLedger, failpoint: Failpoints = NONE,
                 actor: str | None = None) -> None:
        self._store, self._ledger, self._failpoint, self._actor = store, ledger, failpoint, actor
        self._recorded: dict[str, int] = {}      # merged views path → audit seq
        self._read_seq = 0

    def run(self, planned: CompactionPlan, progress: Callable[[int], None] = lambda done: None) -> CompactionReport:
        report = CompactionReport()
        for leftover in planned.leftovers:
            self._finish(leftover.merged, leftover.replaced, report)
            progress(report.merged)
        for merge in planned.merges:
            self.merge(merge, report)
            progress(report.merged)
        return report

    def merge(self, merge: Merge, report: CompactionReport) -> None:
        target = merge.target
        views, quarantine = self._read(merge.parts, VIEWS_ROOT), self._read(merge.parts, QUARANTINE_ROOT)
        sources = [json.loads(t.schema.metadata[METADATA_KEY]) for t in views]
        # the sink's range metadata, over the whole range (both files carry it, as the sink's do)
        metadata = {"topic": target.topic, "partition": target.partition, "first_offset": target.first,
                    "last_offset": target.last, "valid": sum(m["valid"] for m in sources),
                    "invalid": sum(m["invalid"] for m in sources),
                    "max_ingest_ms": max(m["max_ingest_ms"] for m in sources), "compacted_from": len(merge.parts)}
        # 1. The merged files, durable before anything refers to them; a file already there (a
        #    run that died after writing it) must hold exactly these records.
        if quarantine:
            self._write(target, QUARANTINE_ROOT, self._concat(quarantine, merge.parts), metadata)
        self._write(target, VIEWS_ROOT, self._concat(views, merge.parts), metadata)
        self._failpoint("compact.written")
        self._finish(target, merge.parts, report)

    def _finish(self, merged: RangeFile, replaced: Iterable[RangeFile], report: CompactionReport) -> None:
        replaced = tuple(replaced)
        self._require_holds(merged, replaced)
        # 2. One audit record per merged file, however often this step is reached.
        report.audit_seqs.append(self._record_once(merged, replaced))
        self._failpoint("compact.recorded")
        # 3. The replaced files go last: until here every record is in two places, never in none.
        for f in replaced:
            for root in (QUARANTINE_ROOT, VIEWS_ROOT):
                if self._store.delete(f.path(root)) and root == VIEWS_ROOT:
                    report.replaced += 1
        report.merged += 1
        logger.info("compacted %d files of %s-%d into %s", len(replaced), merged.topic, merged.partition,
                    merged.path())

    def _read(self, parts: Iterable[RangeFile], root: str) -> list[pa.Table]:
        """The parts' files under ``root``; a views file is never missing, a quarantine file often is."""
        tables = []
        for f in parts:
            try:
                tables.append(pq.read_table(pa.BufferReader(self._store.read(f.path(root)))))
            except NotFound:
                if root == VIEWS_ROOT:
                    raise CompactionError(f"{f.path()} disappeared while it was being compacted") from None
        return tables

    @staticmethod
    def _concat(tables: list[pa.Table], parts: tuple[RangeFile, ...]) -> pa.Table:
        schema = tables[0].schema.remove_metadata()
        if any(not t.schema.remove_metadata().equals(schema) for t in tables[1:]):
            raise CompactionError(f"{parts_label(parts)}: the files have different schemas; left as they are")
        return pa.concat_tables([t.replace_schema_metadata(None) for t in tables])

    def _write(self, target: RangeFile, root: str, table: pa.Table, metadata: dict) -> None:
        if self._store.put_new(target.path(root), range_file_bytes(table, metadata)):
            return
        existing = pq.read_table(pa.BufferReader(self._store.read(target.path(root))))
        if existing.column("offset").to_pylist() != table.column("offset").to_pylist():
            raise CompactionError(f"{target.path(root)} exists and holds other records than the files it "
                                  f"would replace; left as it is")

    def _require_holds(self, merged: RangeFile, replaced: tuple[RangeFile, ...]) -> None:
        for root in (VIEWS_ROOT, QUARANTINE_ROOT):
            wanted: set[int] = set()
            for f in replaced:
                try:
                    wanted |= set(pq.read_table(pa.BufferReader(self._store.read(f.path(root))),
                                                columns=["offset"]).column("offset").to_pylist())
                except NotFound:
                    continue
            if not wanted:
                continue
            try:
                held = pq.read_table(pa.BufferReader(self._store.read(merged.path(root))), columns=["offset"])
            except NotFound:
                raise CompactionError(f"{merged.path(root)} is missing, so {parts_label(replaced)} are kept") from None
            missing = wanted - set(held.column("offset").to_pylist())
            if missing:
                raise CompactionError(f"{merged.path(root)} lacks {len(missing)} records of {parts_label(replaced)} "
                                      f"(offset {min(missing)} first); nothing deleted")

    def _record_once(self, merged: RangeFile, replaced: tuple[RangeFile, ...]) -> int:
        while True:
            for record in self._ledger.records_after(self._read_seq):
                self._read_seq = record["seq"]
                if record["kind"] == RAW_COMPACTION:
                    self._recorded[record["payload"]["merged"]["views"]["path"]] = record["seq"]
            if merged.path() in self._recorded:
                return self._recorded[merged.path()]
            head = self._ledger.head()
            if head is not None and head["seq"] != self._read_seq:
                continue
            try:
                record = self._ledger.append_after(head, RAW_COMPACTION, self._payload(merged, replaced),
                                                   {"code_version": __version__}, self._actor)
            except HeadMoved as e:
                logger.info("%s; reading the ledger again", e)
                continue
            self._read_seq = record["seq"]
            self._recorded[merged.path()] = record["seq"]
            return record["seq"]

    def _payload(self, merged: RangeFile, replaced: tuple[RangeFile, ...]) -> dict:
        def described(f: RangeFile, root: str) -> dict | None:
            try:
                data = self._store.read(f.path(root))
            except NotFound:
                return None
            return {"path": f.path(root), "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}

        return {
            "topic": merged.topic, "partition": merged.partition, "ingest_hour": format_ms(merged.hour_ms),
            "first_offset": merged.first, "last_offset": merged.last,
            "merged": {root_name: d for root_name, d in (("views", described(merged, VIEWS_ROOT)),
                                                          ("quarantine", described(merged, QUARANTINE_ROOT)))
                       if d is not None},
            "replaced": [d for f in replaced for root in (VIEWS_ROOT, QUARANTINE_ROOT)
                         if (d := described(f, root)) is not None],
        }


def parts_label(parts: Iterable[RangeFile]) -> str:
    parts = list(parts)
    return f"{len(parts)} files of partition {parts[0].partition} (offsets {parts[0].first}..{parts[-1].last})"
