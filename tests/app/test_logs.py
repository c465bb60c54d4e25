"""Log lines: the JSON format's fields, and a real layer process logging JSON lines only."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import uuid

import pytest

from app import wiring
from app.logs import JsonFormatter, RedactingFilter
from viewcount.logfields import where


def line(**kw) -> dict:
    record = logging.LogRecord("speed_layer.counter", logging.WARNING, __file__, 1, "conflict at %s", (7,), None)
    for name, value in kw.items():
        setattr(record, name, value)
    return json.loads(JsonFormatter().format(record))


def test_a_json_line_has_the_fields_and_the_place_of_the_record():
    plain = line()
    assert set(plain) == {"time", "level", "logger", "message"}
    assert plain["level"] == "WARNING" and plain["logger"] == "speed_layer.counter" and plain["message"] == "conflict at 7"
    assert plain["time"].endswith("Z") and len(plain["time"]) == len("2026-11-26T09:30:06.123Z")
    placed = line(**where("views", 3, 41))
    assert (placed["topic"], placed["partition"], placed["offset"]) == ("views", 3, 41)
    assert "offset" not in line(**where("views", 3))


def test_an_exception_goes_in_its_own_field():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    out = json.loads(JsonFormatter().format(record))
    assert out["message"] == "failed" and "ValueError: boom" in out["exception"]


@pytest.mark.parametrize("url, shown", [
    ("/webhdfs/v1/a?delegation=JgAJ-_x1&op=OPEN", "/webhdfs/v1/a?delegation=***&op=OPEN"),
    ("/webhdfs/v1/a?op=OPEN&delegation=JgAJ-_x1", "/webhdfs/v1/a?op=OPEN&delegation=***"),
    ("/webhdfs/v1/a?op=OPEN", "/webhdfs/v1/a?op=OPEN"),
])
def test_secrets_in_logged_urls_are_masked(url, shown):
    record = logging.LogRecord("urllib3.connectionpool", logging.DEBUG, __file__, 1, '%s "%s %s"',
                               ("http://nn:9870", "GET", url), None)
    assert RedactingFilter().filter(record)
    assert record.getMessage() == f'http://nn:9870 "GET {shown}"'


@pytest.mark.integration
def test_a_layer_process_writes_only_json_lines(stack, stack_settings, make_topic):
    topic = make_topic(partitions=2)
    settings = stack_settings.replace(topic=topic, topic_partitions=2, redis_prefix=f"lg{uuid.uuid4().hex[:6]}",
                                      speed_group=f"{topic}-speed", log_format="json")
    producer = wiring.producer(settings)
    try:
        for partition in (0, 1):
            producer.send(topic, b'{"not": "a view"}', partition=partition)
        producer.flush()
    finally:
        producer.close()
    done = subprocess.run([sys.executable, "-m", "app", "speed", "--until-idle", "1"], capture_output=True, text=True,
                          env={**os.environ, **settings.to_env()}, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [json.loads(text) for text in done.stderr.splitlines() if text.strip()]
    assert lines and all({"time", "level", "logger", "message"} <= set(entry) for entry in lines)
    assigned = [entry for entry in lines if entry["message"].startswith("assigned")]
    assert sorted(entry["partition"] for entry in assigned) == [0, 1] and {e["topic"] for e in assigned} == {topic}
