"""The Redis key layout, byte for byte."""

import hashlib

from redis.crc import key_slot

from viewcount import keys

HOUR = 1_795_255_200_000


def b2b(*parts):
    return hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=12).digest()


def test_speed_layer_keys():
    assert keys.partition_tag("vc", 3) == "vc:{p3}"
    assert keys.offsets_key("vc", 3, "video.views.v1") == b"vc:{p3}:so:video.views.v1"
    assert keys.state_layout_key("vc", 3) == b"vc:{p3}:sl"
    assert keys.state_layout(4096, 12) == b"buckets=4096 partitions=12"
    assert keys.unpartitioned_layout_key("vc") == b"vc:sl"
    # b2b("vid_1", "e-1") starts 24 6f: bucket 0x246f % 4096 = 0x46f; the cap digest starts 8e 58.
    assert keys.dedup_entry("vc", 3, "vid_1", "e-1", 4096) == (b"vc:{p3}:sd:46f", b2b("vid_1", "e-1"))
    assert keys.cap_entry("vc", 3, "vid_1", "u_7", HOUR, 16) == (b"vc:{p3}:sc:8", b2b("vid_1", "u_7", HOUR))
    assert keys.bucket_key("vc", 3, "vid_1", HOUR) == b"vc:{p3}:sb:vid_1:1795255200000"
    assert keys.bucket_hours_key("vc", 3, "vid_1") == b"vc:{p3}:sh:vid_1"
    assert keys.owner_key("vc", 3, "vid_1") == b"vc:{p3}:vo:vid_1"
    assert keys.creator_videos_key("vc", 3, "creator_42") == b"vc:{p3}:cv:creator_42"
    assert keys.rate_limit_key("vc", "creator_42") == b"vc:rl:creator_42"
    assert keys.state_expiry_schedule_key("vc", 3, "video.views.v1") == b"vc:{p3}:sx:video.views.v1"
    assert keys.state_expiry_key("vc", 3, "video.views.v1", HOUR) == b"vc:{p3}:sx:video.views.v1:1795255200000"
    assert keys.bucket_sweep_schedule_key("vc", 3, "video.views.v1") == b"vc:{p3}:sw:video.views.v1"
    assert keys.bucket_sweep_key("vc", 3, "video.views.v1", HOUR) == b"vc:{p3}:sw:video.views.v1:1795255200000"


def test_batch_keys():
    assert keys.batch_pointer_key("vc", 3) == b"vc:{p3}:bp"
    assert keys.batch_video_key("vc", 3, "v20261122T0100", "vid_1") == b"vc:{p3}:bv:v20261122T0100:v:vid_1"
    assert keys.batch_hourly_key("vc", 3, "v20261122T0100", "vid_1") == b"vc:{p3}:bv:v20261122T0100:h:vid_1"
    assert keys.batch_creator_key("vc", 3, "v20261122T0100", "c_9") == b"vc:{p3}:bv:v20261122T0100:c:c_9"
    assert keys.batch_version_pattern("vc", "v20261122T0100") == "vc:{p*}:bv:v20261122T0100:*"
    assert keys.pointer_from_reply([None, None]) is None
    assert keys.pointer_from_reply([b"v20261122T0100", b"1795255200000"]) == ("v20261122T0100", 1795255200000)


def partition_keys(prefix: str, p: int) -> list[bytes]:
    return [keys.offsets_key(prefix, p, "t"), keys.state_layout_key(prefix, p),
            keys.dedup_entry(prefix, p, "v", "e", 4096)[0], keys.cap_entry(prefix, p, "v", "u", HOUR, 4096)[0],
            keys.bucket_key(prefix, p, "v", HOUR), keys.bucket_hours_key(prefix, p, "v"),
            keys.owner_key(prefix, p, "v"), keys.creator_videos_key(prefix, p, "c"),
            keys.state_expiry_schedule_key(prefix, p, "t"), keys.state_expiry_key(prefix, p, "t", HOUR),
            keys.bucket_sweep_schedule_key(prefix, p, "t"), keys.bucket_sweep_key(prefix, p, "t", HOUR),
            keys.batch_pointer_key(prefix, p), keys.batch_video_key(prefix, p, "v1", "v"),
            keys.batch_hourly_key(prefix, p, "v1", "v"), keys.batch_creator_key(prefix, p, "v1", "c")]


def test_every_key_of_a_partition_is_in_one_cluster_slot_and_partitions_spread():
    """What a speed step or a read touches shares a hash slot, so Redis Cluster runs it as one call."""
    for p in (0, 3, 11):
        assert {key_slot(k) for k in partition_keys("vc", p)} == {key_slot(f"p{p}".encode())}
    assert len({key_slot(keys.batch_pointer_key("vc", p)) for p in range(64)}) == 64


def test_digests_have_a_fixed_size_and_separate_their_parts():
    assert len(keys.dedup_digest("v" * 64, "e" * 64)) == keys.DIGEST_BYTES == 12
    assert keys.dedup_digest("ab", "c") != keys.dedup_digest("a", "bc")


def test_a_digest_s_bucket_is_its_first_two_bytes_modulo_the_buckets():
    digest = b"\x12\x34" + bytes(10)
    assert [keys.state_bucket(digest, n) for n in (65536, 4096, 16, 1)] == [0x1234, 0x234, 0x4, 0]
