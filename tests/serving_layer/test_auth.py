"""Who may read what: admin token, creator keys by digest, the keys file."""

from __future__ import annotations

import json

import pytest

from serving_layer.auth import ADMIN, Authenticator, Principal, key_digest, load_api_keys, new_api_key
from serving_layer.exceptions import ServingConfigError


SECRET = "s3cret-admin-token-of-thirty-two-chars"


def test_admin_token_creator_keys_and_everything_else():
    auth = Authenticator(SECRET, {key_digest("k1"): "creator_1"})
    assert auth.authenticate(f"Bearer {SECRET}") == ADMIN
    assert auth.authenticate("bearer  k1 ") == Principal("creator_1")
    for header in (None, "", "Bearer", "Bearer ", f"Basic {SECRET}", SECRET, f"Bearer {SECRET}2", "Bearer K1",
                   "Bearer " + key_digest("k1")):
        assert auth.authenticate(header) is None, header


def test_an_admin_token_shorter_than_32_characters_is_refused():
    with pytest.raises(ServingConfigError, match="at least 32"):
        Authenticator("s3cret", {})


def test_no_admin_token_configured_means_no_admin():
    auth = Authenticator("", {})
    assert auth.authenticate("Bearer ") is None and auth.authenticate("Bearer x") is None


def test_a_creator_reads_only_its_own():
    creator = Principal("c1")
    assert creator.may_read("c1") and not creator.may_read("c2") and not creator.may_read(None)
    assert ADMIN.may_read("c2") and ADMIN.may_read(None)


def test_new_keys_are_random_and_only_their_digest_is_kept(tmp_path):
    a, b = new_api_key(), new_api_key()
    assert a != b and len(a) > 40
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({key_digest(a): "creator_1"}))
    assert load_api_keys(str(path)) == {key_digest(a): "creator_1"}
    assert a not in path.read_text()


@pytest.mark.parametrize("content, message", [
    ("not json", "Expecting value"),
    ("[]", "expected a JSON object"),
    ('{"abc": "creator_1"}', "not a lowercase SHA-256"),
    (json.dumps({key_digest("x"): "bad id!"}), "not a valid creator_id"),
    (json.dumps({key_digest("x"): 7}), "not a valid creator_id"),
])
def test_a_bad_keys_file_is_refused_at_start(tmp_path, content, message):
    path = tmp_path / "keys.json"
    path.write_text(content)
    with pytest.raises(ServingConfigError, match=message):
        load_api_keys(str(path))
