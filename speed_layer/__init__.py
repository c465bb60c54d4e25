"""Speed layer: the exactly-once streaming counter (Kafka → Redis) that deduplicates by event id
and applies the cap in one atomic step per poll batch and partition.

:mod:`.counter` is the numbered commit protocol; :mod:`.store` the store it needs
(:class:`~.store.CountStore`, the :class:`~.store.StepRecord` wire format); :mod:`.redis_store`
with ``step.lua`` implements it on Redis.
"""
