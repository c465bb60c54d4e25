"""The Kafka client seam: the few operations the layers need, behind small interfaces.

:mod:`viewcount.kafka.seam` defines them; :mod:`viewcount.kafka.kafka_python` implements them with
kafka-python, the default. Layers receive a consumer/producer through their constructors and never
import a Kafka driver themselves.
"""
