"""When a group member running with ``--until-idle`` is done."""

from __future__ import annotations

import logging
from collections.abc import Collection

from viewcount.kafka.seam import RecordConsumer

logger = logging.getLogger(__name__)

# The group's rebalance timeout (max.poll.interval) by default: how long a restarted member may
# wait for partitions a dead member still holds.
NO_ASSIGNMENT_GIVE_UP_S = 300.0


def caught_up(consumer: RecordConsumer, topic: str, assigned: Collection[int], running_s: float) -> bool:
    """Quiet is not enough: done once every assigned partition's position reached its end (a
    partition missing from the answer, its leader moving, is not known to be caught up), or when
    nothing was assigned within the rebalance timeout."""
    if not assigned:
        if running_s >= NO_ASSIGNMENT_GIVE_UP_S:
            logger.warning("no partition of %s was assigned within %.0fs; stopping", topic, running_s)
            return True
        return False
    partitions = sorted(assigned)
    ends = consumer.end_offsets(partitions)
    done = all(p in ends and consumer.position(p) >= ends[p] for p in partitions)
    if done:
        logger.info("caught up on %s partitions %s at %s", topic, partitions, {p: ends[p] for p in partitions})
    return done
