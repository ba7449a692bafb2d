-- The part of an audit that is one consistent read: a product's counters and
-- tallies, and the sizes of its live structures. The holds themselves are
-- walked in bounded steps afterwards (src/engine/audit.rs). Reads only, and
-- costs the same at any history.
--
-- KEYS[1] product, KEYS[2] holds, KEYS[3] due, KEYS[4] customers,
-- KEYS[5] purchase_due (as in lib.lua)
--
-- Returns {'OK', name, value, name, value, ...} with the fields total,
-- available, held, sold, version, reserved, holds_made, cancelled, expired,
-- released, counts_customers (0 or 1), live_holds, due_entries,
-- purchase_entries and customers (with units), or {'NOT_FOUND'}.

local FIELDS = { 'total', 'available', 'held', 'sold', 'version', 'reserved', 'holds_made',
  'cancelled', 'expired', 'released', 'counts_customers' }
local f = redis.call('HMGET', KEYS[1], unpack(FIELDS))
if not f[1] then
  return { 'NOT_FOUND' }
end
local reply = { 'OK' }
local function field(name, value)
  reply[#reply + 1] = name
  reply[#reply + 1] = value
end
for i, name in ipairs(FIELDS) do
  field(name, tonumber(f[i] or '0'))
end
field('live_holds', redis.call('HLEN', KEYS[2]))
field('due_entries', redis.call('ZCARD', KEYS[3]))
field('purchase_entries', redis.call('ZCARD', KEYS[5]))
field('customers', redis.call('HLEN', KEYS[4]))
return reply
