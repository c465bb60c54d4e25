"""One contract for every file store, run on the local file system and on real HDFS."""

from __future__ import annotations

import threading
import uuid

import pytest

from app import wiring
from adapters.files.exceptions import AlreadyExists, NotFound, StoreError, StoreUnavailable


@pytest.fixture(params=["local", pytest.param("hdfs", marks=[pytest.mark.hdfs, pytest.mark.integration])])
def store(request, tmp_path):
    if request.param == "local":
        from devtools.sandbox import settings_for

        return wiring.file_store(settings_for(tmp_path), (tmp_path / "store").as_uri())
    hdfs_stack = request.getfixturevalue("hdfs")
    settings = hdfs_stack.settings
    return wiring.file_store(settings, f"{settings.hdfs_namenode}/tests/store-{uuid.uuid4().hex[:8]}")


class TestFileStoreContract:
    def test_put_new_writes_once_and_never_overwrites(self, store):
        assert store.put_new("a/b/part-1.bin", b"\x00first\xff")
        assert not store.put_new("a/b/part-1.bin", b"second")
        assert store.read("a/b/part-1.bin") == b"\x00first\xff"

    def test_create_exclusive_refuses_an_existing_file(self, store):
        store.create_exclusive("ledger/000001.json", b"{}")
        with pytest.raises(AlreadyExists):
            store.create_exclusive("ledger/000001.json", b"{}")

    def test_concurrent_exclusive_creates_have_one_winner(self, store):
        wins, errors = [], []

        def attempt(i):
            try:
                store.create_exclusive("race/1.json", b"%d" % i)
                wins.append(i)
            except AlreadyExists:
                pass
            except StoreError as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=attempt, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors and len(wins) == 1
        assert store.read("race/1.json") == b"%d" % wins[0]

    def test_put_replaces(self, store):
        store.put("state/p0.json", b"1")
        store.put("state/p0.json", b"2")
        assert store.read("state/p0.json") == b"2"

    def test_listing_shows_committed_files_only_with_sizes(self, store):
        store.put_new("d/x=1/f1", b"12345")
        store.put_new("d/x=2/f2", b"1")
        store.put_new("d/top", b"")
        assert [(f.path, f.size) for f in store.list("d")] == [("d/top", 0)]
        assert store.list_dirs("d") == ["x=1", "x=2"]
        assert [f.path for f in store.walk("d")] == ["d/top", "d/x=1/f1", "d/x=2/f2"]
        assert store.list("nothing/here") == [] and store.list_dirs("nothing") == []

    def test_missing_files(self, store):
        assert not store.exists("nope")
        with pytest.raises(NotFound):
            store.read("nope")
        assert store.delete("nope") is False
        store.put_new("yes", b"1")
        assert store.exists("yes") and store.delete("yes") and not store.exists("yes")

    def test_paths_cannot_escape_the_root(self, store):
        with pytest.raises(StoreError):
            store.put_new("../outside", b"x")

    def test_files_and_their_directories_are_the_owners_alone(self, store):
        store.put_new("raw/2026-11-26/part-1.bin", b"1")
        store.put("audit/1.json", b"{}")
        modes = {path: mode_of(store, path) for path in ("raw", "raw/2026-11-26", "raw/2026-11-26/part-1.bin",
                                                         "audit", "audit/1.json")}
        assert modes == {"raw": 0o700, "raw/2026-11-26": 0o700, "raw/2026-11-26/part-1.bin": 0o600,
                         "audit": 0o700, "audit/1.json": 0o600}

    def test_url_is_what_spark_reads(self, store):
        assert store.url.startswith(("file:///", "hdfs://"))


def mode_of(store, path: str) -> int:
    """Permission bits of a stored path, read beside the interface (it does not expose them)."""
    import os
    from pathlib import Path

    if hasattr(store, "_client"):
        return int(store._client.status(store._abs(path))["permission"], 8)
    return os.stat(Path(store.root) / path).st_mode & 0o777


def test_a_webhdfs_rename_that_fails_is_never_taken_for_written(tmp_path):
    """WebHDFS answers every failed rename with `false`: only a file at the target means another
    writer won; otherwise the commit failed and says so."""
    from hdfs.util import HdfsError

    from adapters.files.webhdfs import WebHdfsFileStore, WebHdfsStoreConfig

    class RefusingClient:
        """Refuses every rename; ``winner``'s file appears at its target meanwhile, if set."""

        def __init__(self, winner: str | None) -> None:
            self.winner, self.renamed, self.deleted = winner, False, []

        def makedirs(self, path, permission=None): pass
        def write(self, path, data=None, overwrite=False, permission=None): pass
        def delete(self, path): self.deleted.append(path)

        def rename(self, src, dst):
            self.renamed = True
            raise HdfsError("Unable to rename %r to %r.", src, dst)

        def status(self, path, strict=True):
            return {"type": "FILE"} if self.renamed and path == self.winner else None

    store = WebHdfsFileStore(WebHdfsStoreConfig("hdfs://nn:9000/root", "http://nn:9870"))
    store._client = RefusingClient(winner=None)
    with pytest.raises(StoreError, match="refused the rename and nothing is at the target"):
        store.put_new("a/part-1.bin", b"x")
    assert len(store._client.deleted) == 1                     # the temporary file is removed
    store._client = RefusingClient(winner="/root/a/part-2.bin")
    assert store.put_new("a/part-2.bin", b"x") is False        # another writer's file is there: not ours
    assert len(store._client.deleted) == 1


def test_an_unreachable_hdfs_is_reported_as_unavailable(tmp_path):
    from devtools.sandbox import free_ports, settings_for

    settings = settings_for(tmp_path, webhdfs_url=f"http://127.0.0.1:{free_ports(1)[0]}")
    store = wiring.file_store(settings, "hdfs://127.0.0.1:1/x")
    with pytest.raises(StoreUnavailable):
        store.read("anything")


def test_unknown_config_keys_are_rejected():
    from adapters.files.local import LocalStoreConfig
    from adapters.files.webhdfs import WebHdfsStoreConfig

    with pytest.raises(StoreError, match="unknown"):
        LocalStoreConfig.from_mapping({"root": "/x", "rooot": "/y"})
    with pytest.raises(StoreError, match="unknown"):
        WebHdfsStoreConfig.from_mapping({"url": "hdfs://h:1/x", "webhdfs_url": "http://h:2", "usr": "me"})
