"""The Kafka client seam: the few operations the layers need, behind small interfaces.

:mod:`viewcount.kafka.seam` defines them; :mod:`viewcount.kafka.confluent` (librdkafka, the
default: the faster consumer) and :mod:`viewcount.kafka.kafka_python` implement them and pass one
contract test. :mod:`viewcount.kafka.runtime` is the consumer-group loop both sinks run on. Layers
receive a consumer/producer through their constructors and never import a Kafka driver themselves.
"""
