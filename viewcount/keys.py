"""The serving store's key layout in Redis: small pure functions, tested byte for byte.

Every key starts with a prefix (``REDIS_PREFIX``, default ``vc``) so deployments and tests can
share one Redis. Ids that reach these functions have passed the event validator
(``[A-Za-z0-9_-]{1,64}``), so they never contain ``:``, braces, spaces or glob characters.

Partitions. Everything the speed layer writes for one Kafka partition, and everything the batch
layer publishes for the videos of that partition, lives under the partition's tag
``{p}:{p<N>}`` (:func:`partition_tag`). Redis Cluster hashes only the part in braces, so the keys
of one partition share one hash slot: the speed step and every read touch one slot, and a cluster
spreads the partitions over its shards with no sharding of our own. A video's partition is the
one its views are produced to (:func:`viewcount.partitioner.video_partition`), so the keys are
laid out for a number of partitions (``TOPIC_PARTITIONS``), recorded with the state.

Speed layer, under the tag ``T`` of partition N (one Lua step writes them all):
    T:so:{topic}                   hash: ``o`` → last applied offset, ``t`` → the partition's
                                   running-max ingest time (ms)
    T:sl                           the layout the state below was written with
                                   (``buckets=B partitions=P``): a layer set otherwise refuses to
                                   start rather than miss it
    T:sd:{bucket}                  hash: dedup digest → the 8-byte fingerprint of the kept record,
                                   then the latest in-time ingest time (ms, decimal), for every
                                   retained (video, event id) whose digest falls in the bucket
    T:sc:{bucket}                  hash: cap digest → views counted so far for one (video, viewer,
                                   event hour)
    T:sb:{video}:{ingest hour}     hash: event hour (ms) → views, for records of that ingest hour
    T:sh:{video}                   sorted set of the video's ingest hours that have buckets
    T:vo:{video}                   the video's first claim: the creator its first counted view named
                                   (CONTRACT §9; set once, never overwritten while it lives)
    T:cv:{creator}                 sorted set: the partition's videos the creator claimed first →
                                   ingest time of the claim
    T:sx:{topic}                   sorted set of hours (ms) that have a state expiry list
    T:sx:{topic}:{hour}            list: ``d``+dedup digest, ``c``+cap digest of keys no later
                                   record can need once the partition's ingest time reaches the hour
    T:sw:{topic}                   sorted set of ingest hours (ms) that have a bucket sweep list
    T:sw:{topic}:{hour}            list: ``b``+video (a bucket of that ingest hour), ``o``+video
                                   +`` ``+creator (a claim made in it), dropped once the published
                                   watermark less ``SPEED_BUCKET_RETENTION`` passes the hour (a batch
                                   version holds those views and that claim by then)

Nothing of the speed layer expires by Redis's clock: the step drops these keys as the data's
clock passes them (``speed_layer/step.lua``), so a stopped consumer or a late batch loses nothing.

Batch layer, under the tag ``T`` of the videos' partition (a version is written whole, then the
pointers flip, partition 0's first: ``batch_layer/redis_views.py`` argues why no reader mixes two):
    T:bp                           hash: version, watermark_ms, seq of the version published to
                                   the partition's readers
    T:bv:{version}:v:{video}       hash: views, creator_id (the first claim over all history)
    T:bv:{version}:h:{video}       hash: event hour (ms) → views
    T:bv:{version}:c:{creator}     set of the partition's videos the creator claimed first
API (the serving layer):
    {p}:rl:{creator}               hash: the creator key's token bucket (tokens, at), shared by
                                   every replica; expires once it would be full again

The owner is resolved by the reader: the catalog (audit ledger) first, then the batch claim,
then the speed claim (serving_layer/owners.py).
Digests are 12 bytes of BLAKE2b over the ids, so a retained event id costs the same whatever
the length of the ids. Dedup and cap state is spread over ``SPEED_STATE_BUCKETS`` hashes per kind
and partition (the bucket is the digest's first two bytes, big-endian, modulo that power of two):
a small hash is kept by Redis as one listpack, a few bytes of overhead per entry where a key of
its own costs about a hundred (docs/scaling.md sizes it).
"""

from __future__ import annotations

import hashlib

DIGEST_BYTES = 12
DEFAULT_STATE_BUCKETS = 4096
MAX_STATE_BUCKETS = 65536     # two bytes of the digest choose the bucket


def _digest(*parts: str | int) -> bytes:
    joined = "\x1f".join(str(p) for p in parts).encode()
    return hashlib.blake2b(joined, digest_size=DIGEST_BYTES).digest()


def partition_tag(prefix: str, partition: int) -> str:
    """``{p}:{p<N>}``: the start of every key of partition N; the braces make it one hash slot."""
    return f"{prefix}:{{p{partition}}}"


def offsets_key(prefix: str, partition: int, topic: str) -> bytes:
    """hash: ``o`` → the partition's last applied offset, ``t`` → its running-max ingest time (ms)."""
    return f"{partition_tag(prefix, partition)}:so:{topic}".encode()


def dedup_digest(video_id: str, event_id: str) -> bytes:
    return _digest(video_id, event_id)


def check_state_buckets(buckets: int) -> int:
    """``buckets``, if it is a power of two from 1 to MAX_STATE_BUCKETS; else ValueError."""
    if not (0 < buckets <= MAX_STATE_BUCKETS and buckets & (buckets - 1) == 0):
        raise ValueError(f"must be a power of two from 1 to {MAX_STATE_BUCKETS}, not {buckets}")
    return buckets


def state_layout(buckets: int, partitions: int) -> bytes:
    """What ``state_layout_key`` holds for state written with ``buckets`` hashes per kind, laid
    out for ``partitions`` partitions."""
    return f"buckets={buckets} partitions={partitions}".encode()


def state_bucket(digest: bytes, buckets: int) -> int:
    """The bucket of a dedup or cap digest: its first two bytes, big-endian, modulo ``buckets``."""
    return int.from_bytes(digest[:2], "big") % buckets


def state_layout_key(prefix: str, partition: int) -> bytes:
    """string: the layout (``state_layout``) the partition's state was written with."""
    return f"{partition_tag(prefix, partition)}:sl".encode()


def unpartitioned_layout_key(prefix: str) -> bytes:
    """string: where releases before the partition tags recorded their layout (``buckets=N``);
    state written that way is refused, never read (docs/runbook.md says how to move on)."""
    return f"{prefix}:sl".encode()


def dedup_entry(prefix: str, partition: int, video_id: str, event_id: str, buckets: int) -> tuple[bytes, bytes]:
    """(hash key, field) of one (video, event id)'s dedup state."""
    digest = dedup_digest(video_id, event_id)
    return f"{partition_tag(prefix, partition)}:sd:{state_bucket(digest, buckets):x}".encode(), digest


def cap_digest(video_id: str, viewer_id: str, event_hour_ms: int) -> bytes:
    return _digest(video_id, viewer_id, event_hour_ms)


def cap_entry(prefix: str, partition: int, video_id: str, viewer_id: str, event_hour_ms: int,
              buckets: int) -> tuple[bytes, bytes]:
    """(hash key, field) of the views counted for one (video, viewer, event hour)."""
    digest = cap_digest(video_id, viewer_id, event_hour_ms)
    return f"{partition_tag(prefix, partition)}:sc:{state_bucket(digest, buckets):x}".encode(), digest


def batch_pointer_key(prefix: str, partition: int) -> bytes:
    """hash: ``version``, ``watermark_ms``, ``seq`` of the batch version published to the
    partition's readers (flipped atomically; ``seq`` orders the flips of every partition)."""
    return f"{partition_tag(prefix, partition)}:bp".encode()


def batch_video_key(prefix: str, partition: int, version: str, video_id: str) -> bytes:
    """hash: ``views``, ``creator_id`` (first claim) of one video in one batch version."""
    return f"{partition_tag(prefix, partition)}:bv:{version}:v:{video_id}".encode()


def batch_hourly_key(prefix: str, partition: int, version: str, video_id: str) -> bytes:
    """hash: event hour (ms) → views of one video in one batch version."""
    return f"{partition_tag(prefix, partition)}:bv:{version}:h:{video_id}".encode()


def batch_creator_key(prefix: str, partition: int, version: str, creator_id: str) -> bytes:
    """set: the partition's videos one creator claimed first, in one batch version."""
    return f"{partition_tag(prefix, partition)}:bv:{version}:c:{creator_id}".encode()


def batch_version_pattern(prefix: str, version: str) -> str:
    """SCAN pattern of every key of one batch version, in every partition (to expire a version
    readers left)."""
    return f"{prefix}:{{p*}}:bv:{version}:*"


def pointer_from_reply(raw: list) -> tuple[str, int] | None:
    """(version, watermark ms) from ``HMGET T:bp version watermark_ms``; None before a publish."""
    return None if raw[0] is None else (raw[0].decode(), int(raw[1]))


def bucket_key(prefix: str, partition: int, video_id: str, ingest_hour_ms: int) -> bytes:
    return f"{partition_tag(prefix, partition)}:sb:{video_id}:{ingest_hour_ms}".encode()


def bucket_hours_key(prefix: str, partition: int, video_id: str) -> bytes:
    return f"{partition_tag(prefix, partition)}:sh:{video_id}".encode()


def owner_key(prefix: str, partition: int, video_id: str) -> bytes:
    """string: the speed layer's first claim of the video."""
    return f"{partition_tag(prefix, partition)}:vo:{video_id}".encode()


def creator_videos_key(prefix: str, partition: int, creator_id: str) -> bytes:
    """sorted set: the partition's videos → ingest time (ms) of the creator's first claim on them
    (speed layer)."""
    return f"{partition_tag(prefix, partition)}:cv:{creator_id}".encode()


def state_expiry_schedule_key(prefix: str, partition: int, topic: str) -> bytes:
    """sorted set: the hours (ms) at which the partition's ingest time releases dedup and cap keys."""
    return f"{partition_tag(prefix, partition)}:sx:{topic}".encode()


def state_expiry_key(prefix: str, partition: int, topic: str, hour_ms: int) -> bytes:
    """list: the dedup (``d``) and cap (``c``) digests released when the ingest time reaches ``hour_ms``."""
    return f"{partition_tag(prefix, partition)}:sx:{topic}:{hour_ms}".encode()


def bucket_sweep_schedule_key(prefix: str, partition: int, topic: str) -> bytes:
    """sorted set: the ingest hours (ms) of the partition that have buckets or claims to sweep."""
    return f"{partition_tag(prefix, partition)}:sw:{topic}".encode()


def bucket_sweep_key(prefix: str, partition: int, topic: str, ingest_hour_ms: int) -> bytes:
    """list: the buckets (``b``+video) and claims (``o``+video+`` ``+creator) written in one ingest hour."""
    return f"{partition_tag(prefix, partition)}:sw:{topic}:{ingest_hour_ms}".encode()


def rate_limit_key(prefix: str, creator_id: str) -> bytes:
    """hash: the token bucket of a creator's API key, shared by every API replica
    (``tokens``, ``at`` in Redis server milliseconds)."""
    return f"{prefix}:rl:{creator_id}".encode()
