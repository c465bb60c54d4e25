"""How the Kafka clients authenticate and encrypt: client properties from ``KAFKA_CONFIG_FILE``.

The file uses the property names operators already write for librdkafka and the Java client
(``security.protocol``, ``sasl.*``, ``ssl.*``), one ``name=value`` per line, ``#`` comments.
Each driver receives them under its own names; anything else in the file is refused by name, so a
typo cannot silently connect in plain text.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from adapters.kafka.exceptions import KafkaSeamError

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")

# property name in the file → field of KafkaSecurity
PROPERTIES = {
    "security.protocol": "protocol",
    "sasl.mechanism": "sasl_mechanism",
    "sasl.mechanisms": "sasl_mechanism",          # librdkafka's older spelling
    "sasl.username": "sasl_username",
    "sasl.password": "sasl_password",
    "ssl.ca.location": "ssl_ca_location",
    "ssl.certificate.location": "ssl_certificate_location",
    "ssl.key.location": "ssl_key_location",
    "ssl.key.password": "ssl_key_password",
}
SECRET_PROPERTIES = ("sasl.password", "ssl.key.password")


@dataclass(frozen=True)
class KafkaSecurity:
    protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_ca_location: str | None = None
    ssl_certificate_location: str | None = None
    ssl_key_location: str | None = None
    ssl_key_password: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise KafkaSeamError(f"security.protocol {self.protocol!r}: expected one of {', '.join(PROTOCOLS)}")
        sasl = self.protocol.startswith("SASL_")
        if sasl and (self.sasl_mechanism not in MECHANISMS or not self.sasl_username or not self.sasl_password):
            raise KafkaSeamError(f"security.protocol {self.protocol} needs sasl.mechanism (one of "
                                 f"{', '.join(MECHANISMS)}), sasl.username and sasl.password")
        if not sasl and (self.sasl_mechanism or self.sasl_username or self.sasl_password):
            raise KafkaSeamError(f"sasl.* is set but security.protocol is {self.protocol}: it would not be used")

    @classmethod
    def from_properties(cls, text: str, source: str = "the Kafka client properties") -> KafkaSecurity:
        values: dict[str, str] = {}
        for number, raw in enumerate(text.splitlines(), start=1):
            line = raw.strip()
            if not line or line.startswith(("#", "!")):
                continue
            name, sep, value = line.partition("=")
            name = name.strip()
            if not sep:
                raise KafkaSeamError(f"{source} line {number}: expected name=value")
            if name not in PROPERTIES:
                raise KafkaSeamError(f"{source} line {number}: unknown property {name!r} (known: "
                                     f"{', '.join(sorted(PROPERTIES))})")
            values[PROPERTIES[name]] = value.strip()
        return cls(**values)

    def masked(self) -> dict[str, str]:
        """The properties as set, secrets replaced by ``***`` (for `viewcount config`)."""
        by_field = {f: p for p, f in PROPERTIES.items() if p != "sasl.mechanisms"}
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                out[by_field[f.name]] = "***" if by_field[f.name] in SECRET_PROPERTIES else value
        return out

    def librdkafka(self) -> dict[str, Any]:
        return self._renamed(0)

    def kafka_python(self) -> dict[str, Any]:
        return self._renamed(1)

    def _renamed(self, driver: int) -> dict[str, Any]:
        return {DRIVER_NAMES[f.name][driver]: getattr(self, f.name) for f in fields(self)
                if getattr(self, f.name) is not None}


# field → (librdkafka's name, kafka-python's name)
DRIVER_NAMES = {
    "protocol": ("security.protocol", "security_protocol"),
    "sasl_mechanism": ("sasl.mechanism", "sasl_mechanism"),
    "sasl_username": ("sasl.username", "sasl_plain_username"),
    "sasl_password": ("sasl.password", "sasl_plain_password"),
    "ssl_ca_location": ("ssl.ca.location", "ssl_cafile"),
    "ssl_certificate_location": ("ssl.certificate.location", "ssl_certfile"),
    "ssl_key_location": ("ssl.key.location", "ssl_keyfile"),
    "ssl_key_password": ("ssl.key.password", "ssl_password"),
}
