"""The ledger anchored in a real Kafka topic: whoever rewrites, cuts or deletes the audit store
is named by `audit verify --against-topic`, and billing refuses to pay from such a ledger."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

from adapters.files.base import FileStore
from audit.canonical import canonical_bytes, record_hash
from audit.exceptions import AnchorMismatch, AnchorUnavailable
from audit.ledger import AuditLedger, record_path
from app import wiring
from tests.conftest import with_ledger

pytestmark = pytest.mark.integration


@pytest.fixture
def anchored(stack, stack_settings, tmp_path):
    """Settings with a ledger of its own (store and anchor topic) holding four anchored records."""
    settings = with_ledger(stack_settings, (tmp_path / "audit").as_uri())
    with wiring.audit_ledger(settings) as ledger:
        for i in range(4):
            ledger.append("payout", {"creator_id": f"c{i}", "amount": f"{i}.00"}, {"batch_version": "v1"},
                          actor="test")
    return settings


def audit_cli(settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", "audit", *args], capture_output=True, text=True,
                          env={**os.environ, **settings.to_env()}, timeout=120)


def rewrite_from(store: FileStore, seq: int, last: int) -> None:
    """Change record ``seq``'s amount and recompute every hash and link after it: a chain that
    verifies on its own, as someone with write access to the store could make it."""
    prev = None
    for n in range(seq, last + 1):
        record = json.loads(store.read(record_path(n)))
        if n == seq:
            record["payload"]["amount"] = "999.00"
        else:
            record["prev_hash"] = prev
        record["hash"] = prev = record_hash(record)
        store.delete(record_path(n))
        store.put_new(record_path(n), canonical_bytes(record))


def test_an_anchored_ledger_verifies_against_its_topic(anchored):
    done = audit_cli(anchored, "verify", "--against-topic")
    assert done.returncode == 0, done.stderr
    assert "intact and anchored: 4 records" in done.stdout and "head seq 4" in done.stdout


def test_a_chain_rewritten_with_valid_hashes_passes_alone_and_fails_against_the_anchor(anchored):
    store = wiring.file_store(anchored, anchored.audit_store)
    rewrite_from(store, 2, 4)
    alone = audit_cli(anchored, "verify")
    assert alone.returncode == 0, alone.stderr   # the hash chain alone cannot see it
    against = audit_cli(anchored, "verify", "--against-topic")
    assert against.returncode == 1
    assert "record 2 differs" in against.stderr and "rewritten from seq 2" in against.stderr
    assert against.stderr.count("\n") == 1


def test_a_cut_off_tail_and_a_deleted_store_are_named(anchored):
    store = wiring.file_store(anchored, anchored.audit_store)
    store.delete(record_path(4))
    store.delete(record_path(3))
    done = audit_cli(anchored, "verify", "--against-topic")
    assert done.returncode == 1 and "records 3..4 were cut off" in done.stderr
    for seq in (2, 1):
        store.delete(record_path(seq))
    done = audit_cli(anchored, "verify", "--against-topic")
    assert done.returncode == 1 and "store holds no records" in done.stderr and "up to seq 4" in done.stderr


def test_unanchored_records_are_named_and_anchored_on_request(anchored):
    # a record written without the anchor: a writer that stopped in between, or a hand-made one
    AuditLedger(wiring.file_store(anchored, anchored.audit_store)).append("payout", {"amount": "5.00"}, {}, actor="x")
    done = audit_cli(anchored, "verify", "--against-topic")
    assert done.returncode == 1 and "(seq 5..5)" in done.stderr and "audit anchor" in done.stderr
    anchoring = audit_cli(anchored, "anchor")
    assert anchoring.returncode == 0, anchoring.stderr
    assert "1 records anchored" in anchoring.stdout and "anchored seq 5 payout by x" in anchoring.stderr
    assert audit_cli(anchored, "verify", "--against-topic").returncode == 0
    assert "0 records anchored" in audit_cli(anchored, "anchor").stdout


def test_anchor_refuses_to_vouch_for_a_rewritten_chain(anchored):
    store = wiring.file_store(anchored, anchored.audit_store)
    rewrite_from(store, 3, 4)
    with wiring.audit_ledger(anchored) as ledger, pytest.raises(AnchorMismatch, match="rewritten from seq 3"):
        ledger.anchor_missing()


def test_without_its_topic_nothing_is_written(stack_settings, tmp_path):
    settings = stack_settings.replace(audit_store=(tmp_path / "audit").as_uri(),
                                      audit_topic=f"audit-missing-{uuid.uuid4().hex[:8]}")
    with wiring.audit_ledger(settings) as ledger:
        with pytest.raises(AnchorUnavailable, match="topics create"):
            ledger.append("payout", {"amount": "1.00"}, {}, actor="t")
        assert ledger.records() == []
