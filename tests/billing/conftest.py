"""A billing scenario on the real stores: Redis (the published pointer), a raw store holding
batch versions, an audit store with its ledger, a rate card file, and the CLI to run."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from audit.ledger import AuditLedger
from viewcount.rawdata import BATCH_ROOT
from app import wiring
from tests.conftest import with_ledger
from viewcount.settings import Settings
from adapters.files.base import FileStore
from viewcount.timeutil import parse_rfc3339_ms

RATE_CARD = b'currency = "USD"\ndefault_rate_per_1000 = "2.50"\n[creators.creator_42]\nrate_per_1000 = "4.00"\n'
CLOSED_W = parse_rfc3339_ms("2026-11-20T00:00:00Z")   # October 2026 closed at 2026-11-08T01:00Z


def _day_ms(day: str) -> int:
    d = date.fromisoformat(day)
    return int(datetime(d.year, d.month, d.day, tzinfo=timezone.utc).timestamp() * 1000)


def _parquet(rows: list[dict], schema) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), sink)
    return sink.getvalue()


@dataclass
class Books:
    settings: Settings
    raw: FileStore
    audit: FileStore
    ledger: AuditLedger
    serving: object

    def publish(self, daily: dict[tuple[str, str], int], watermark_ms: int = CLOSED_W,
                hourly_views: dict[tuple[str, str], int] | None = None, audited: bool = True) -> str:
        """Write a batch version as the batch job lays it out, one video per creator and its
        views at the first hour of each day, publish it to Redis and record the publish.
        ``hourly_views`` overrides what video_hourly says (to make the views disagree)."""
        import pyarrow as pa

        version = f"w-test-{uuid.uuid4().hex[:8]}"
        base = f"{BATCH_ROOT}/version={version}"
        hourly_source = hourly_views if hourly_views is not None else daily
        hourly: dict[str, dict[int, int]] = {}
        for (creator, day), n in hourly_source.items():
            hourly.setdefault(f"v-{creator}", {})[_day_ms(day)] = n
        totals = {video: (sum(h.values()), video[2:]) for video, h in hourly.items()}
        self.raw.put(f"{base}/creator_daily/part-00000.parquet", _parquet(
            [{"creator_id": c, "event_day": d, "views": n} for (c, d), n in daily.items()],
            pa.schema([("creator_id", pa.string()), ("event_day", pa.string()), ("views", pa.int64())])))
        self.raw.put(f"{base}/video_hourly/part-00000.parquet", _parquet(
            [{"video_id": v, "event_hour": h, "views": n} for v, hs in hourly.items() for h, n in hs.items()],
            pa.schema([("video_id", pa.string()), ("event_hour", pa.int64()), ("views", pa.int64())])))
        self.raw.put(f"{base}/video_totals/part-00000.parquet", _parquet(
            [{"video_id": v, "views": n, "creator_id": c} for v, (n, c) in totals.items()],
            pa.schema([("video_id", pa.string()), ("views", pa.int64()), ("creator_id", pa.string())])))
        fingerprint = uuid.uuid4().hex
        self.raw.put(f"{base}/_manifest.json", json.dumps({"version": version,
                                                            "raw_input_fingerprint": fingerprint}).encode())
        self.serving.publish_batch(version, watermark_ms, totals, hourly, 3600)
        if audited:
            self.ledger.append("batch_publish", {"version": version}, {"batch_version": version,
                                                                       "raw_input_fingerprint": fingerprint})
        return version

    def cli(self, *args: str, env: dict[str, str] | None = None, wait: bool = True):
        full_env = {**os.environ, **self.settings.to_env(), **(env or {})}
        command = [sys.executable, "-m", "app", *args]
        if not wait:
            return subprocess.Popen(command, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        return subprocess.run(command, env=full_env, capture_output=True, text=True, timeout=300)

    def snapshot(self) -> dict[str, bytes]:
        """Every file of the audit store, byte for byte."""
        return {f.path: self.audit.read(f.path) for f in self.audit.walk("")}


@pytest.fixture
def make_books(stack, stack_settings, tmp_path) -> Callable[..., Books]:
    def make(store: str = "local") -> Books:
        name = uuid.uuid4().hex[:8]
        card = tmp_path / f"rates-{name}.toml"
        card.write_bytes(RATE_CARD)
        if store == "local":
            raw_url, audit_url = (tmp_path / f"raw-{name}").as_uri(), (tmp_path / f"audit-{name}").as_uri()
        else:
            raw_url = f"{stack_settings.hdfs_namenode}/tests/billing-raw-{name}"
            audit_url = f"{stack_settings.hdfs_namenode}/tests/billing-audit-{name}"
        settings = with_ledger(stack_settings, audit_url, redis_prefix=f"b{name}", raw_store=raw_url,
                               rate_card=str(card))
        audit = wiring.file_store(settings, audit_url)
        return Books(settings, wiring.raw_store(settings), audit, wiring.audit_ledger(settings),
                     wiring.batch_views(settings))

    return make


def statement_path(stdout: str) -> Path:
    return Path(stdout.strip().splitlines()[-1])
