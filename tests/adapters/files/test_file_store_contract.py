"""One contract for every file store, run on the local file system and on real HDFS."""

from __future__ import annotations

import dataclasses
import threading
import uuid

import pytest

from app import wiring
from adapters.files.exceptions import AlreadyExists, NotFound, StoreError, StoreUnavailable


_ON_HDFS = [pytest.mark.hdfs, pytest.mark.integration]


@pytest.fixture(params=["local", pytest.param("hdfs", marks=_ON_HDFS),
                        pytest.param("hdfs-kerberos", marks=_ON_HDFS), pytest.param("hdfs-token", marks=_ON_HDFS)])
def store(request, tmp_path):
    """Local disk; HDFS with simple authentication; a Kerberized HDFS through SPNEGO, and through a
    delegation token the Kerberos client fetched."""
    if request.param == "local":
        from devtools.sandbox import settings_for

        return wiring.file_store(settings_for(tmp_path), (tmp_path / "store").as_uri())
    settings = request.getfixturevalue("kerberized_hdfs" if "-" in request.param else "hdfs").settings
    url = f"{settings.hdfs_namenode}/tests/store-{uuid.uuid4().hex[:8]}"
    if request.param == "hdfs-token":
        settings = dataclasses.replace(settings, hdfs_auth="token", hdfs_delegation_token=delegation_token(settings))
    return wiring.file_store(settings, url)


def delegation_token(settings) -> str:
    """A delegation token of the Kerberized HDFS, fetched as an operator would, with Kerberos."""
    kerberos = wiring.file_store(settings, f"{settings.hdfs_namenode}/tests")
    answer = kerberos._client._session.get(f"{settings.webhdfs_url}/webhdfs/v1/?op=GETDELEGATIONTOKEN&renewer=viewcount")
    answer.raise_for_status()
    return answer.json()["Token"]["urlString"]


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
            if self.renamed and path == self.winner:
                return {"type": "FILE"}
            if strict:
                raise HdfsError("File %s not found.", path)     # as WebHDFS's 404 reads
            return None

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


@pytest.mark.integration
@pytest.mark.hdfs
class TestAKerberizedHdfs:
    """What a Kerberized HDFS refuses, and how the store names it."""

    def test_it_refuses_a_client_that_only_says_who_it_is(self, kerberized_hdfs):
        settings = dataclasses.replace(kerberized_hdfs.settings, hdfs_auth="simple")
        store = wiring.file_store(settings, f"{settings.hdfs_namenode}/tests")
        with pytest.raises(StoreError, match=r"refused this client's credentials \(HDFS_AUTH=simple\)"):
            store.exists("anything")

    def test_it_refuses_a_forged_delegation_token(self, kerberized_hdfs):
        settings = kerberized_hdfs.settings
        token = delegation_token(settings)
        forged = token[:30] + ("A" if token[30] != "A" else "B") + token[31:]   # inside the token's identifier
        store = wiring.file_store(dataclasses.replace(settings, hdfs_auth="token", hdfs_delegation_token=forged),
                                  f"{settings.hdfs_namenode}/tests")
        with pytest.raises(StoreError, match="InvalidToken"):
            store.exists("anything")       # refused, never "not there"

    def test_a_process_without_kerberos_credentials_is_told_what_to_set(self, kerberized_hdfs, tmp_path, monkeypatch):
        monkeypatch.setenv("KRB5_CLIENT_KTNAME", str(tmp_path / "no.keytab"))
        monkeypatch.setenv("KRB5CCNAME", f"FILE:{tmp_path / 'empty.ccache'}")
        settings = kerberized_hdfs.settings
        store = wiring.file_store(settings, f"{settings.hdfs_namenode}/tests")
        with pytest.raises(StoreError, match=r"\(HDFS_AUTH=kerberos\): has this process Kerberos credentials\? "
                                             "Set KRB5_CLIENT_KTNAME"):
            store.exists("anything")

    def test_the_delegation_token_never_reaches_the_log(self, kerberized_hdfs):
        import logging

        from app.logs import RedactingFilter

        settings = kerberized_hdfs.settings
        token = delegation_token(settings)
        store = wiring.file_store(dataclasses.replace(settings, hdfs_auth="token", hdfs_delegation_token=token),
                                  f"{settings.hdfs_namenode}/tests/log-{uuid.uuid4().hex[:8]}")
        lines: list[str] = []
        handler = logging.Handler(logging.DEBUG)
        handler.emit = lambda record: lines.append(handler.format(record))
        handler.addFilter(RedactingFilter())
        http_log = logging.getLogger("urllib3.connectionpool")
        http_log.addHandler(handler)
        level = http_log.level
        http_log.setLevel(logging.DEBUG)
        try:
            store.put_new("a.bin", b"x")
        finally:
            http_log.removeHandler(handler)
            http_log.setLevel(level)
        assert any("delegation=***" in line for line in lines)      # the calls were logged, masked
        assert not any(token in line for line in lines)
