-- What decides a reserve of a sold-out product without a change of its
-- version: its counters, its sale window and limit, and the earliest
-- deadline of its HELD holds (from then on a reserve may reclaim units).
-- Reads only.
--
-- KEYS[1] product  hash: counters and settings of the product
-- KEYS[2] due      zset: token -> expires_at_ms, for holds in HELD
--
-- Returns {available, held, sold, version, per_customer_limit,
--          sale_starts_at, sale_ends_at, earliest HELD deadline or -1},
-- or {-1} when the product does not exist.

local f = redis.call('HMGET', KEYS[1], 'available', 'held', 'sold', 'version',
  'per_customer_limit', 'sale_starts_at', 'sale_ends_at')
if not f[1] then
  return { -1 }
end
local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
local earliest = -1
if first[2] then
  earliest = tonumber(first[2])
end
return { tonumber(f[1]), tonumber(f[2]), tonumber(f[3]), tonumber(f[4]), tonumber(f[5]),
  tonumber(f[6]), tonumber(f[7]), earliest }
