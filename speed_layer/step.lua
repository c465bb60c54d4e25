-- One atomic step of the speed layer: apply one partition's records, in offset order, then
-- expire what the partition's data clock has left behind.
-- CONTRACT §2 steps 2-5, mirroring viewcount/rules.py predicate for predicate (the parity test
-- holds the two together). Step 1 (validity) was decided by the caller with the same validator.
--
-- KEYS[1]  the partition's offsets hash (keys.offsets_key): o last applied offset, t ingest time
-- ARGV     the partition's tag (keys.partition_tag: every key below starts with it, so the step
--          touches one hash slot of a cluster), topic, the state layout (keys.state_layout),
--          max_event_age_ms, max_clock_skew_ms, min_watch_ms,
--          max_views_per_viewer_hour, sweep_before_ms (buckets and claims of ingest hours before
--          it are dropped; "" for none), expected (the offset the caller saw applied last, -1 if
--          none), state buckets (a power of two), n, then the n records as one MessagePack array
--          of n * RECORD_FIELDS values, each record's in the order of F below (StepRecord in
--          speed_layer/store.py; a test holds the two together). One argument for the step, not
--          ten per record: the client encodes it in C, and Redis decodes it in C.
-- Returns  {last offset, ingest time, counted, invalid, too_old, from_future, duplicate,
--           conflicting, unqualified, capped, owner_mismatch, expired, conflicting offsets...},
--          or {'lost', last offset}
--          when Redis holds less than the caller saw applied (an AOF that lost its tail, a
--          failover to a lagging replica): nothing is applied past that gap,
--          or {'layout', the layout the state was written with ('' if none is recorded)}
--          when the state was written with another number of buckets or of partitions: nothing
--          is applied, since lookups would miss the state already there.
--
-- Nothing here expires by Redis's clock. Dedup and cap entries are listed, when written, under
-- the hour of the partition's ingest time from which no later record can need them; bucket and
-- claim keys under their ingest hour. Each step drops, within a budget that outpaces what it
-- writes, the state entries whose hour the partition's ingest time has reached and the keys of hours
-- before sweep_before_ms (the published watermark less SPEED_BUCKET_RETENTION). A stopped or
-- lagging layer, or a late batch, therefore loses nothing, however long the wall clock runs.
local F = {offset = 1, timestamp_ms = 2, valid = 3, dedup_digest = 4, fingerprint = 5, video_id = 6,
           creator_id = 7, cap_digest = 8, event_time_ms = 9, watch_ms = 10}
local RECORD_FIELDS = 10
local HOUR = 3600000
local PUSH_CHUNK = 1000
local tag, topic, layout = ARGV[1], ARGV[2], ARGV[3]
local age, skew = tonumber(ARGV[4]), tonumber(ARGV[5])
local min_watch, cap = tonumber(ARGV[6]), tonumber(ARGV[7])
local sweep_before = tonumber(ARGV[8])
local expected = tonumber(ARGV[9])
local buckets = tonumber(ARGV[10])
local n = tonumber(ARGV[11])
local R = cmsgpack.unpack(ARGV[12])
local window = age + skew

local okey = KEYS[1]
local last = tonumber(redis.call('HGET', okey, 'o') or '-1')
local ingest = tonumber(redis.call('HGET', okey, 't') or '-1')
local function ms(x) return string.format('%.0f', x) end
if last < expected then return {'lost', ms(last)} end
-- keys.state_layout_key: the first step records the layout; state from another one is refused
-- (so is state of a partition that was counted before the layout was recorded).
local layout_key = tag .. ':sl'
local recorded = redis.call('GET', layout_key)
if recorded ~= layout then
  if recorded or redis.call('HLEN', okey) > 0 then return {'layout', recorded or ''} end
  redis.call('SET', layout_key, layout)
end
-- keys.state_bucket: the hash holding a dedup or cap digest's entry.
local hex = {}
local function bucket(kind, digest)
  local index = (string.byte(digest, 1) * 256 + string.byte(digest, 2)) % buckets
  local name = hex[index]
  if not name then name = string.format('%x', index); hex[index] = name end
  return tag .. kind .. name
end
local c = {counted = 0, invalid = 0, too_old = 0, from_future = 0, duplicate = 0,
           conflicting = 0, unqualified = 0, capped = 0, owner_mismatch = 0}
local conflicts = {}
local views = {}     -- bucket key → event hour → views counted by this step: one HINCRBY each at the end
local owners = {}
local state_schedule = tag .. ':sx:' .. topic    -- keys.state_expiry_*
local bucket_schedule = tag .. ':sw:' .. topic   -- keys.bucket_sweep_*
local listed = {[state_schedule] = {}, [bucket_schedule] = {}}

-- The first hour boundary after t: once the ingest time reaches it, it has passed t.
local function hour_after(t) return t - t % HOUR + HOUR end
local function list_under(schedule, hour, entry)
  local entries = listed[schedule][hour]
  if not entries then entries = {}; listed[schedule][hour] = entries end
  entries[#entries + 1] = entry
end

for i = 0, n - 1 do
  local j = i * RECORD_FIELDS
  local offset = R[j + F.offset]
  if offset > last then                                   -- applied already: skip
    last = offset
    local ts = R[j + F.timestamp_ms]
    if ts > ingest then ingest = ts end                   -- advance_ingest_time
    if R[j + F.valid] == 0 then
      c.invalid = c.invalid + 1
    else
      local event_time = R[j + F.event_time_ms]
      if event_time < ingest - age then                   -- time_outcome
        c.too_old = c.too_old + 1
      elseif event_time > ingest + skew then
        c.from_future = c.from_future + 1
      else
        local digest, fingerprint = R[j + F.dedup_digest], R[j + F.fingerprint]
        local dkey = bucket(':sd:', digest)
        -- Most ids are new: one command writes the entry and says so. Only a held id is read.
        local prev = nil
        if redis.call('HSETNX', dkey, digest, fingerprint .. ms(ingest)) == 0 then
          prev = redis.call('HGET', dkey, digest)
        end
        local prev_ingest = prev and tonumber(string.sub(prev, 9))
        local duplicate = prev_ingest and ingest - prev_ingest <= window              -- is_duplicate
        -- A duplicate keeps the kept record's fingerprint; otherwise this record is the kept one.
        local kept = duplicate and string.sub(prev, 1, 8) or fingerprint
        if prev then redis.call('HSET', dkey, digest, kept .. ms(ingest)) end
        -- dedup_released_at: listed again only when this moves it to a later hour (the earlier
        -- listing then finds it still needed, and keeps it).
        if not prev_ingest or hour_after(prev_ingest + window) ~= hour_after(ingest + window) then
          list_under(state_schedule, hour_after(ingest + window), 'd' .. digest)
        end
        if duplicate then
          if kept ~= fingerprint then
            c.conflicting = c.conflicting + 1
            if #conflicts < 10 then conflicts[#conflicts + 1] = offset end
          else
            c.duplicate = c.duplicate + 1
          end
        elseif R[j + F.watch_ms] < min_watch then                   -- qualifies
          c.unqualified = c.unqualified + 1
        else
          -- Attempts past the cap still increment: counted = min(attempts, cap).
          local cap_digest = R[j + F.cap_digest]
          local attempt = redis.call('HINCRBY', bucket(':sc:', cap_digest), cap_digest, 1)
          if attempt == 1 then
            -- cap_released_at: rule 2 admits no record of this event hour from then on.
            local event_hour = event_time - event_time % HOUR
            list_under(state_schedule, hour_after(event_hour + HOUR + age - 1), 'c' .. cap_digest)
          end
          if attempt > cap then                             -- under_cap
            c.capped = c.capped + 1
          else
            local video, creator = R[j + F.video_id], R[j + F.creator_id]
            local ihour = ingest - ingest % HOUR
            local bkey = tag .. ':sb:' .. video .. ':' .. ms(ihour)
            local event_hour = ms(event_time - event_time % HOUR)
            local hours = views[bkey]
            if hours then
              hours[event_hour] = (hours[event_hour] or 0) + 1
            else
              views[bkey] = {[event_hour] = 1}
              if redis.call('ZADD', tag .. ':sh:' .. video, ms(ihour), ms(ihour)) == 1 then
                list_under(bucket_schedule, ihour, 'b' .. video)
              end
            end
            -- CONTRACT §9: the first counted view claims the video; later records never move it.
            local owner = owners[video]
            if not owner then
              local vkey = tag .. ':vo:' .. video
              if redis.call('SET', vkey, creator, 'NX') then
                owner = creator
                -- The creator's index of claims, scored by ingest time.
                redis.call('ZADD', tag .. ':cv:' .. creator, ms(ingest), video)
                list_under(bucket_schedule, ihour, 'o' .. video .. ' ' .. creator)
              else
                owner = redis.call('GET', vkey)
              end
              owners[video] = owner
            end
            if owner ~= creator then c.owner_mismatch = c.owner_mismatch + 1 end
            c.counted = c.counted + 1
          end
        end
      end
    end
  end
end

for bkey, hours in pairs(views) do
  for event_hour, counted in pairs(hours) do redis.call('HINCRBY', bkey, event_hour, counted) end
end
if last >= 0 then
  redis.call('HSET', okey, 'o', ms(last), 't', ms(ingest))
end
for schedule, hours in pairs(listed) do
  for hour, entries in pairs(hours) do
    for k = 1, #entries, PUSH_CHUNK do
      redis.call('RPUSH', schedule .. ':' .. ms(hour), unpack(entries, k, math.min(k + PUSH_CHUNK - 1, #entries)))
    end
    redis.call('ZADD', schedule, ms(hour), ms(hour))
  end
end

-- Expiry, oldest hour first, at most `budget` keys per step: twice what a step can write, so it
-- keeps up, and a step stays short however much a jump of the clock released at once.
local budget = 2 * n + 64
local expired = 0
local function sweep(schedule, upto, drop)
  while budget > 0 do
    local hour = redis.call('ZRANGEBYSCORE', schedule, '-inf', upto, 'LIMIT', 0, 1)[1]
    if not hour then return end
    local list = schedule .. ':' .. hour
    local entries = redis.call('LPOP', list, budget)
    if entries then
      budget = budget - #entries
      for _, entry in ipairs(entries) do drop(string.sub(entry, 1, 1), string.sub(entry, 2), hour) end
    end
    if redis.call('EXISTS', list) == 0 then redis.call('ZREM', schedule, hour) end
  end
end

local function drop_state(kind, digest)
  if kind == 'd' then
    local key = bucket(':sd:', digest)
    local kept = redis.call('HGET', key, digest)
    if kept and hour_after(tonumber(string.sub(kept, 9)) + window) <= ingest then   -- else listed later again
      expired = expired + redis.call('HDEL', key, digest)
    end
  else
    expired = expired + redis.call('HDEL', bucket(':sc:', digest), digest)
  end
end

local function drop_bucket(kind, rest, hour)
  if kind == 'b' then
    expired = expired + redis.call('DEL', tag .. ':sb:' .. rest .. ':' .. hour)
    redis.call('ZREM', tag .. ':sh:' .. rest, hour)
  else
    local video, creator = string.match(rest, '^(%S+) (%S+)$')
    local vkey = tag .. ':vo:' .. video
    -- The claim is made again only once this entry has dropped it: it is still this claim.
    if redis.call('GET', vkey) == creator then
      expired = expired + redis.call('DEL', vkey)
      redis.call('ZREM', tag .. ':cv:' .. creator, video)
    end
  end
end

if ingest >= 0 then sweep(state_schedule, ms(ingest), drop_state) end
if sweep_before then sweep(bucket_schedule, '(' .. ms(sweep_before), drop_bucket) end

local out = {ms(last), ms(ingest), c.counted, c.invalid, c.too_old, c.from_future, c.duplicate,
             c.conflicting, c.unqualified, c.capped, c.owner_mismatch, expired}
for _, o in ipairs(conflicts) do out[#out + 1] = ms(o) end
return out
