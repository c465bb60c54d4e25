"""The speed layer and the API on a Redis ACL user that may touch only its own prefix: counts are
exact, nothing outside the prefix is readable, and the password never shows in `viewcount config`."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis

pytestmark = pytest.mark.integration


def acl_user(redis_client, prefix: str) -> tuple[str, str]:
    """A user with every command but the dangerous ones, on keys under ``prefix:`` only."""
    user, password = f"u_{prefix}", secrets.token_hex(16)
    redis_client.execute_command("ACL", "SETUSER", user, "on", f">{password}", "resetkeys", f"~{prefix}:*",
                                 "resetchannels", "+@all", "-@dangerous")
    return user, password


def with_user(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{parts.hostname}:{parts.port}"))


def test_the_speed_layer_counts_exactly_as_a_user_confined_to_its_prefix(make_speed_scenario, redis_client):
    scenario = make_speed_scenario(events=3000, days=0.5)
    user, password = acl_user(redis_client, scenario.settings.redis_prefix)
    scenario.settings = scenario.settings.replace(redis_url=with_user(scenario.settings.redis_url, user, password))
    try:
        scenario.run()
        assert scenario.mismatches() == {}
        confined = redis.Redis.from_url(scenario.settings.redis_url)
        redis_client.set("elsewhere:secret", b"x")
        with pytest.raises(redis.exceptions.NoPermissionError):
            confined.get("elsewhere:secret")
        with pytest.raises(redis.exceptions.NoPermissionError):
            confined.flushall()
        confined.close()

        shown = subprocess.run([sys.executable, "-m", "app", "config"], capture_output=True, text=True,
                               env={**os.environ, **scenario.settings.to_env()}, timeout=60)
        assert shown.returncode == 0 and password not in shown.stdout + shown.stderr
        assert json.loads(shown.stdout)["REDIS_URL"].startswith(f"redis://{user}:***@")
    finally:
        redis_client.execute_command("ACL", "DELUSER", user)
        redis_client.delete("elsewhere:secret")
