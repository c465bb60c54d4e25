"""`viewcount keys issue | list | revoke` (CONTRACT §4), and a running API and collector following
the keys files without a restart: a revoked key is refused within 5 s."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time

import httpx
import pytest

from app import wiring
from app.cli import main
from devtools.sandbox import wait_for
from tests.conftest import serving

ADMIN = "keys-test-admin-token-of-32-chars!"


def keys(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["keys", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_issue_list_and_revoke(tmp_path, capsys):
    path = str(tmp_path / "api-keys.json")
    code, first, _ = keys(capsys, "issue", "creator_7", "--file", path)
    assert code == 0 and first.startswith("vck_")
    _, second, _ = keys(capsys, "issue", "creator_9", "--file", path)
    digest = lambda key: hashlib.sha256(key.strip().encode()).hexdigest()  # noqa: E731
    assert json.loads(open(path).read()) == {digest(first): "creator_7", digest(second): "creator_9"}
    for written in (path, path + ".issued"):
        assert stat.S_IMODE(os.stat(written).st_mode) == 0o600

    code, listed, _ = keys(capsys, "list", "--file", path)
    rows = [line.split() for line in listed.splitlines()[1:]]
    assert code == 0 and [(r[0], r[1]) for r in rows] == [(digest(first)[:12], "creator_7"),
                                                          (digest(second)[:12], "creator_9")]
    assert all(r[2].endswith("Z") for r in rows)      # when each was issued
    assert "vck_" not in listed                        # keys are never shown again

    assert keys(capsys, "revoke", digest(first)[:12], "--file", path)[0] == 0
    assert keys(capsys, "revoke", second.strip(), "--file", path)[0] == 0   # the key itself works too
    assert json.loads(open(path).read()) == {}
    issued = json.loads(open(path + ".issued").read())
    assert all(entry["revoked"].endswith("Z") for entry in issued.values())


@pytest.mark.parametrize("argv, message", [
    (["revoke", "abc"], "at least 8 hex digits"),
    (["revoke", "zzzzzzzzzz"], "at least 8 hex digits"),
    (["revoke", "00000000"], "no key in"),
    (["issue", "bad id"], "CREATOR_ID must match"),
])
def test_refusals_say_why(tmp_path, capsys, argv, message):
    path = str(tmp_path / "api-keys.json")
    keys(capsys, "issue", "creator_7", "--file", path)
    code, _, err = keys(capsys, *argv, "--file", path)
    assert code == 1 and message in err


def test_an_ambiguous_prefix_revokes_nothing(tmp_path, capsys):
    path = str(tmp_path / "api-keys.json")
    from adapters.files.keyfile import write_json_0600

    write_json_0600(path, {"abcdef01" + "0" * 56: "creator_1", "abcdef01" + "1" * 56: "creator_2"})
    code, _, err = keys(capsys, "revoke", "abcdef01", "--file", path)
    assert code == 1 and "matches 2 keys" in err and len(json.loads(open(path).read())) == 2


@pytest.mark.integration
def test_a_running_api_refuses_a_revoked_key_within_5_s(stack, stack_settings, tmp_path, capsys):
    path = str(tmp_path / "api-keys.json")
    _, key, _ = keys(capsys, "issue", "creator_7", "--file", path)
    settings = stack_settings.replace(api_keys_file=path, admin_token=ADMIN, redis_prefix=f"k{tmp_path.name[-8:]}",
                                      audit_store=(tmp_path / "audit").as_uri())
    with serving(wiring.api_app(settings)) as base:
        ask = lambda k: httpx.get(f"{base}/v1/creators/creator_7/views",  # noqa: E731
                                  headers={"Authorization": f"Bearer {k.strip()}"}, timeout=5).status_code
        assert ask(key) == 200
        _, later, _ = keys(capsys, "issue", "creator_7", "--file", path)    # issued while it runs
        wait_for(lambda: ask(later) == 200, 5, interval_s=0.1, what="the new key to be accepted")
        digest = hashlib.sha256(key.strip().encode()).hexdigest()
        assert keys(capsys, "revoke", digest[:12], "--file", path)[0] == 0
        revoked = time.monotonic()
        wait_for(lambda: ask(key) == 401, 5, interval_s=0.1, what="the revoked key to be refused")
        print(f"revoked key refused after {time.monotonic() - revoked:.2f} s")
        assert ask(later) == 200


@pytest.mark.integration
def test_a_running_collector_follows_its_write_keys_file(stack, stack_settings, tmp_path):
    from adapters.files.keyfile import write_json_0600
    from tests.collector.test_collector import GOOD_KEYS_SOURCE, collector_settings

    settings = collector_settings(stack_settings, tmp_path)
    app, clients = wiring.collector_app(settings)
    new_key = "wk_rotated_" + "r" * 30
    post = lambda base, k: httpx.post(f"{base}/v1/events", content=b'{"not": "a view"}', timeout=10,  # noqa: E731
                                      headers={"Authorization": f"Bearer {k}", "Content-Type": "application/x-ndjson"})
    try:
        with serving(app) as base:
            assert post(base, new_key).status_code == 401
            write_json_0600(settings.collector_keys_file,
                            {**GOOD_KEYS_SOURCE, hashlib.sha256(new_key.encode()).hexdigest(): "rotated-player"})
            wait_for(lambda: post(base, new_key).status_code == 202, 5, interval_s=0.1, what="the new write key")
            write_json_0600(settings.collector_keys_file, GOOD_KEYS_SOURCE)
            wait_for(lambda: post(base, new_key).status_code == 401, 5, interval_s=0.1, what="the removed write key")
    finally:
        for client in clients:
            client.close()
