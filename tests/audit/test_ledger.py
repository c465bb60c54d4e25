"""The audit ledger: canonical, hash-chained, exclusive, verifiable — on local disk and HDFS."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
import threading
import uuid

import pytest

from audit.canonical import canonical_bytes, record_hash
from audit.exceptions import AuditError, LedgerCorrupt
from audit.ledger import GENESIS, AuditLedger, record_path
from app import wiring
from devtools.sandbox import settings_for


@pytest.fixture(params=["local", pytest.param("hdfs", marks=[pytest.mark.hdfs, pytest.mark.integration])])
def store(request, tmp_path):
    if request.param == "local":
        return wiring.file_store(settings_for(tmp_path), (tmp_path / "audit").as_uri())
    settings = request.getfixturevalue("hdfs").settings
    return wiring.file_store(settings, f"{settings.hdfs_namenode}/tests/audit-{uuid.uuid4().hex[:8]}")


def test_canonical_json_is_sorted_compact_utf8_and_refuses_floats():
    assert canonical_bytes({"b": 1, "a": {"z": "é", "y": [1, "2.50"]}}) == '{"a":{"y":[1,"2.50"],"z":"é"},"b":1}'.encode()
    with pytest.raises(AuditError, match="floats"):
        canonical_bytes({"amount": 2.5})


class TestLedgerContract:
    def test_records_chain_and_verify(self, store):
        ledger = AuditLedger(store)
        first = ledger.append("batch_publish", {"version": "v1"}, {"code_version": "0.1.0"}, actor="tester")
        second = ledger.append("payout", {"amount": "12.50"}, {"batch_version": "v1"}, actor="tester")
        assert (first["seq"], first["prev_hash"]) == (1, GENESIS)
        assert (second["seq"], second["prev_hash"]) == (2, first["hash"])
        assert second["hash"] == record_hash(second)
        assert store.read(record_path(2)) == canonical_bytes(second)
        report = ledger.verify()
        assert (report.records, report.head_hash) == (2, second["hash"])

    @pytest.mark.parametrize("tamper, message", [
        (lambda r: r["payload"].update(amount="99.99"), "hash does not match"),
        (lambda r: r.update(hash=record_hash({**r, "kind": "x"})), "hash does not match"),
        (lambda r: r.update(prev_hash="1" * 64), "prev_hash"),
    ])
    def test_a_changed_record_fails_verification_by_name(self, store, tamper, message):
        ledger = AuditLedger(store)
        for i in range(3):
            ledger.append("payout", {"amount": f"{i}.00"}, {}, actor="t")
        record = json.loads(store.read(record_path(2)))
        tamper(record)
        store.delete(record_path(2))
        store.put_new(record_path(2), canonical_bytes(record))
        with pytest.raises(LedgerCorrupt, match=f"record 2 .*{message}"):
            ledger.verify()

    def test_a_missing_or_reformatted_record_fails(self, store):
        ledger = AuditLedger(store)
        for i in range(3):
            ledger.append("payout", {"n": i}, {}, actor="t")
        pretty = json.dumps(json.loads(store.read(record_path(3))), indent=2).encode()
        store.delete(record_path(3))
        store.put_new(record_path(3), pretty)
        with pytest.raises(LedgerCorrupt, match="record 3 .*canonical"):
            ledger.verify()
        store.delete(record_path(2))
        with pytest.raises(LedgerCorrupt, match="record 2 is missing"):
            ledger.verify()

    def test_concurrent_appenders_get_one_chain(self, store):
        ledger = AuditLedger(store)
        threads = [threading.Thread(target=lambda i=i: ledger.append("payout", {"i": i}, {}, actor="t"))
                   for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert ledger.verify().records == 8
        assert sorted(r["payload"]["i"] for r in ledger.records()) == list(range(8))


def _append_many(root: str, n: int) -> None:
    from adapters.files.local import LocalFileStore, LocalStoreConfig

    ledger = AuditLedger(LocalFileStore(LocalStoreConfig(root)))
    for i in range(n):
        ledger.append("payout", {"pid": os.getpid(), "i": i}, {}, actor="p")


def test_concurrent_processes_get_one_chain(tmp_path):
    procs = [multiprocessing.Process(target=_append_many, args=(str(tmp_path), 10)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    from adapters.files.local import LocalFileStore, LocalStoreConfig

    assert AuditLedger(LocalFileStore(LocalStoreConfig(str(tmp_path)))).verify().records == 40


def test_audit_verify_command(tmp_path):
    settings = settings_for(tmp_path)
    ledger = AuditLedger(wiring.file_store(settings, settings.audit_store))
    for i in range(3):
        ledger.append("payout", {"i": i}, {}, actor="t")
    env = {**os.environ, **settings.to_env()}
    done = subprocess.run([sys.executable, "-m", "app", "audit", "verify"], capture_output=True, env=env)
    assert done.returncode == 0 and b"intact: 3 records" in done.stdout
    path = tmp_path / "audit" / record_path(2)
    path.write_bytes(path.read_bytes().replace(b'"i":1', b'"i":7'))
    done = subprocess.run([sys.executable, "-m", "app", "audit", "verify"], capture_output=True, env=env)
    assert done.returncode == 1
    assert b"record 2" in done.stderr and done.stderr.count(b"\n") == 1
