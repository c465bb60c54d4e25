"""Speed layer: the exactly-once streaming counter (Kafka → Redis) that deduplicates by event id
and applies the cap in one atomic step per poll batch and partition. Built in the speed-layer
milestone."""
