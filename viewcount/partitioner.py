"""Where a keyed record lives (CONTRACT §1): the Java client's ``toPositive(murmur2(key)) % partitions``.

Written out from Kafka's ``Utils.murmur2`` so that the kernel needs no Kafka client: the serving
store keeps each video's keys with the state of the partition its views arrive on
(:mod:`viewcount.keys`), and a reader finds them by the same formula.
"""

from __future__ import annotations

_M, _MASK = 0x5BD1E995, 0xFFFFFFFF
_SEED = 0x9747B28C


def murmur2(key: bytes) -> int:
    """Kafka's 32-bit murmur2 of ``key``, as an unsigned int."""
    h = (_SEED ^ len(key)) & _MASK
    whole = len(key) // 4 * 4
    for i in range(0, whole, 4):
        k = (int.from_bytes(key[i:i + 4], "little") * _M) & _MASK
        k ^= k >> 24
        h = ((h * _M) & _MASK) ^ ((k * _M) & _MASK)
    tail = key[whole:]
    if len(tail) >= 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if tail:
        h = ((h ^ tail[0]) * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    return h ^ (h >> 15)


def partition_of(key: bytes, partitions: int) -> int:
    """The partition of a record keyed ``key`` in a topic of ``partitions`` partitions."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def video_partition(video_id: str, partitions: int) -> int:
    """The partition every view of ``video_id`` is produced to (the record key is the id, UTF-8)."""
    return partition_of(video_id.encode(), partitions)
