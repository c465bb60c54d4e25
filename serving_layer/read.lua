-- Consistent reads of the serving store, each one atomic step in one partition's hash slot: the
-- batch pointer (version, W), that version's counts, and the speed buckets of ingest hours at or
-- after W, of videos of that partition.
--
-- KEYS[1]: the partition's batch pointer (keys.batch_pointer_key); every key read shares its slot.
-- ARGV: mode, the partition's tag (keys.partition_tag), then by mode:
-- 'video'   video, topic (or ''), hourly ('1' or '0')
--           → {version or '', watermark or '', batch views, batch claim or '', speed claim or '',
--              flat list of event hour, views pairs (batch and speed merged; empty unless hourly),
--              speed views, as_of or ''}
--           as_of: the ingest time the speed layer reached on the partition, where every view of
--           the video arrives.
-- 'page'    version or '', watermark or '', videos... (a page of one creator's candidates in the
--           partition, read at the version and W the creator's read pinned: a publish between
--           pages cannot mix versions)
--           → flat list of batch views, batch claim or '', speed claim or '', speed views per video
-- A claim is the creator the video's first counted view named (CONTRACT §9), as the batch
-- version holds it and as the speed layer holds it; the caller resolves the owner.
local mode, tag = ARGV[1], ARGV[2]
local version, watermark

local function read_pointer()
  local pointer = redis.call('HMGET', KEYS[1], 'version', 'watermark_ms')
  version, watermark = pointer[1], pointer[2]
end

-- The speed views of one video at or after W; with add, each event hour's views passed to it.
local function speed_since_w(video, add)
  local total = 0
  for _, ihour in ipairs(redis.call('ZRANGEBYSCORE', tag .. ':sh:' .. video, watermark or '-inf', '+inf')) do
    local bkey = tag .. ':sb:' .. video .. ':' .. ihour
    if add then
      local bucket = redis.call('HGETALL', bkey)
      for i = 1, #bucket, 2 do
        local v = tonumber(bucket[i + 1])
        add(bucket[i], v)
        total = total + v
      end
    else
      for _, v in ipairs(redis.call('HVALS', bkey)) do total = total + tonumber(v) end
    end
  end
  return total
end

-- Batch views and both claims of one video.
local function claims(video)
  local views, batch_claim = 0, false
  if version then
    local row = redis.call('HMGET', tag .. ':bv:' .. version .. ':v:' .. video, 'views', 'creator_id')
    views, batch_claim = tonumber(row[1] or '0'), row[2]
  end
  return views, batch_claim or '', redis.call('GET', tag .. ':vo:' .. video) or ''
end

local function as_of(topic)
  if topic == '' then return '' end
  return redis.call('HGET', tag .. ':so:' .. topic, 't') or ''
end

if mode == 'page' then
  if ARGV[3] ~= '' then version, watermark = ARGV[3], ARGV[4] end
  local out = {}
  for i = 5, #ARGV do
    local views, batch_claim, speed_claim = claims(ARGV[i])
    out[#out + 1] = views
    out[#out + 1] = batch_claim
    out[#out + 1] = speed_claim
    out[#out + 1] = speed_since_w(ARGV[i], nil)
  end
  return out
end

-- 'video'
read_pointer()
local id, topic, hourly = ARGV[3], ARGV[4], ARGV[5] == '1'
local views, batch_claim, speed_claim = claims(id)
local flat, speed = {}, 0
if hourly then
  local hours = {}
  local function add(hour, v) hours[hour] = (hours[hour] or 0) + v end
  if version then
    local rows = redis.call('HGETALL', tag .. ':bv:' .. version .. ':h:' .. id)
    for i = 1, #rows, 2 do add(rows[i], tonumber(rows[i + 1])) end
  end
  speed = speed_since_w(id, add)
  for h, v in pairs(hours) do flat[#flat + 1] = h; flat[#flat + 1] = v end
else
  speed = speed_since_w(id, nil)
end
return {version or '', watermark or '', views, batch_claim, speed_claim, flat, speed, as_of(topic)}
