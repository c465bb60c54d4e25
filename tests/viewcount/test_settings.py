import json

import pytest

from app.cli import main
from viewcount.errors import SettingsError
from viewcount.settings import Settings, format_duration_ms, parse_duration_ms


def test_defaults_follow_the_contract():
    s = Settings.from_env({})
    assert (s.topic, s.dlq_topic, s.spark_master) == ("video.views.v1", "video.views.v1.dlq", "local[*]")
    assert s.rules.max_event_age_ms == 7 * 86_400_000
    assert s.rules.max_clock_skew_ms == 300_000
    assert (s.min_watch_ms, s.max_views_per_viewer_hour) == (30000, 5)
    assert s.raw_store.startswith("file:///")


@pytest.mark.parametrize("text, ms", [("7d", 604_800_000), ("5m", 300_000), ("1h30m", 5_400_000),
                                      ("250ms", 250), ("90", 90_000), ("0s", 0)])
def test_durations(text, ms):
    assert parse_duration_ms(text) == ms
    assert parse_duration_ms(format_duration_ms(ms)) == ms


@pytest.mark.parametrize("variable, value", [
    ("MAX_EVENT_AGE", "7x"), ("MAX_EVENT_AGE", "-1d"), ("MIN_WATCH_MS", "-5"), ("MIN_WATCH_MS", "abc"),
    ("MAX_VIEWS_PER_VIEWER_HOUR", "0"), ("KAFKA_BOOTSTRAP", "nohost"), ("REDIS_URL", "http://x"),
    ("RAW_STORE", "s3://bucket/x"), ("RAW_STORE", "file://relative"), ("TOPIC_RETENTION", "7d"),
    ("API_KEYS_FILE", "/does/not/exist.json"), ("LOG_LEVEL", "LOUD"), ("NO_SUCH_SETTING", "1"),
    ("DLQ_TOPIC", "video.views.v1"), ("WEBHDFS_URL", "http://127.0.0.1:99999"),
    ("SPARK_DRIVER_MEMORY", "lots"), ("SPARK_DRIVER_MEMORY", "0g"), ("ADMIN_TOKEN", "short-token"),
    ("OWNERSHIP", "latest"), ("RAW_FLUSH_BYTES", "lots"), ("RAW_FLUSH_BYTES", "0"), ("RAW_FLUSH_BYTES", "1MB"),
    ("FAILPOINTS", "speed.decoded,sink.nowhere"), ("HDFS_AUTH", "ldap"),
])
def test_bad_values_fail_naming_the_variable(variable, value):
    with pytest.raises(SettingsError) as failure:
        Settings.from_env({f"VIEWCOUNT_{variable}": value})
    assert f"VIEWCOUNT_{variable}" in str(failure.value)


def test_config_prints_every_setting_with_secrets_masked(capsys, monkeypatch):
    monkeypatch.setenv("VIEWCOUNT_ADMIN_TOKEN", "s3cret-token-of-thirty-two-characters")
    monkeypatch.setenv("VIEWCOUNT_REDIS_URL", "redis://:hunter2@127.0.0.1:6379/0")
    monkeypatch.setenv("VIEWCOUNT_MAX_EVENT_AGE", "3d")
    monkeypatch.setenv("VIEWCOUNT_HDFS_AUTH", "token")
    monkeypatch.setenv("VIEWCOUNT_HDFS_DELEGATION_TOKEN", "JgAJdmlld2NvdW50")
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    printed = json.loads(out)
    assert "s3cret-token" not in out and "hunter2" not in out and "JgAJ" not in out
    assert printed["ADMIN_TOKEN"] == "***" and printed["HDFS_DELEGATION_TOKEN"] == "***"
    assert printed["REDIS_URL"] == "redis://:***@127.0.0.1:6379/0"
    assert printed["MAX_EVENT_AGE"] == "3d"
    for key in ("KAFKA_BOOTSTRAP", "REDIS_URL", "RAW_STORE", "AUDIT_STORE", "SPARK_MASTER", "TOPIC",
                "MAX_EVENT_AGE", "MAX_CLOCK_SKEW", "MIN_WATCH_MS", "MAX_VIEWS_PER_VIEWER_HOUR",
                "ADMIN_TOKEN", "API_KEYS_FILE", "RATE_CARD"):
        assert key in printed


@pytest.mark.parametrize("url, shown", [
    ("redis://:hunter2@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
    ("redis://app:hunter2@redis:6379/0", "redis://app:***@redis:6379/0"),
    ("redis://127.0.0.1:6379/0?password=hunter2", "redis://127.0.0.1:6379/0?password=***"),
    ("rediss://r:6380/0?ssl_cert_reqs=none&Password=hunter2", "rediss://r:6380/0?ssl_cert_reqs=none&Password=***"),
    ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
])
def test_config_masks_a_redis_password_wherever_the_url_carries_it(capsys, monkeypatch, url, shown):
    monkeypatch.setenv("VIEWCOUNT_REDIS_URL", url)
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    assert "hunter2" not in out and json.loads(out)["REDIS_URL"] == shown


def test_a_bad_secret_setting_is_named_without_echoing_its_value():
    with pytest.raises(SettingsError) as failure:
        Settings.from_env({"VIEWCOUNT_REDIS_URL": "http://:hunter2@redis:6379/0"})
    assert "VIEWCOUNT_REDIS_URL" in str(failure.value) and "hunter2" not in str(failure.value)
    with pytest.raises(SettingsError) as failure:
        Settings.from_env({"VIEWCOUNT_ADMIN_TOKEN": "hunter2-but-short"})
    assert "at least 32 characters" in str(failure.value) and "hunter2" not in str(failure.value)


def test_a_bad_setting_makes_any_command_exit_non_zero_with_one_line(capsys, monkeypatch):
    monkeypatch.setenv("VIEWCOUNT_MIN_WATCH_MS", "lots")
    assert main(["config"]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "VIEWCOUNT_MIN_WATCH_MS" in err


def test_settings_survive_a_round_trip_through_the_environment():
    s = Settings.from_env({"VIEWCOUNT_MAX_CLOCK_SKEW": "90s", "VIEWCOUNT_TOPIC": "x"})
    assert Settings.from_env(s.to_env()) == s


def test_a_delegation_token_is_required_where_hdfs_takes_tokens():
    with pytest.raises(SettingsError, match="VIEWCOUNT_HDFS_DELEGATION_TOKEN"):
        Settings.from_env({"VIEWCOUNT_HDFS_AUTH": "token"})
