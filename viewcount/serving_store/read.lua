-- A consistent read of one video: the batch pointer, that version's counts, and the speed
-- buckets of ingest hours at or after the watermark, in one atomic step.
-- ARGV: prefix, video_id.  Returns {version or '', watermark or '', batch views, owner or '',
--        flat list of event hour, views pairs (batch and speed merged), speed views}
local prefix, video = ARGV[1], ARGV[2]
local pointer = redis.call('HMGET', prefix .. ':bp', 'version', 'watermark_ms')
local version, watermark = pointer[1], pointer[2]
local batch_views = 0
local owner = false
local hours = {}
if version then
  local vkey = prefix .. ':bv:' .. version .. ':v:' .. video
  local row = redis.call('HMGET', vkey, 'views', 'creator_id')
  batch_views = tonumber(row[1] or '0')
  owner = row[2]
  local hourly = redis.call('HGETALL', prefix .. ':bv:' .. version .. ':h:' .. video)
  for i = 1, #hourly, 2 do hours[hourly[i]] = (hours[hourly[i]] or 0) + tonumber(hourly[i + 1]) end
end
local low = '-inf'
if watermark then low = watermark end
local speed = 0
for _, ihour in ipairs(redis.call('ZRANGEBYSCORE', prefix .. ':sh:' .. video, low, '+inf')) do
  local bucket = redis.call('HGETALL', prefix .. ':sb:' .. video .. ':' .. ihour)
  for i = 1, #bucket, 2 do
    local v = tonumber(bucket[i + 1])
    hours[bucket[i]] = (hours[bucket[i]] or 0) + v
    speed = speed + v
  end
end
if not owner then owner = redis.call('GET', prefix .. ':vo:' .. video) end
local flat = {}
for h, v in pairs(hours) do flat[#flat + 1] = h; flat[#flat + 1] = v end
return {version or '', watermark or '', batch_views, owner or '', flat, speed}
