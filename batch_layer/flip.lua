-- Flip the batch pointer only over the version the caller computed against (compare-and-swap).
-- KEYS[1]  the pointer hash (version, watermark_ms)
-- ARGV[1]  the expected current version ("" when nothing is published yet)
-- ARGV[2]  the new version, ARGV[3] its watermark in ms
-- Returns {1, previous} when flipped (or already flipped to this version: a retried publish),
-- {0, current} when another version is published now.
local current = redis.call('HGET', KEYS[1], 'version') or ''
if current == ARGV[2] then
  return {1, current}
end
if current ~= ARGV[1] then
  return {0, current}
end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'watermark_ms', ARGV[3])
return {1, current}
