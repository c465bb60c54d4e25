-- Flip one partition's batch pointer. A publish flips every partition's pointer in turn,
-- partition 0's first (batch_layer/redis_views.py argues why no reader mixes two versions).
-- KEYS[1]  the partition's pointer hash: version, watermark_ms, seq (keys.batch_pointer_key)
-- ARGV     'lead', expected version ('' when nothing is published yet, '*' for any), version,
--          watermark_ms (partition 0's pointer: the one a publish is decided on)
--          → {1, previous, seq} when flipped, or already flipped to this version (a retried
--            publish); seq numbers the publish. {0, current} when another version is published now
--          'follow', version, watermark_ms, seq (every other partition's pointer)
--          → {1, previous} when flipped, or already flipped by this publish;
--            {0, current} when a later publish flipped it already: it is left as it is
local pointer = redis.call('HMGET', KEYS[1], 'version', 'seq')
local current, seq = pointer[1] or '', tonumber(pointer[2] or '0')
if ARGV[1] == 'lead' then
  local expected, version, watermark = ARGV[2], ARGV[3], ARGV[4]
  if current == version then return {1, current, seq} end
  if expected ~= '*' and current ~= expected then return {0, current} end
  redis.call('HSET', KEYS[1], 'version', version, 'watermark_ms', watermark, 'seq', seq + 1)
  return {1, current, seq + 1}
end
local version, watermark, publish = ARGV[2], ARGV[3], tonumber(ARGV[4])
if seq == publish then return {1, current} end
if seq > publish then return {0, current} end
redis.call('HSET', KEYS[1], 'version', version, 'watermark_ms', watermark, 'seq', publish)
return {1, current}
