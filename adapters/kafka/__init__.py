"""The Kafka client seam: the few operations the layers need, behind small interfaces.

:mod:`adapters.kafka.seam` defines them; :mod:`adapters.kafka.confluent` (librdkafka, the
default: the faster consumer) and :mod:`adapters.kafka.kafka_python` implement them and pass one
contract test. :mod:`adapters.kafka.runtime` is the consumer-group loop both sinks run on. Layers
receive a consumer/producer through their constructors and never import a Kafka driver themselves.
"""
