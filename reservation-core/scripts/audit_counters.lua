-- The part of an audit that is one consistent read: a product's counters and
-- tallies, and the sizes of its live structures. The holds themselves are
-- walked in bounded steps afterwards (src/engine/audit.rs). Reads only, and
-- costs the same at any history.
--
-- KEYS[1] product, KEYS[2] holds, KEYS[3] due, KEYS[4] customers,
-- KEYS[5] purchase_due (as in lib.lua)
--
-- Returns {'OK', total, available, held, sold, version, reserved, holds_made,
--          cancelled, expired, released, counts customers (0 or 1), live
--          holds, due entries, purchase index entries, customers with units}
-- or {'NOT_FOUND'}.

local f = redis.call('HMGET', KEYS[1], 'total', 'available', 'held', 'sold', 'version',
  'reserved', 'holds_made', 'cancelled', 'expired', 'released', 'counts_customers')
if not f[1] then
  return { 'NOT_FOUND' }
end
local reply = { 'OK' }
for i = 1, #f do
  reply[i + 1] = tonumber(f[i] or '0')
end
reply[#reply + 1] = redis.call('HLEN', KEYS[2])
reply[#reply + 1] = redis.call('ZCARD', KEYS[3])
reply[#reply + 1] = redis.call('ZCARD', KEYS[5])
reply[#reply + 1] = redis.call('HLEN', KEYS[4])
return reply
