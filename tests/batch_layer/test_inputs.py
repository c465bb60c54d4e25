"""The batch's input listing: sizes and SHA-256 of the raw files before W, reading only the files
an earlier version did not list."""

from __future__ import annotations

import hashlib

import pytest

from app import wiring
from batch_layer.inputs import fingerprint, input_files, known_digests
from viewcount.rawdata import BATCH_ROOT, QUARANTINE_ROOT, VIEWS_ROOT, RangeFile

HOUR = 3_600_000
T0 = 1_764_000_000_000 // HOUR * HOUR


class ReadCounting:
    """A real store whose reads are counted: which bytes did the listing touch?"""

    def __init__(self, store) -> None:
        self._store = store
        self.read_paths: list[str] = []

    def read(self, path: str) -> bytes:
        self.read_paths.append(path)
        return self._store.read(path)

    def __getattr__(self, name):
        return getattr(self._store, name)


@pytest.fixture
def make_store(tmp_path):
    from devtools.sandbox import settings_for

    def make():
        return ReadCounting(wiring.file_store(settings_for(tmp_path), (tmp_path / "store").as_uri()))
    return make


def put_range(store, partition: int, first: int, last: int, hour_ms: int, root: str = VIEWS_ROOT) -> str:
    path = RangeFile(partition, first, last, hour_ms, "views").path(root)
    assert store.put_new(path, f"{partition}:{first}..{last}".encode())
    return path


def test_every_file_before_w_is_listed_with_its_size_and_sha256(make_store):
    store = make_store()
    kept = [put_range(store, 0, 0, 9, T0), put_range(store, 1, 0, 4, T0 + HOUR),
            put_range(store, 0, 10, 10, T0 + HOUR, QUARANTINE_ROOT)]
    put_range(store, 0, 11, 20, T0 + 2 * HOUR)        # ingested at W: not an input
    listing = input_files(store, T0 + 2 * HOUR)
    assert [f["path"] for f in listing.files] == sorted(kept)
    for f in listing.files:
        data = store._store.read(f["path"])
        assert (f["size"], f["sha256"]) == (len(data), hashlib.sha256(data).hexdigest())
    assert (listing.hashed, listing.reused) == (3, 0)


def test_a_later_listing_reads_only_the_files_added_since(make_store):
    store = make_store()
    put_range(store, 0, 0, 9, T0)
    put_range(store, 1, 0, 4, T0)
    first = input_files(store, T0 + HOUR)
    added = put_range(store, 0, 10, 19, T0 + HOUR)
    store.read_paths.clear()

    later = input_files(store, T0 + 2 * HOUR, {f["path"]: f for f in first.files})
    assert store.read_paths == [added]
    assert (later.hashed, later.reused, later.hashed_bytes) == (1, 2, len(store._store.read(added)))
    assert later.files == input_files(store, T0 + 2 * HOUR).files   # the same as hashing everything


def test_a_known_file_whose_size_differs_is_hashed_again(make_store):
    store = make_store()
    path = put_range(store, 0, 0, 9, T0)
    stale = {path: {"path": path, "size": 3, "sha256": "0" * 64}}
    listing = input_files(store, T0 + HOUR, stale)
    assert listing.hashed == 1
    assert listing.files[0]["sha256"] == hashlib.sha256(store._store.read(path)).hexdigest()


def test_known_digests_come_from_a_versions_manifest(make_store):
    import json

    store = make_store()
    put_range(store, 0, 0, 9, T0)
    files = input_files(store, T0 + HOUR).files
    store.put(f"{BATCH_ROOT}/version=v1/_manifest.json", json.dumps({"inputs": files}).encode())
    assert known_digests(store, "v1") == {f["path"]: f for f in files}
    assert known_digests(store, "") == {}
    assert known_digests(store, "never-written") == {}
    altered = [{**files[0], "sha256": "0" * 64}]
    assert fingerprint(files) != fingerprint(altered)
