-- One atomic step of the speed layer: apply one partition's records, in offset order.
-- CONTRACT §2 steps 2-5, mirroring viewcount/rules.py predicate for predicate (the parity test
-- holds the two together). Step 1 (validity) was decided by the caller with the same validator.
--
-- KEYS[1]  offsets hash of the topic: o:{partition} last applied offset, t:{partition} ingest time
-- ARGV     prefix, partition, max_event_age_ms, max_clock_skew_ms, min_watch_ms,
--          max_views_per_viewer_hour, dedup_ttl_s, cap_ttl_s, bucket_ttl_s, expected (the offset
--          the caller saw applied last, -1 if none), n, then n records of RECORD_FIELDS values
--          each, in the order of F below (StepRecord in speed_layer/store.py; a test holds the two
--          together)
-- Returns  {last offset, ingest time, counted, invalid, too_old, from_future, duplicate,
--           conflicting, unqualified, capped, owner_mismatch, conflicting offsets...}, or
--          {'lost', last offset}
--          when Redis holds less than the caller saw applied (an AOF that lost its tail, a
--          failover to a lagging replica): nothing is applied past that gap.
local F = {offset = 1, timestamp_ms = 2, valid = 3, dedup_digest = 4, fingerprint = 5, video_id = 6,
           creator_id = 7, cap_digest = 8, event_time_ms = 9, watch_ms = 10}
local RECORD_FIELDS = 10
local HOUR = 3600000
local prefix, partition = ARGV[1], ARGV[2]
local age, skew = tonumber(ARGV[3]), tonumber(ARGV[4])
local min_watch, cap = tonumber(ARGV[5]), tonumber(ARGV[6])
local dedup_ttl, cap_ttl, bucket_ttl = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local expected = tonumber(ARGV[10])
local n = tonumber(ARGV[11])

local okey = KEYS[1]
local last = tonumber(redis.call('HGET', okey, 'o:' .. partition) or '-1')
local ingest = tonumber(redis.call('HGET', okey, 't:' .. partition) or '-1')
local function ms(x) return string.format('%.0f', x) end
if last < expected then return {'lost', ms(last)} end
local c = {counted = 0, invalid = 0, too_old = 0, from_future = 0, duplicate = 0,
           conflicting = 0, unqualified = 0, capped = 0, owner_mismatch = 0}
local conflicts = {}
local touched = {}
local owners = {}

for i = 0, n - 1 do
  local j = 11 + i * RECORD_FIELDS
  local offset = tonumber(ARGV[j + F.offset])
  if offset > last then                                   -- applied already: skip
    last = offset
    local ts = tonumber(ARGV[j + F.timestamp_ms])
    if ts > ingest then ingest = ts end                   -- advance_ingest_time
    if ARGV[j + F.valid] == '0' then
      c.invalid = c.invalid + 1
    else
      local event_time = tonumber(ARGV[j + F.event_time_ms])
      if event_time < ingest - age then                   -- time_outcome
        c.too_old = c.too_old + 1
      elseif event_time > ingest + skew then
        c.from_future = c.from_future + 1
      else
        local dkey = prefix .. ':sd:' .. ARGV[j + F.dedup_digest]
        -- One round trip in the common case: store this record as the kept one, get the old.
        local prev = redis.call('SET', dkey, ARGV[j + F.fingerprint] .. ms(ingest), 'EX', dedup_ttl, 'GET')
        if prev and ingest - tonumber(string.sub(prev, 9)) <= age + skew then   -- is_duplicate
          local kept = string.sub(prev, 1, 8)
          if kept ~= ARGV[j + F.fingerprint] then                       -- keep the kept record's fingerprint
            redis.call('SET', dkey, kept .. ms(ingest), 'EX', dedup_ttl)
            c.conflicting = c.conflicting + 1
            if #conflicts < 10 then conflicts[#conflicts + 1] = offset end
          else
            c.duplicate = c.duplicate + 1
          end
        elseif tonumber(ARGV[j + F.watch_ms]) < min_watch then      -- qualifies
          c.unqualified = c.unqualified + 1
        else
          -- Attempts past the cap still increment: counted = min(attempts, cap).
          local ckey = prefix .. ':sc:' .. ARGV[j + F.cap_digest]
          local attempt = redis.call('INCR', ckey)
          if attempt == 1 then redis.call('EXPIRE', ckey, cap_ttl) end
          if attempt > cap then                             -- under_cap
            c.capped = c.capped + 1
          else
            local video, creator = ARGV[j + F.video_id], ARGV[j + F.creator_id]
            local ihour = ms(ingest - ingest % HOUR)
            local bkey = prefix .. ':sb:' .. video .. ':' .. ihour
            redis.call('HINCRBY', bkey, ms(event_time - event_time % HOUR), 1)
            if not touched[bkey] then
              touched[bkey] = true
              redis.call('EXPIRE', bkey, bucket_ttl)
              local hkey = prefix .. ':sh:' .. video
              redis.call('ZADD', hkey, ihour, ihour)
              redis.call('EXPIRE', hkey, bucket_ttl)
            end
            -- CONTRACT §9: the first counted view claims the video; later records never move it.
            local owner = owners[video]
            if not owner then
              local vkey = prefix .. ':vo:' .. video
              if redis.call('SET', vkey, creator, 'NX', 'EX', bucket_ttl) then
                owner = creator
                -- The creator's index of claims, scored by ingest time; claims older than the
                -- buckets are in a batch version by then and are trimmed, so it never grows forever.
                local ckey = prefix .. ':cv:' .. creator
                redis.call('ZADD', ckey, ms(ingest), video)
                redis.call('ZREMRANGEBYSCORE', ckey, '-inf', '(' .. ms(ingest - bucket_ttl * 1000))
                redis.call('EXPIRE', ckey, bucket_ttl)
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

if last >= 0 then
  redis.call('HSET', okey, 'o:' .. partition, ms(last), 't:' .. partition, ms(ingest))
end
local out = {ms(last), ms(ingest), c.counted, c.invalid, c.too_old, c.from_future, c.duplicate,
             c.conflicting, c.unqualified, c.capped, c.owner_mismatch}
for _, o in ipairs(conflicts) do out[#out + 1] = ms(o) end
return out
