"""Key files: read and checked whole, written 0600 and atomically, followed while a process runs."""

from __future__ import annotations

import json
import os
import stat

import pytest

from adapters.files.exceptions import KeyFileError
from adapters.files.keyfile import KeyFile, read_key_file, write_json_0600

A, B = "a" * 64, "b" * 64


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def valid(name: str) -> bool:
    return name.isidentifier()


def test_written_atomically_and_readable_by_the_owner_only(tmp_path):
    path = tmp_path / "deep" / "keys.json"
    write_json_0600(str(path), {A: "one"})
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    assert read_key_file(str(path), valid, "keys file") == {A: "one"}
    assert [p.name for p in path.parent.iterdir()] == ["keys.json"]   # no temporary left behind


@pytest.mark.parametrize("content, message", [
    ("{", "Expecting"), ("[]", "expected a JSON object"), (json.dumps({"ABC": "x"}), "not a lowercase SHA-256"),
    (json.dumps({A: "not valid!"}), "maps to 'not valid!', not a valid creator_id"),
])
def test_a_bad_file_is_refused_naming_the_entry(tmp_path, content, message):
    path = tmp_path / "keys.json"
    path.write_text(content)
    with pytest.raises(KeyFileError, match=message):
        read_key_file(str(path), valid, "keys file", "creator_id")


def test_changes_are_followed_at_most_once_a_second(tmp_path):
    path, clock = str(tmp_path / "keys.json"), Clock()
    write_json_0600(path, {A: "one"})
    keys = KeyFile(path, valid, "keys file", clock=clock)
    assert keys.get(A) == "one" and keys.get(B) is None
    write_json_0600(path, {B: "two"})     # A revoked, B issued
    clock.now += 0.5
    assert keys.get(A) == "one"           # not looked at yet
    clock.now += 0.6
    assert keys.get(A) is None and keys.get(B) == "two" and len(keys) == 1


def test_a_file_broken_while_running_keeps_the_previous_keys(tmp_path, caplog):
    path, clock = tmp_path / "keys.json", Clock()
    write_json_0600(str(path), {A: "one"})
    keys = KeyFile(str(path), valid, "keys file", clock=clock)
    path.write_text("{ half written")
    clock.now += 2
    with caplog.at_level("ERROR"):
        assert keys.get(A) == "one"
    assert "the previous 1 keys stay in force" in caplog.text
    write_json_0600(str(path), {B: "two"})
    clock.now += 2
    assert keys.get(A) is None and keys.get(B) == "two"


def test_a_file_that_does_not_exist_yet_holds_no_keys_until_it_does(tmp_path, caplog):
    path, clock = str(tmp_path / "keys.json"), Clock()
    with caplog.at_level("WARNING"):
        keys = KeyFile(path, valid, "keys file", clock=clock)
    assert "does not exist yet" in caplog.text and keys.get(A) is None
    write_json_0600(path, {A: "one"})
    clock.now += 1.1
    assert keys.get(A) == "one"
