"""Reading a written batch version back from the store it was written to: its manifest, its data
checks' report and its Parquet views."""

from __future__ import annotations

import json

from adapters.files.base import FileStore
from adapters.files.exceptions import NotFound
from batch_layer.exceptions import BatchError
from batch_layer.job import BatchResult
from adapters.files.rawdata import read_parquet_rows
from viewcount.rawdata import BATCH_ROOT


def _version_file(store: FileStore, version: str, name: str):
    path = f"{BATCH_ROOT}/version={version}/{name}"
    try:
        return json.loads(store.read(path))
    except NotFound as e:
        raise BatchError(f"batch version {version} is incomplete or missing under {store.url}: {e}") from e


def load_checks(store: FileStore, version: str) -> list:
    """A written version's data-check reports (its ``_checks.json``)."""
    from expectations.runner import CheckReport

    return [CheckReport(r["name"], r["success"], [x for x in r["results"] if not x["success"]], r["results"])
            for r in _version_file(store, version, "_checks.json")]


def load_result(store: FileStore, version: str) -> BatchResult:
    """A written version read back from its files (manifest, checks, Parquet views), to publish it
    in another process than the one that computed it."""
    base = f"{BATCH_ROOT}/version={version}"
    manifest = _version_file(store, version, "_manifest.json")
    checks = load_checks(store, version)

    def rows(view: str) -> list[dict]:
        return read_parquet_rows(store, f"{base}/{view}")

    hourly: dict[str, dict[int, int]] = {}
    for r in rows("video_hourly"):
        hourly.setdefault(r["video_id"], {})[int(r["event_hour"])] = r["views"]
    return BatchResult(
        version, manifest["watermark_ms"], manifest.get("outcomes", {}),
        {r["video_id"]: (r["views"], r["creator_id"]) for r in rows("video_totals")}, hourly,
        {(r["creator_id"], r["event_day"]): r["views"] for r in rows("creator_daily")},
        manifest, checks, f"{store.url}/{base}/_checks.json")
