-- Consistent reads of the serving store, each one atomic step: the batch pointer (version, W),
-- that version's counts, and the speed buckets of ingest hours at or after W.
--
-- ARGV: 'video', 'hourly' or 'creator', prefix, the video or creator id, topic (or '')
-- 'hourly'  → {version or '', watermark or '', batch views, owner or '',
--              flat list of event hour, views pairs (batch and speed merged), speed views, as_of or ''}
-- 'video'   → the same with an empty list: totals only, the cheaper read
-- 'creator' → {version or '', watermark or '', flat list of video, views pairs, as_of or ''}
-- as_of: the lowest ingest time the speed layer reached over the topic's partitions.
local mode, prefix, id, topic = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local pointer = redis.call('HMGET', prefix .. ':bp', 'version', 'watermark_ms')
local version, watermark = pointer[1], pointer[2]
local low = watermark or '-inf'

-- The speed views of one video at or after W; with add, each event hour's views passed to it.
local function speed_since_w(video, add)
  local total = 0
  for _, ihour in ipairs(redis.call('ZRANGEBYSCORE', prefix .. ':sh:' .. video, low, '+inf')) do
    local bkey = prefix .. ':sb:' .. video .. ':' .. ihour
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

-- Batch views and owner of one video (the speed layer's owner when the batch has none).
local function batch_row(video)
  local views, owner = 0, false
  if version then
    local row = redis.call('HMGET', prefix .. ':bv:' .. version .. ':v:' .. video, 'views', 'creator_id')
    views, owner = tonumber(row[1] or '0'), row[2]
  end
  if not owner then owner = redis.call('GET', prefix .. ':vo:' .. video) end
  return views, owner
end

local as_of = ''
if topic ~= '' then
  local progress = redis.call('HGETALL', prefix .. ':so:' .. topic)
  for i = 1, #progress, 2 do
    if string.sub(progress[i], 1, 2) == 't:' and (as_of == '' or tonumber(progress[i + 1]) < tonumber(as_of)) then
      as_of = progress[i + 1]
    end
  end
end

if mode == 'video' then
  local batch_views, owner = batch_row(id)
  return {version or '', watermark or '', batch_views, owner or '', {}, speed_since_w(id, nil), as_of}
end

if mode == 'hourly' then
  local hours = {}
  local function add(hour, v) hours[hour] = (hours[hour] or 0) + v end
  local batch_views, owner = batch_row(id)
  if version then
    local hourly = redis.call('HGETALL', prefix .. ':bv:' .. version .. ':h:' .. id)
    for i = 1, #hourly, 2 do add(hourly[i], tonumber(hourly[i + 1])) end
  end
  local speed = speed_since_w(id, add)
  local flat = {}
  for h, v in pairs(hours) do flat[#flat + 1] = h; flat[#flat + 1] = v end
  return {version or '', watermark or '', batch_views, owner or '', flat, speed, as_of}
end

-- 'creator': the videos it owns in the published version or in the speed layer.
local candidates = {}
for _, v in ipairs(redis.call('SMEMBERS', prefix .. ':cv:' .. id)) do candidates[v] = true end
if version then
  for _, v in ipairs(redis.call('SMEMBERS', prefix .. ':bv:' .. version .. ':c:' .. id)) do candidates[v] = true end
end
local flat = {}
for video in pairs(candidates) do
  local views, owner = batch_row(video)
  if owner == id then
    flat[#flat + 1] = video
    flat[#flat + 1] = views + speed_since_w(video, nil)
  end
end
return {version or '', watermark or '', flat, as_of}
