"""Ownership through the API (CONTRACT §9): one forged event takes nothing over, the admin's
catalog moves a video, and under OWNERSHIP=catalog an unassigned video is the admin's alone."""

from __future__ import annotations

import json

import pytest

from audit.ledger import AuditLedger
from catalog.store import CatalogStore, CatalogView
from devtools.generate import INGEST_TIME_FIELD
from app import wiring
from tests.conftest import with_ledger
from tests.serving_layer.conftest import ADMIN_TOKEN
from viewcount.timeutil import HOUR_MS, format_hour, format_ms, hour_floor, now_ms

pytestmark = pytest.mark.integration


@pytest.fixture
def owned(make_speed_scenario, tmp_path):
    """A small counted stream whose catalog (an audit ledger of its own) starts empty."""
    scenario = make_speed_scenario(events=400, days=0.2, produce=True)
    scenario.run()
    scenario.settings = with_ledger(scenario.settings, (tmp_path / "audit").as_uri())
    videos = {v: t for v, t in scenario.truth["videos"].items() if t["views"]}
    victim = max(videos, key=lambda v: videos[v]["views"])
    owner = videos[victim]["creator_id"]
    other = next(t["creator_id"] for t in videos.values() if t["creator_id"] != owner)
    return scenario, victim, owner, other


def forged_view(video: str, creator: str, event_id: str) -> bytes:
    now = format_ms(now_ms())
    return json.dumps({"event_id": event_id, "video_id": video, "creator_id": creator, "viewer_id": "mallory",
                       "event_time": now, "watch_ms": 60000, INGEST_TIME_FIELD: now}).encode()


def listing(api, creator):
    return {v["video_id"]: v["views"] for v in api.get(f"/v1/creators/{creator}/views", api.creator_key(creator))
            .json()["videos"]}


def test_one_forged_view_through_kafka_takes_nothing_over(owned, make_api):
    scenario, victim, owner, attacker = owned
    truth = scenario.truth["videos"][victim]["views"]
    scenario.produce([forged_view(victim, attacker, "forged-1")])
    counter = scenario.run()                                   # picks up where the fixture's run stopped
    api = make_api(scenario)

    mine = api.get(f"/v1/videos/{victim}/views", api.creator_key(owner))
    assert mine.status_code == 200 and mine.json()["creator_id"] == owner
    assert mine.json()["views"] == truth + 1                      # the view happened: it counts
    assert api.get(f"/v1/videos/{victim}/views", api.creator_key(attacker)).status_code == 404
    assert listing(api, owner)[victim] == truth + 1 and victim not in listing(api, attacker)
    assert counter.metrics.owner_mismatch._value.get() == 1


def test_the_admin_moves_a_video_through_the_catalog_and_the_api_follows(owned, make_api):
    scenario, victim, owner, new_owner = owned
    catalog = CatalogView(wiring.catalog_store(scenario.settings))
    api = make_api(scenario, catalog=catalog)
    path = f"/v1/admin/videos/{victim}"
    this_hour = format_hour(hour_floor(now_ms()))
    body = {"creator_id": new_owner, "effective_from": this_hour}
    assert api.put(path, api.creator_key(owner), json=body).status_code == 403
    assert api.put(path, None, json=body).status_code == 401
    assert api.put(path, None, json={"junk": 1}).status_code == 401          # the token first, then the body
    assert api.put(path, api.creator_key(owner), json={"junk": 1}).status_code == 403
    for bad in ({"creator_id": "bad id!"}, {"creator_id": new_owner, "effective_from": "2026-11-26T06:30:00Z"},
                {"creator_id": new_owner, "extra": 1}, {}, "not an object"):
        answer = api.put(path, ADMIN_TOKEN, json=bad)
        assert answer.status_code == 422 and "Traceback" not in answer.text, bad
    assert api.get(path, ADMIN_TOKEN).status_code == 404          # no entry yet

    moved = api.put(path, ADMIN_TOKEN, json=body)
    assert moved.status_code == 200, moved.text
    assert moved.json()["creator_id"] == new_owner
    assert moved.json()["history"] == [{"creator_id": new_owner, "effective_from": this_hour,
                                        "audit_seq": moved.json()["audit_seq"]}]
    record = AuditLedger(wiring.file_store(scenario.settings, scenario.settings.audit_store)).records()[-1]
    assert (record["kind"], record["actor"], record["payload"]["video_id"]) == ("ownership", "admin-token (API)", victim)

    assert api.get(f"/v1/videos/{victim}/views", api.creator_key(new_owner)).json()["creator_id"] == new_owner
    assert api.get(f"/v1/videos/{victim}/views", api.creator_key(owner)).status_code == 404
    assert victim in listing(api, new_owner) and victim not in listing(api, owner)

    # An assignment from the next hour (the default) leaves the current owner in place until then.
    later = api.put(path, ADMIN_TOKEN, json={"creator_id": owner})
    assert later.status_code == 200 and later.json()["creator_id"] == new_owner
    assert later.json()["history"][-1]["effective_from"] == format_hour(hour_floor(now_ms()) + HOUR_MS)

    # A month that is billed takes no assignment.
    CatalogStore(wiring.audit_ledger(scenario.settings)).ledger.append(
        "payout", {"period": this_hour[:7], "creator_id": owner}, {})
    refused = api.put(path, ADMIN_TOKEN, json=body)
    assert refused.status_code == 409 and "already billed" in refused.json()["detail"]


def test_under_catalog_ownership_an_unassigned_video_is_the_admins_alone(owned, make_api):
    scenario, victim, owner, _ = owned
    api = make_api(scenario, settings=scenario.settings.replace(ownership="catalog"))
    answer = api.get(f"/v1/videos/{victim}/views", ADMIN_TOKEN)
    assert answer.status_code == 200 and answer.json()["creator_id"] is None
    assert answer.json()["views"] == scenario.truth["videos"][victim]["views"]
    assert api.get(f"/v1/videos/{victim}/views", api.creator_key(owner)).status_code == 404
    assert victim not in listing(api, owner)
