"""The serving store's key layout in Redis: small pure functions, tested byte for byte.

Every key starts with a prefix (``REDIS_PREFIX``, default ``vc``) so deployments and tests can
share one Redis. Ids that reach these functions have passed the event validator
(``[A-Za-z0-9_-]{1,64}``), so they never contain ``:``, spaces or glob characters.

Speed layer (one Lua step writes them all):
    {p}:so:{topic}                 hash: ``o:{partition}`` → last applied offset,
                                   ``t:{partition}`` → the partition's running-max ingest time (ms)
    {p}:sl                         the layout the state below was written with (``buckets=N``):
                                   a layer set to another N refuses to start rather than miss it
    {p}:sd:{bucket}                hash: dedup digest → the 8-byte fingerprint of the kept record,
                                   then the latest in-time ingest time (ms, decimal), for every
                                   retained (video, event id) whose digest falls in the bucket
    {p}:sc:{bucket}                hash: cap digest → views counted so far for one (video, viewer,
                                   event hour)
    {p}:sb:{video}:{ingest hour}   hash: event hour (ms) → views, for records of that ingest hour
    {p}:sh:{video}                 sorted set of the video's ingest hours that have buckets
    {p}:vo:{video}                 the video's first claim: the creator its first counted view named
                                   (CONTRACT §9; set once, never overwritten while it lives)
    {p}:cv:{creator}               sorted set: the videos the creator claimed first → ingest time of
                                   the claim
    {p}:sx:{topic}:{partition}         sorted set of hours (ms) that have a state expiry list
    {p}:sx:{topic}:{partition}:{hour}  list: ``d``+dedup digest, ``c``+cap digest of keys no later
                                   record can need once the partition's ingest time reaches the hour
    {p}:sw:{topic}:{partition}         sorted set of ingest hours (ms) that have a bucket sweep list
    {p}:sw:{topic}:{partition}:{hour}  list: ``b``+video (a bucket of that ingest hour), ``o``+video
                                   +`` ``+creator (a claim made in it), dropped once the published
                                   watermark less ``SPEED_BUCKET_RETENTION`` passes the hour (a batch
                                   version holds those views and that claim by then)

Nothing of the speed layer expires by Redis's clock: the step drops these keys as the data's
clock passes them (``speed_layer/step.lua``), so a stopped consumer or a late batch loses nothing.

Batch layer (a version is written whole, then the pointer flips):
    {p}:bp                         hash: version, watermark_ms of the published version
    {p}:bv:{version}:v:{video}     hash: views, creator_id (the first claim over all history)
    {p}:bv:{version}:h:{video}     hash: event hour (ms) → views
    {p}:bv:{version}:c:{creator}   set of the videos the creator claimed first, in that version
API (the serving layer):
    {p}:rl:{creator}               hash: the creator key's token bucket (tokens, at), shared by
                                   every replica; expires once it would be full again

The owner is resolved by the reader: the catalog (audit ledger) first, then the batch claim,
then the speed claim (serving_layer/owners.py).
Digests are 12 bytes of BLAKE2b over the ids, so a retained event id costs the same whatever
the length of the ids. Dedup and cap state is spread over ``SPEED_STATE_BUCKETS`` hashes per kind
(the bucket is the digest's first two bytes, big-endian, modulo that power of two): a small hash
is kept by Redis as one listpack, a few bytes of overhead per entry where a key of its own costs
about a hundred (docs/scaling.md sizes it).
"""

from __future__ import annotations

import hashlib

DIGEST_BYTES = 12
DEFAULT_STATE_BUCKETS = 4096
MAX_STATE_BUCKETS = 65536     # two bytes of the digest choose the bucket


def _digest(*parts: str | int) -> bytes:
    joined = "\x1f".join(str(p) for p in parts).encode()
    return hashlib.blake2b(joined, digest_size=DIGEST_BYTES).digest()


def offsets_key(prefix: str, topic: str) -> bytes:
    return f"{prefix}:so:{topic}".encode()


def dedup_digest(video_id: str, event_id: str) -> bytes:
    return _digest(video_id, event_id)


def check_state_buckets(buckets: int) -> int:
    """``buckets``, if it is a power of two from 1 to MAX_STATE_BUCKETS; else ValueError."""
    if not (0 < buckets <= MAX_STATE_BUCKETS and buckets & (buckets - 1) == 0):
        raise ValueError(f"must be a power of two from 1 to {MAX_STATE_BUCKETS}, not {buckets}")
    return buckets


def state_layout(buckets: int) -> bytes:
    """What ``state_layout_key`` holds for state written with ``buckets`` (step.lua writes the same)."""
    return f"buckets={buckets}".encode()


def state_bucket(digest: bytes, buckets: int) -> int:
    """The bucket of a dedup or cap digest: its first two bytes, big-endian, modulo ``buckets``."""
    return int.from_bytes(digest[:2], "big") % buckets


def state_layout_key(prefix: str) -> bytes:
    """string: ``buckets=N``, the number of state buckets the dedup and cap hashes were written with."""
    return f"{prefix}:sl".encode()


def dedup_entry(prefix: str, video_id: str, event_id: str, buckets: int) -> tuple[bytes, bytes]:
    """(hash key, field) of one (video, event id)'s dedup state."""
    digest = dedup_digest(video_id, event_id)
    return f"{prefix}:sd:{state_bucket(digest, buckets):x}".encode(), digest


def cap_digest(video_id: str, viewer_id: str, event_hour_ms: int) -> bytes:
    return _digest(video_id, viewer_id, event_hour_ms)


def cap_entry(prefix: str, video_id: str, viewer_id: str, event_hour_ms: int, buckets: int) -> tuple[bytes, bytes]:
    """(hash key, field) of the views counted for one (video, viewer, event hour)."""
    digest = cap_digest(video_id, viewer_id, event_hour_ms)
    return f"{prefix}:sc:{state_bucket(digest, buckets):x}".encode(), digest


def batch_pointer_key(prefix: str) -> bytes:
    """hash: ``version``, ``watermark_ms`` of the published batch version (flipped atomically)."""
    return f"{prefix}:bp".encode()


def batch_video_key(prefix: str, version: str, video_id: str) -> bytes:
    """hash: ``views``, ``creator_id`` (first claim) of one video in one batch version."""
    return f"{prefix}:bv:{version}:v:{video_id}".encode()


def batch_hourly_key(prefix: str, version: str, video_id: str) -> bytes:
    """hash: event hour (ms) → views of one video in one batch version."""
    return f"{prefix}:bv:{version}:h:{video_id}".encode()


def batch_creator_key(prefix: str, version: str, creator_id: str) -> bytes:
    """set: the videos one creator claimed first, in one batch version."""
    return f"{prefix}:bv:{version}:c:{creator_id}".encode()


def batch_version_pattern(prefix: str, version: str) -> str:
    """SCAN pattern of every key of one batch version (to expire a version readers left)."""
    return f"{prefix}:bv:{version}:*"


def pointer_from_reply(raw: list) -> tuple[str, int] | None:
    """(version, watermark ms) from ``HMGET {p}:bp version watermark_ms``; None before a publish."""
    return None if raw[0] is None else (raw[0].decode(), int(raw[1]))


def bucket_key(prefix: str, video_id: str, ingest_hour_ms: int) -> bytes:
    return f"{prefix}:sb:{video_id}:{ingest_hour_ms}".encode()


def bucket_hours_key(prefix: str, video_id: str) -> bytes:
    return f"{prefix}:sh:{video_id}".encode()


def owner_key(prefix: str, video_id: str) -> bytes:
    """string: the speed layer's first claim of the video."""
    return f"{prefix}:vo:{video_id}".encode()


def creator_videos_key(prefix: str, creator_id: str) -> bytes:
    """sorted set: video → ingest time (ms) of the creator's first claim on it (speed layer)."""
    return f"{prefix}:cv:{creator_id}".encode()


def state_expiry_schedule_key(prefix: str, topic: str, partition: int) -> bytes:
    """sorted set: the hours (ms) at which the partition's ingest time releases dedup and cap keys."""
    return f"{prefix}:sx:{topic}:{partition}".encode()


def state_expiry_key(prefix: str, topic: str, partition: int, hour_ms: int) -> bytes:
    """list: the dedup (``d``) and cap (``c``) digests released when the ingest time reaches ``hour_ms``."""
    return f"{prefix}:sx:{topic}:{partition}:{hour_ms}".encode()


def bucket_sweep_schedule_key(prefix: str, topic: str, partition: int) -> bytes:
    """sorted set: the ingest hours (ms) of the partition that have buckets or claims to sweep."""
    return f"{prefix}:sw:{topic}:{partition}".encode()


def bucket_sweep_key(prefix: str, topic: str, partition: int, ingest_hour_ms: int) -> bytes:
    """list: the buckets (``b``+video) and claims (``o``+video+`` ``+creator) written in one ingest hour."""
    return f"{prefix}:sw:{topic}:{partition}:{ingest_hour_ms}".encode()


def rate_limit_key(prefix: str, creator_id: str) -> bytes:
    """hash: the token bucket of a creator's API key, shared by every API replica
    (``tokens``, ``at`` in Redis server milliseconds)."""
    return f"{prefix}:rl:{creator_id}".encode()
