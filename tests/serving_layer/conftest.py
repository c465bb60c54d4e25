"""Factories for API tests: the real speed layer's state in the session's Redis, an app on it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from serving_layer.app import create_app
from serving_layer.auth import Authenticator, key_digest
from serving_layer.metrics import ServeMetrics
from serving_layer.ratelimit import RateLimiter
from tests.speed_layer.conftest import make_speed_scenario  # noqa: F401  (the traffic factory)
from app import wiring

ADMIN_TOKEN = "admin-test-token-of-thirty-two-chars"


@dataclass
class Api:
    client: TestClient
    scenario: object
    keys: dict[str, str]            # creator → its API key
    metrics: ServeMetrics

    def get(self, path: str, token: str | None = None, **kwargs):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.client.get(path, headers=headers, **kwargs)

    def put(self, path: str, token: str | None = None, **kwargs):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.client.put(path, headers=headers, **kwargs)

    def creator_key(self, creator: str) -> str:
        return self.keys[creator]


@pytest.fixture
def make_api():
    clients = []

    def make(scenario, rate_limit: RateLimiter | None = None, store=None, catalog=None, settings=None) -> Api:
        """``catalog``: the video catalog the API reads and writes (default: the settings' ledger)."""
        settings = settings or scenario.settings
        creators = sorted({v["creator_id"] for v in scenario.truth["videos"].values()})
        keys = {c: f"key-of-{c}" for c in creators}
        metrics = ServeMetrics()
        catalog = catalog or wiring.catalog_view(settings)
        app = create_app(store or wiring.serving_reader(settings, catalog=catalog),
                         Authenticator(ADMIN_TOKEN, {key_digest(k): c for c, k in keys.items()}),
                         rate_limit, settings.topic, metrics, catalog=catalog)
        # Entered: one event loop for the client's life, as uvicorn has (the Redis pool lives in it).
        client = TestClient(app, raise_server_exceptions=False).__enter__()
        clients.append(client)
        return Api(client, scenario, keys, metrics)

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def counted(make_speed_scenario):
    """One small stream, counted by the real speed layer (shared by the read-only API tests)."""
    scenario = make_speed_scenario(events=3000, days=0.5)
    scenario.run()
    return scenario
