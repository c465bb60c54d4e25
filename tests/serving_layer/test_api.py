"""The HTTP API on the real Redis, over state the real speed layer wrote: answers equal
truth.json, the auth matrix, hostile ids, rate limits, metrics and logs."""

from __future__ import annotations

import json
import logging
from collections import Counter

import pytest

from serving_layer.ratelimit import RateLimiter
from app import wiring
from tests.serving_layer.conftest import ADMIN_TOKEN

pytestmark = pytest.mark.integration


def creators_of(truth) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for video, t in truth["videos"].items():
        if t["views"]:
            out.setdefault(t["creator_id"], {})[video] = t["views"]
    return out


def test_every_video_and_creator_equals_the_truth(make_api, counted):
    api = make_api(counted)
    for video, truth in counted.truth["videos"].items():
        answer = api.get(f"/v1/videos/{video}/views", ADMIN_TOKEN)
        assert answer.status_code == 200, answer.text
        doc = answer.json()
        assert set(doc) == {"video_id", "creator_id", "views", "batch_views", "speed_views", "batch_watermark", "as_of"}
        assert doc["views"] == doc["batch_views"] + doc["speed_views"] == truth["views"]
        assert doc["creator_id"] == truth["creator_id"] and doc["batch_watermark"] is None
        assert doc["as_of"].endswith("Z")
        hourly = api.get(f"/v1/videos/{video}/views/hourly", ADMIN_TOKEN).json()
        assert {h["hour"]: h["views"] for h in hourly["hours"]} == truth["hourly"]
    for creator, videos in creators_of(counted.truth).items():
        doc = api.get(f"/v1/creators/{creator}/views", api.creator_key(creator)).json()
        assert doc["views"] == sum(videos.values())
        assert {v["video_id"]: v["views"] for v in doc["videos"]} == videos


def test_hourly_range_is_from_inclusive_to_exclusive(make_api, counted):
    api = make_api(counted)
    video, truth = max(counted.truth["videos"].items(), key=lambda kv: len(kv[1]["hourly"]))
    hours = sorted(truth["hourly"])
    low, high = hours[1], hours[-1]
    doc = api.get(f"/v1/videos/{video}/views/hourly", ADMIN_TOKEN, params={"from": low, "to": high}).json()
    assert [h["hour"] for h in doc["hours"]] == [h for h in hours if low <= h < high]
    for params in ({"from": "yesterday"}, {"to": "2026-13-01T00:00:00Z"}, {"from": high, "to": low}):
        answer = api.get(f"/v1/videos/{video}/views/hourly", ADMIN_TOKEN, params=params)
        assert answer.status_code == 422 and answer.json()["error"] == "invalid_request", params


def test_the_auth_matrix(make_api, counted):
    api = make_api(counted)
    owners = creators_of(counted.truth)
    mine, theirs = sorted(owners)[:2]
    my_video, their_video = next(iter(owners[mine])), next(iter(owners[theirs]))
    me = api.creator_key(mine)
    cases = [
        # (path, token, status)
        (f"/v1/videos/{my_video}/views", None, 401),
        (f"/v1/videos/{my_video}/views", "not-a-key", 401),
        (f"/v1/videos/{my_video}/views", me, 200),
        (f"/v1/videos/{my_video}/views/hourly", me, 200),
        (f"/v1/videos/{their_video}/views", me, 404),
        (f"/v1/videos/{their_video}/views/hourly", me, 404),
        ("/v1/videos/vid_never_seen/views", me, 404),
        ("/v1/videos/vid_never_seen/views", ADMIN_TOKEN, 404),
        (f"/v1/videos/{their_video}/views", ADMIN_TOKEN, 200),
        (f"/v1/creators/{mine}/views", me, 200),
        (f"/v1/creators/{theirs}/views", me, 404),
        (f"/v1/creators/{theirs}/views", ADMIN_TOKEN, 200),
        ("/v1/creators/creator_never_seen/views", ADMIN_TOKEN, 404),
        (f"/v1/creators/{mine}/views", None, 401),
        ("/v1/videos/bad!id/views", me, 422),
        ("/v1/videos/bad!id/views", ADMIN_TOKEN, 422),
        ("/v1/creators/bad!id/views", ADMIN_TOKEN, 422),
        ("/v1/videos/bad!id/views", None, 401),
    ]
    got = [(path, token, api.get(path, token).status_code) for path, token, _ in cases]
    assert got == cases
    unauthorized = api.get(f"/v1/videos/{my_video}/views")
    assert unauthorized.headers["www-authenticate"] == "Bearer"
    assert unauthorized.json() == {"error": "unauthorized", "detail": "a valid bearer token is required"}
    # A 404 for another creator's video reads exactly as one for a video that does not exist.
    assert api.get(f"/v1/videos/{their_video}/views", me).json() == \
        api.get("/v1/videos/vid_never_seen/views", me).json()


class RecordingStore:
    """The real reader, noting every id that reaches it."""

    def __init__(self, store) -> None:
        self._store, self.ids = store, []

    async def video_views(self, video_id, topic=None, **kwargs):
        self.ids.append(video_id)
        return await self._store.video_views(video_id, topic, **kwargs)

    async def creator_views(self, creator_id, topic=None):
        self.ids.append(creator_id)
        return await self._store.creator_views(creator_id, topic)

    def __getattr__(self, name):
        return getattr(self._store, name)


HOSTILE = ["..%2F..%2Fetc%2Fpasswd", "%2e%2e", "a" * 65, "v%C3%AFd", "vid*", "vid:1", "vid%3Fx", "vid[1]",
           "vid%20one", "vid%0A", "%00", "vid%5C1", "%F0%9F%98%80", "vc:bp", "{vid}", "'%3B--"]


@pytest.mark.parametrize("route", ["/v1/videos/{}/views", "/v1/videos/{}/views/hourly", "/v1/creators/{}/views"])
def test_hostile_ids_never_reach_redis(make_api, counted, route):
    store = RecordingStore(wiring.serving_reader(counted.settings))
    api = make_api(counted, store=store)
    for bad in HOSTILE:
        answer = api.get(route.format(bad), ADMIN_TOKEN)
        assert answer.status_code in (404, 422), (bad, answer.status_code)
        body = answer.json()
        assert set(body) == {"error", "detail"} and "Traceback" not in answer.text and "redis" not in answer.text.lower()
    assert store.ids == []


def test_a_creator_key_is_rate_limited_and_the_admin_is_not(make_api, counted):
    api = make_api(counted, rate_limit=RateLimiter(rate_per_s=0.5, burst=3))
    creator, videos = next(iter(creators_of(counted.truth).items()))
    path = f"/v1/videos/{next(iter(videos))}/views"
    statuses = [api.get(path, api.creator_key(creator)).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    limited = api.get(path, api.creator_key(creator))
    assert limited.json()["error"] == "rate_limited" and int(limited.headers["retry-after"]) >= 1
    assert all(api.get(path, ADMIN_TOKEN).status_code == 200 for _ in range(10))
    assert api.metrics.rate_limited._value.get() == 3


def test_metrics_access_log_docs_and_health(make_api, counted, caplog):
    api = make_api(counted)
    video = next(iter(counted.truth["videos"]))
    with caplog.at_level(logging.INFO, logger="serving_layer.access"):
        api.get(f"/v1/videos/{video}/views", ADMIN_TOKEN)
        api.get("/v1/videos/x/views")
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "serving_layer.access"]
    assert [(line["route"], line["status"], line["principal"]) for line in lines] == [
        ("/v1/videos/{video_id}/views", 200, "admin"), ("/v1/videos/{video_id}/views", 401, None)]
    metrics = api.get("/metrics").text
    assert 'viewcount_api_request_seconds_bucket{le="0.01",method="GET",route="/v1/videos/{video_id}/views",status="200"}' in metrics
    assert api.get("/healthz").json() == {"status": "ok"}
    ready = api.get("/readyz").json()
    assert ready["status"] == "ready" and ready["batch_version"] is None
    paths = api.get("/openapi.json").json()["paths"]
    assert {"/v1/videos/{video_id}/views", "/v1/videos/{video_id}/views/hourly", "/v1/creators/{creator_id}/views"} <= set(paths)
    assert api.get("/docs").status_code == 200
    assert "uPlot" in api.get("/dashboard/").text and api.get("/dashboard/vendor/uPlot.iife.min.js").status_code == 200


def test_unknown_routes_and_methods_answer_json(make_api, counted):
    api = make_api(counted)
    assert api.get("/v2/nothing", ADMIN_TOKEN).json() == {"error": "not_found", "detail": "no such resource"}
    assert api.client.post("/v1/videos/x/views").status_code == 405


def test_counts_of_many_reads_are_exact_under_concurrency(make_api, counted):
    """Many threads read at once (one TestClient per thread): every answer equals the truth."""
    from concurrent.futures import ThreadPoolExecutor

    api = make_api(counted)
    videos = list(counted.truth["videos"].items())[:40]

    def read(item):
        video, truth = item
        return api.get(f"/v1/videos/{video}/views", ADMIN_TOKEN).json()["views"] == truth["views"]

    with ThreadPoolExecutor(8) as pool:
        assert Counter(pool.map(read, videos * 5)) == Counter({True: len(videos) * 5})


def test_failed_authentications_are_paced_per_address(make_api, counted):
    from serving_layer.app import create_app
    from serving_layer.auth import Authenticator
    from fastapi.testclient import TestClient

    failed = RateLimiter(rate_per_s=0.01, burst=3)
    app = create_app(wiring.serving_reader(counted.settings), Authenticator(ADMIN_TOKEN, {}), None,
                     counted.settings.topic, failed_auth=failed)
    video = next(iter(counted.truth["videos"]))
    with TestClient(app) as client:
        get = lambda token: client.get(f"/v1/videos/{video}/views",  # noqa: E731
                                       headers={"Authorization": f"Bearer {token}"})
        assert [get(f"guess-{i}").status_code for i in range(3)] == [401, 401, 401]
        locked = get(ADMIN_TOKEN)           # the address is locked out: even the right token waits
        assert locked.status_code == 429 and int(locked.headers["retry-after"]) >= 1
        assert "failed authentications" in locked.json()["detail"]
    assert failed.wait("someone-else") == 0   # per address: other clients are not held up
