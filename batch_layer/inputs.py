"""What a batch version is computed from: the raw files of every ingest hour before W, each with
its size and SHA-256, and one fingerprint over them all (the audit records it, CONTRACT §7).

Raw files are written once under a name no other file takes (``FileStore.put_new``) and never
changed, so a file that an earlier version's manifest lists with the same path and size keeps
the digest recorded there. An hourly run reads only the files ingested since that version:
the listing grows with history, the bytes hashed do not.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from adapters.files.base import FileStore
from adapters.files.exceptions import NotFound
from viewcount.rawdata import QUARANTINE_ROOT, VIEWS_ROOT, RangeFile, parse_hour_dir, parse_name, version_dir

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class InputListing:
    files: list[dict]          # {"path", "size", "sha256"}, sorted by path
    hashed: int                # files read and hashed by this listing
    hashed_bytes: int

    @property
    def reused(self) -> int:
        return len(self.files) - self.hashed


def read_manifest(store: FileStore, version: str | None) -> dict | None:
    """The manifest of ``version``; None when there is no such version (none published yet)."""
    if not version:
        return None
    try:
        return json.loads(store.read(version_dir(version, "_manifest.json")))
    except NotFound:
        logger.warning("batch version %s has no manifest under %s", version, store.url)
        return None


def digests_in(manifest: dict | None) -> dict[str, dict]:
    """``path → {path, size, sha256}`` as ``manifest`` lists its inputs; empty without one (or one
    written before manifests listed them)."""
    return {f["path"]: f for f in (manifest or {}).get("inputs", ()) if "sha256" in f}


def known_digests(store: FileStore, version: str | None) -> dict[str, dict]:
    """:func:`digests_in` the manifest of ``version``."""
    return digests_in(read_manifest(store, version))


def input_files(store: FileStore, watermark_ms: int, known: Mapping[str, dict] | None = None) -> InputListing:
    """Every raw file of an ingest hour before W, with its size and SHA-256: taken from ``known``
    when it lists the file with the same size, read and hashed otherwise."""
    known = known or {}
    files, hashed, hashed_bytes = [], 0, 0
    for root in (VIEWS_ROOT, QUARANTINE_ROOT):
        for date_dir in store.list_dirs(root):
            for hour_dir in store.list_dirs(f"{root}/{date_dir}"):
                if parse_hour_dir(date_dir, hour_dir) >= watermark_ms:
                    continue
                for info in store.list(f"{root}/{date_dir}/{hour_dir}"):
                    if not info.path.endswith(".parquet"):
                        continue
                    seen = known.get(info.path)
                    if seen is not None and seen["size"] == info.size:
                        digest = seen["sha256"]
                    else:
                        digest = hashlib.sha256(store.read(info.path)).hexdigest()
                        hashed, hashed_bytes = hashed + 1, hashed_bytes + info.size
                    files.append({"path": info.path, "size": info.size, "sha256": digest})
    return InputListing(sorted(files, key=lambda f: f["path"]), hashed, hashed_bytes)


def input_ranges(files: list[dict], topic: str) -> list[RangeFile]:
    """The views range files of ``topic`` among the input files."""
    ranges = []
    for f in files:
        if f["path"].startswith(VIEWS_ROOT):
            parsed = parse_name(f["path"].rsplit("/", 1)[-1], 0)
            if parsed is not None and parsed.topic == topic:
                ranges.append(parsed)
    return ranges


def fingerprint(files: list[dict]) -> str:
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()
