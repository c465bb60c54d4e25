-- A creator key's token bucket, shared by every API replica (serving_layer/redis_ratelimit.py).
-- KEYS[1]: the bucket hash (viewcount.keys.rate_limit_key). ARGV[1]: tokens per second, ARGV[2]:
-- the burst. Returns 0 when a token was taken, else the milliseconds until one will be there.
-- The clock is Redis's own (TIME), so replicas with skewed clocks share one budget exactly.
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local stored = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(stored[1]) or burst
local at = tonumber(stored[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', now)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return wait
