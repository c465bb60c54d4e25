"""KAFKA_CONFIG_FILE: the property names operators write, checked, and handed to each driver under
its own names; secrets never in a repr or in `viewcount config`."""

from __future__ import annotations

import pytest

from adapters.kafka.exceptions import KafkaSeamError
from adapters.kafka.security import KafkaSecurity

SASL_SSL = """
# production cluster
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.username=viewcount
sasl.password=s3cret=with=equals
ssl.ca.location=/etc/kafka/ca.pem
"""


def test_properties_reach_each_driver_under_its_own_names():
    security = KafkaSecurity.from_properties(SASL_SSL)
    assert security.librdkafka() == {
        "security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "viewcount",
        "sasl.password": "s3cret=with=equals", "ssl.ca.location": "/etc/kafka/ca.pem"}
    assert security.kafka_python() == {
        "security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": "viewcount",
        "sasl_plain_password": "s3cret=with=equals", "ssl_cafile": "/etc/kafka/ca.pem"}


def test_secrets_are_masked_and_kept_out_of_the_repr():
    security = KafkaSecurity.from_properties(SASL_SSL + "ssl.key.password=k3y\n")
    assert "s3cret" not in repr(security) and "k3y" not in repr(security)
    assert security.masked() == {"security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512",
                                 "sasl.username": "viewcount", "sasl.password": "***",
                                 "ssl.ca.location": "/etc/kafka/ca.pem", "ssl.key.password": "***"}


def test_no_file_means_plain_text_and_nothing_extra():
    assert KafkaSecurity().librdkafka() == {"security.protocol": "PLAINTEXT"}
    assert KafkaSecurity.from_properties("").kafka_python() == {"security_protocol": "PLAINTEXT"}


@pytest.mark.parametrize("text, message", [
    ("security.protocol=SASL_SSL\nsasl.jaas.config=x\n", "line 2: unknown property 'sasl.jaas.config'"),
    ("security.protcol=SSL\n", "unknown property 'security.protcol'"),
    ("security.protocol\n", "line 1: expected name=value"),
    ("security.protocol=TLS\n", "expected one of PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL"),
    ("security.protocol=SASL_SSL\nsasl.mechanism=PLAIN\nsasl.username=u\n", "needs sasl.mechanism"),
    ("security.protocol=SASL_SSL\nsasl.mechanism=GSSAPI\nsasl.username=u\nsasl.password=p\n", "needs sasl.mechanism"),
    ("sasl.username=u\nsasl.password=p\n", "would not be used"),
])
def test_a_mistake_is_refused_by_name_rather_than_connecting_in_plain_text(text, message):
    with pytest.raises(KafkaSeamError, match=message.replace("(", r"\(")):
        KafkaSecurity.from_properties(text)
