"""The traffic generator: every kind of record, deterministic, and truth.json from the rules."""

import json

import pytest

from devtools.generate import INGEST_TIME_FIELD, compute_truth, generate
from ingestion.produce import ingest_time_of
from viewcount.rules import RuleSettings, SourceRecord
from viewcount.settings import Settings
from viewcount.timeutil import DAY_MS, parse_rfc3339_ms
from tests.viewcount.test_rules import reference

END = parse_rfc3339_ms("2026-11-21T12:00:00Z")


@pytest.fixture(scope="module")
def traffic(tmp_path_factory):
    settings = Settings.from_env({})
    return generate(3000, 11, tmp_path_factory.mktemp("gen"), END - 3 * DAY_MS, END,
                    settings.rules, settings.as_public_dict())


def test_every_kind_of_record_is_present(traffic):
    outcomes = traffic.truth["outcomes"]
    for outcome in ("counted", "duplicate", "conflicting", "too_old", "from_future", "unqualified",
                    "capped", "invalid"):
        assert outcomes.get(outcome, 0) > 0, outcome
    assert sum(outcomes.values()) == traffic.truth["records"] == traffic.lines == 3000


def test_the_file_has_every_hostile_line_and_same_event_id_on_other_videos(traffic):
    lines = traffic.events_path.read_bytes().split(b"\n")[:-1]
    assert any(b"\xff" in line for line in lines)
    assert any(line.startswith(b"[" * 1000) for line in lines)
    objects = [json.loads(line) for line in lines if line.startswith(b"{") and line.endswith(b"}")
               and len(line) < 5000 and b"\xff" not in line]
    videos_per_event = {}
    for obj in objects:
        videos_per_event.setdefault(obj.get("event_id"), set()).add(obj.get("video_id"))
    assert any(len(v) > 1 for v in videos_per_event.values())


def test_ingest_times_never_go_backwards_and_unstampable_lines_come_last(traffic):
    lines = traffic.events_path.read_bytes().split(b"\n")[:-1]
    stamps = [ingest_time_of(line, INGEST_TIME_FIELD) for line in lines]
    first_unstamped = stamps.index(None)
    assert all(s is None for s in stamps[first_unstamped:])
    known = stamps[:first_unstamped]
    assert known == sorted(known) and END - 3 * DAY_MS <= known[0] and known[-1] <= END


def test_the_same_seed_gives_the_same_bytes(tmp_path, traffic):
    settings = Settings.from_env({})
    again = generate(3000, 11, tmp_path, END - 3 * DAY_MS, END, settings.rules, settings.as_public_dict())
    assert again.events_path.read_bytes() == traffic.events_path.read_bytes()
    other = generate(3000, 12, tmp_path / "other", END - 3 * DAY_MS, END, settings.rules,
                     settings.as_public_dict())
    assert other.events_path.read_bytes() != traffic.events_path.read_bytes()


def test_truth_agrees_with_the_brute_force_reference(traffic):
    lines = traffic.events_path.read_bytes().split(b"\n")[:-1]
    last, records = 0, []
    for offset, line in enumerate(lines):
        last = max(last, ingest_time_of(line, INGEST_TIME_FIELD) or last)
        records.append(SourceRecord(offset % 4, offset, last, line))
    outcomes = reference(records, RuleSettings())
    assert {o.value: outcomes.count(o) for o in set(outcomes)} == traffic.truth["outcomes"]
    assert sum(v["views"] for v in traffic.truth["videos"].values()) == traffic.truth["total_views"]
    for video in traffic.truth["videos"].values():
        assert sum(video["hourly"].values()) == video["views"]


def test_truth_is_written_with_its_inputs(traffic):
    written = json.loads(traffic.truth_path.read_text())
    assert written["generator"]["seed"] == 11
    assert written["settings"]["MAX_EVENT_AGE"] == "7d"
    assert written["rules_version"] == 2
    assert compute_truth([], RuleSettings())["total_views"] == 0


def test_too_few_events_is_refused(tmp_path):
    settings = Settings.from_env({})
    with pytest.raises(ValueError):
        generate(3, 1, tmp_path, END - DAY_MS, END, settings.rules, settings.as_public_dict())
