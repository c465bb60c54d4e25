"""Adapters: one small interface per external system, with its implementations side by side and
a typed config next to each (unknown keys refused).

- :mod:`.kafka`: the Kafka client seam (confluent-kafka, kafka-python) and the consumer-group
  runtime both sinks run on;
- :mod:`.files`: file stores (local disk, HDFS through WebHDFS) for the raw and audit stores;
- :mod:`.redis`: the Redis connection every store on Redis stands on.

Adapters import the kernel (:mod:`viewcount`) only, never a layer or the application.
"""
