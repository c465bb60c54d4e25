"""Compare-and-swap publish: a version publishes only over the version it was computed against,
so two publishes at once, or a replay that finishes after a newer publish, never roll readers
back. On the real Redis, single and Cluster."""

from __future__ import annotations

import threading
import uuid

import pytest

from audit.ledger import AuditLedger
from batch_layer.exceptions import PublishConflict
from batch_layer.job import BatchResult
from batch_layer.publish import publish
from batch_layer.version_views import VersionViews
from app import wiring
from tests.conftest import redis_stores
from viewcount import keys

pytestmark = pytest.mark.integration

W = 1_795_000_000_000 // 3_600_000 * 3_600_000


def computed(version: str, over: str, views: int) -> BatchResult:
    """A version as the batch job leaves it, computed while ``over`` was published."""
    return BatchResult(version, W, {"counted": views}, HeldViews({"vid_1": (views, "creator_a")},
                                                                 {"vid_1": {W - 3_600_000: views}}),
                       manifest={"based_on": over, "raw_input_fingerprint": "f" * 64, "videos": 1, "views": views})


class HeldViews(VersionViews):
    """A version's views held in memory (the batch job's come from Spark or from files)."""

    def __init__(self, totals: dict, hourly: dict) -> None:
        self.totals, self.hourly = totals, hourly

    def video_rows(self):
        return ((v, n, owner) for v, (n, owner) in self.totals.items())

    def hour_rows(self):
        return ((v, h, n) for v, hours in self.hourly.items() for h, n in hours.items())

    def daily_rows(self):
        return iter(())


@pytest.fixture
def books(serving_redis, tmp_path):
    settings = serving_redis[0].replace(redis_prefix=f"cas{uuid.uuid4().hex[:8]}")
    return redis_stores(settings), AuditLedger(wiring.file_store(settings, (tmp_path / "audit").as_uri()))


def test_of_two_publishes_over_the_same_version_one_wins_and_the_other_is_refused(books):
    stores, ledger = books
    versions = [computed(f"v{i}", "", 100 + i) for i in range(2)]
    barrier, outcomes = threading.Barrier(2), {}

    def run(result: BatchResult) -> None:
        barrier.wait()
        try:
            outcomes[result.version] = publish(result, stores.batch, ledger, actor="test")
        except PublishConflict as e:
            outcomes[result.version] = e

    threads = [threading.Thread(target=run, args=(v,)) for v in versions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    won = [v for v, o in outcomes.items() if isinstance(o, dict)]
    lost = [o for o in outcomes.values() if isinstance(o, PublishConflict)]
    assert len(won) == 1 and len(lost) == 1
    assert stores.batch.batch_pointer() == (won[0], W) and lost[0].current == won[0]
    assert "run the batch again" in str(lost[0])
    assert [r["payload"]["version"] for r in ledger.records()] == won          # one record, the winner's
    assert stores.views.video_views("vid_1").batch_views == (100 if won[0] == "v0" else 101)


def test_a_replay_that_finishes_after_a_newer_publish_does_not_roll_it_back(books, serving_redis):
    stores, ledger = books
    redis_client = serving_redis[1]
    publish(computed("a", "", 10), stores.batch, ledger, actor="test")
    replay = computed("a-replayed", "a", 12)              # a replay starts, reading version a
    publish(computed("b", "a", 20), stores.batch, ledger, actor="test")   # the hourly run publishes b
    with pytest.raises(PublishConflict, match="computed over a, but b is published now.*batch replay` again"):
        publish(replay, stores.batch, ledger, kind="batch_replay", actor="test")
    assert stores.batch.batch_pointer() == ("b", W) and stores.views.video_views("vid_1").batch_views == 20
    assert [r["payload"]["version"] for r in ledger.records()] == ["a", "b"]
    loaded = list(redis_client.scan_iter(match=keys.batch_version_pattern(stores.batch.prefix, "a-replayed")))
    assert loaded and all(0 < redis_client.ttl(k) <= 3600 for k in loaded)   # the refused version goes away


def test_a_retried_publish_of_the_published_version_goes_through(books):
    """A DAG retry after the flip (its audit record failed, say) finds its own version published."""
    stores, ledger = books
    publish(computed("a", "", 10), stores.batch, ledger, actor="test")
    again = publish(computed("a", "", 10), stores.batch, ledger, actor="test")
    assert again["payload"]["version"] == "a" and stores.batch.batch_pointer() == ("a", W)
