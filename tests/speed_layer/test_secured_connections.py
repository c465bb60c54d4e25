"""Production connections for real: the speed layer reads over the broker's SASL/PLAIN listener
with KAFKA_CONFIG_FILE (both Kafka drivers) and counts into Redis over TLS (``rediss://``) as an
ACL user confined to its prefix; exact counts, and no secret in `viewcount config`. A wrong
password fails by name."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.speed_layer.test_redis_acl import acl_user, with_user

pytestmark = pytest.mark.integration

WRONG = "not-the-password-7f3a"


def client_properties(path, password: str) -> str:
    path.write_text("# the stack's SASL/PLAIN listener\n"
                    "security.protocol=SASL_PLAINTEXT\n"
                    "sasl.mechanism=PLAIN\n"
                    "sasl.username=viewcount\n"
                    f"sasl.password={password}\n")
    path.chmod(0o600)
    return str(path)


@pytest.mark.parametrize("driver", ["confluent-kafka", "kafka-python"])
def test_the_speed_layer_counts_exactly_over_sasl_into_a_confined_redis_user_over_tls(
        driver, make_speed_scenario, stack, redis_client, tmp_path):
    kafka = stack.service("kafka")
    scenario = make_speed_scenario(events=2000, days=0.5)
    user, redis_password = acl_user(redis_client, scenario.settings.redis_prefix)
    sasl_password = kafka.sasl_password()
    scenario.settings = scenario.settings.replace(
        kafka_client=driver, kafka_bootstrap=kafka.sasl_address,
        kafka_config_file=client_properties(tmp_path / "client.properties", sasl_password),
        redis_url=with_user(stack.service("redis").tls_address, user, redis_password))
    assert scenario.settings.redis_url.startswith("rediss://")
    try:
        scenario.run()    # produced and counted through the SASL listener
        assert scenario.mismatches() == {}

        shown = subprocess.run([sys.executable, "-m", "app", "config"], capture_output=True, text=True,
                               env={**os.environ, **scenario.settings.to_env()}, timeout=60)
        assert shown.returncode == 0, shown.stderr
        assert sasl_password not in shown.stdout + shown.stderr and redis_password not in shown.stdout
        assert json.loads(shown.stdout)["kafka_client_properties"] == {
            "security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN", "sasl.username": "viewcount",
            "sasl.password": "***"}
    finally:
        redis_client.execute_command("ACL", "DELUSER", user)


def test_a_wrong_sasl_password_fails_with_one_line(stack, stack_settings, tmp_path):
    settings = stack_settings.replace(kafka_bootstrap=stack.service("kafka").sasl_address,
                                      kafka_config_file=client_properties(tmp_path / "bad.properties", WRONG),
                                      audit_topic="audit-sasl-wrong", topic="sasl-wrong", dlq_topic="sasl-wrong.dlq",
                                      kafka_request_timeout=3000)
    done = subprocess.run([sys.executable, "-m", "app", "topics", "create"], capture_output=True, text=True,
                          env={**os.environ, **settings.to_env()}, timeout=120)
    assert done.returncode == 1
    refused, error = done.stderr.strip().splitlines()   # said once, then the command's own error
    assert "refused this client" in refused and "Authentication failed" in refused and "KAFKA_CONFIG_FILE" in refused
    assert error.startswith("viewcount topics: error:")
    assert WRONG not in done.stderr
