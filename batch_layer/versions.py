"""Reading a written batch version back from the store it was written to: its manifest, its data
checks' report, and where its Parquet views are."""

from __future__ import annotations

import json

from adapters.files.base import FileStore
from adapters.files.exceptions import NotFound
from batch_layer.exceptions import BatchError
from batch_layer.job import BatchResult
from batch_layer.version_views import VersionFiles
from viewcount.rawdata import version_dir


def _version_file(store: FileStore, version: str, name: str):
    path = version_dir(version, name)
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
    """A written version read back from its files (manifest, checks; its views are read from its
    Parquet files as they are used), to publish it in another process than the one that computed it."""
    manifest = _version_file(store, version, "_manifest.json")
    return BatchResult(version, manifest["watermark_ms"], manifest.get("outcomes", {}), VersionFiles(store, version, manifest.get("days")),
                       manifest, load_checks(store, version), f"{store.url}/{version_dir(version, '_checks.json')}")
