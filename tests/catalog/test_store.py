"""The video catalog on the audit ledger: durable, audited, refusing billed months, rebuilt from
the ledger alone; and `viewcount videos`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from app import wiring
from audit.ledger import AuditLedger
from catalog.exceptions import AssignmentRefused
from catalog.store import CatalogStore, CatalogView
from devtools.sandbox import settings_for
from tests.conftest import with_ledger
from viewcount.timeutil import parse_rfc3339_ms

NOV = parse_rfc3339_ms("2026-11-02T05:00:00Z")
OCT = parse_rfc3339_ms("2026-10-20T00:00:00Z")


@pytest.fixture
def make_catalog(tmp_path):
    def make() -> CatalogStore:
        return CatalogStore(AuditLedger(wiring.file_store(settings_for(tmp_path), (tmp_path / "audit").as_uri())))
    return make


def test_an_assignment_is_an_audited_ownership_record_and_the_catalog_rebuilds_from_the_ledger(make_catalog):
    store = make_catalog()
    first = store.assign("vid_1", "creator_a", OCT, actor="finance@example")
    store.assign("vid_1", "creator_b", NOV)
    record = store.ledger.records()[0]
    assert (record["kind"], record["actor"], record["payload"]) == (
        "ownership", "finance@example",
        {"video_id": "vid_1", "creator_id": "creator_a", "effective_from": "2026-10-20T00:00:00Z"})
    assert first.seq == 1 and store.ledger.verify().records == 2
    rebuilt = make_catalog().load()   # a new process, nothing cached: only the ledger
    assert [rebuilt.owner_at("vid_1", t) for t in (OCT - 3_600_000, OCT, NOV)] == [None, "creator_a", "creator_b"]


@pytest.mark.parametrize("video, creator, hour, reason", [
    ("bad id", "creator_a", NOV, "video id"),
    ("vid_1", "c" * 65, NOV, "creator id"),
    ("vid_1", "creator_a", NOV + 60_000, "UTC hour"),
])
def test_bad_assignments_are_refused_and_nothing_is_written(make_catalog, video, creator, hour, reason):
    store = make_catalog()
    with pytest.raises(AssignmentRefused, match=reason):
        store.assign(video, creator, hour)
    assert store.ledger.records() == []


def test_an_assignment_into_a_billed_month_is_refused(make_catalog):
    store = make_catalog()
    store.ledger.append("payout", {"period": "2026-10", "creator_id": "creator_a"}, {})
    with pytest.raises(AssignmentRefused, match="2026-10 is already billed"):
        store.assign("vid_1", "creator_b", OCT)
    assert store.assign("vid_1", "creator_b", NOV).seq == 2


class RacedLedger(AuditLedger):
    """A ledger where another writer appends ``competitor`` just before this one's first append."""

    def __init__(self, store, competitor: tuple) -> None:
        super().__init__(store)
        self._competitor = competitor

    def append_after(self, head, kind, payload, inputs, actor=None):
        if self._competitor:
            AuditLedger(self._store).append(*self._competitor)
            self._competitor = None
        return super().append_after(head, kind, payload, inputs, actor)


def test_an_assignment_racing_another_writer_is_decided_again_on_top_of_it(make_catalog):
    store = make_catalog().ledger._store
    raced = CatalogStore(RacedLedger(store, ("ownership", {"video_id": "vid_1", "creator_id": "creator_b",
                                                           "effective_from": "2026-11-02T05:00:00Z"}, {})))
    assert raced.assign("vid_2", "creator_a", NOV).seq == 2
    assert [r["payload"]["video_id"] for r in raced.ledger.records()] == ["vid_1", "vid_2"]
    # A billing run that lands first makes the month billed: the assignment is then refused.
    billed = CatalogStore(RacedLedger(store, ("payout", {"period": "2026-11", "creator_id": "creator_a"}, {})))
    with pytest.raises(AssignmentRefused, match="2026-11 is already billed"):
        billed.assign("vid_3", "creator_a", NOV)
    assert [r["kind"] for r in billed.ledger.records()] == ["ownership", "ownership", "payout"]


def test_a_view_sees_new_assignments_after_its_refresh_interval(make_catalog):
    now = [0.0]
    view = CatalogView(make_catalog(), refresh_s=2.0, clock=lambda: now[0])
    assert len(view.current()) == 0
    make_catalog().assign("vid_1", "creator_a", NOV)        # another process writes
    assert len(view.current()) == 0
    now[0] = 2.0
    assert view.current().owner_at("vid_1", NOV) == "creator_a"
    view.assign("vid_1", "creator_b", NOV + 3_600_000)     # its own writes show at once
    assert view.current().owner_at("vid_1", NOV + 3_600_000) == "creator_b"


def _cli(settings, *args, command="videos"):
    env = {**os.environ, **settings.to_env()}
    return subprocess.run([sys.executable, "-m", "app", command, *args], env=env, capture_output=True, text=True)


@pytest.mark.integration
def test_videos_assign_and_list(stack, stack_settings, tmp_path):
    settings = with_ledger(stack_settings, (tmp_path / "audit").as_uri())
    assert _cli(settings, "assign", "vid_1", "creator_a", "--from", "2026-10-01T00:00:00Z").returncode == 0
    assert _cli(settings, "assign", "vid_2", "creator_b", "--from", "2026-10-01T00:00:00Z").returncode == 0
    done = _cli(settings, "assign", "vid_1", "creator_b")          # default: the next hour
    assert done.returncode == 0 and "vid_1 belongs to creator_b from" in done.stdout
    now = [json.loads(line) for line in _cli(settings, "list").stdout.splitlines()]
    assert now[0]["video_id"] == "vid_1" and now[0]["creator_id"] == "creator_a"
    assert now[0]["next"]["creator_id"] == "creator_b" and now[1] == {"video_id": "vid_2", "creator_id": "creator_b"}
    mine = [json.loads(line)["video_id"] for line in _cli(settings, "list", "--creator", "creator_b").stdout.splitlines()]
    assert mine == ["vid_2"]
    assert len(_cli(settings, "list", "--history").stdout.splitlines()) == 3
    for bad in (["assign", "vid_1", "creator_a", "--from", "2026-10-01T00:30:00Z"], ["assign", "bad!", "creator_a"],
                ["assign", "vid_1", "creator_a", "--from", "yesterday"]):
        done = _cli(settings, *bad)
        assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "Traceback" not in done.stderr
    anchored = _cli(settings, "verify", "--against-topic", command="audit")   # every assignment anchored
    assert anchored.returncode == 0 and "intact and anchored: 3 records" in anchored.stdout, anchored.stderr
