"""The kernel's partitioner is the Java client's (CONTRACT §1); the Kafka clients are held to it
in tests/adapters/kafka/test_seam_contract.py."""

import pytest

from viewcount.partitioner import murmur2, partition_of, video_partition


@pytest.mark.parametrize("key, signed", [
    # Kafka's own UtilsTest vectors (Java ints)
    (b"21", -973932308), (b"foobar", -790332482), (b"a-little-bit-long-string", -985981536),
    (b"a-little-bit-longer-string", -1486304829), (b"abc", 479470107),
])
def test_murmur2_is_kafka_s(key, signed):
    assert murmur2(key) == signed & 0xFFFFFFFF
    assert partition_of(key, 2**31 - 1) == (signed & 0x7FFFFFFF) % (2**31 - 1)


def test_a_video_s_partition_is_its_utf8_id_s():
    assert video_partition("foobar", 7) == partition_of(b"foobar", 7) == (-790332482 & 0x7FFFFFFF) % 7
    assert {video_partition(f"vid_{i:06d}", 4) for i in range(100)} == {0, 1, 2, 3}
