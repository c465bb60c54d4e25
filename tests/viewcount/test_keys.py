"""The Redis key layout, byte for byte."""

import hashlib

from viewcount import keys


def b2b(*parts):
    return hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=12).digest()


def test_speed_layer_keys():
    assert keys.offsets_key("vc", "video.views.v1") == b"vc:so:video.views.v1"
    assert keys.state_layout_key("vc") == b"vc:sl"
    # b2b("vid_1", "e-1") starts 24 6f: bucket 0x246f % 4096 = 0x46f; the cap digest starts 8e 58.
    assert keys.dedup_entry("vc", "vid_1", "e-1", 4096) == (b"vc:sd:46f", b2b("vid_1", "e-1"))
    assert keys.cap_entry("vc", "vid_1", "u_7", 1795255200000, 16) == (b"vc:sc:8",
                                                                       b2b("vid_1", "u_7", 1795255200000))
    assert keys.bucket_key("vc", "vid_1", 1795255200000) == b"vc:sb:vid_1:1795255200000"
    assert keys.bucket_hours_key("vc", "vid_1") == b"vc:sh:vid_1"
    assert keys.owner_key("vc", "vid_1") == b"vc:vo:vid_1"
    assert keys.creator_videos_key("vc", "creator_42") == b"vc:cv:creator_42"
    assert keys.rate_limit_key("vc", "creator_42") == b"vc:rl:creator_42"
    assert keys.state_expiry_schedule_key("vc", "video.views.v1", 3) == b"vc:sx:video.views.v1:3"
    assert keys.state_expiry_key("vc", "video.views.v1", 3, 1_795_255_200_000) == (
        b"vc:sx:video.views.v1:3:1795255200000")
    assert keys.bucket_sweep_schedule_key("vc", "video.views.v1", 3) == b"vc:sw:video.views.v1:3"
    assert keys.bucket_sweep_key("vc", "video.views.v1", 3, 1_795_255_200_000) == (
        b"vc:sw:video.views.v1:3:1795255200000")


def test_batch_keys():
    assert keys.batch_pointer_key("vc") == b"vc:bp"
    assert keys.batch_video_key("vc", "v20261122T0100", "vid_1") == b"vc:bv:v20261122T0100:v:vid_1"
    assert keys.batch_hourly_key("vc", "v20261122T0100", "vid_1") == b"vc:bv:v20261122T0100:h:vid_1"
    assert keys.batch_creator_key("vc", "v20261122T0100", "c_9") == b"vc:bv:v20261122T0100:c:c_9"
    assert keys.batch_version_pattern("vc", "v20261122T0100") == "vc:bv:v20261122T0100:*"
    assert keys.pointer_from_reply([None, None]) is None
    assert keys.pointer_from_reply([b"v20261122T0100", b"1795255200000"]) == ("v20261122T0100", 1795255200000)


def test_digests_have_a_fixed_size_and_separate_their_parts():
    assert len(keys.dedup_digest("v" * 64, "e" * 64)) == keys.DIGEST_BYTES == 12
    assert keys.dedup_digest("ab", "c") != keys.dedup_digest("a", "bc")



def test_a_digest_s_bucket_is_its_first_two_bytes_modulo_the_buckets():
    digest = b"\x12\x34" + bytes(10)
    assert [keys.state_bucket(digest, n) for n in (65536, 4096, 16, 1)] == [0x1234, 0x234, 0x4, 0]
