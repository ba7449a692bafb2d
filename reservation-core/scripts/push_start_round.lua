-- Starts a push round of one kind on a product, unless one with this notice
-- or a later one was started already: compare-and-set, so any number of
-- planners that see the same sale open start its round once.
--
-- KEYS[1] the product's push rounds (fs:push:round:{SKU})
-- ARGV[1] the round's kind: opens or back
-- ARGV[2] the notice, ms (a sale's start, or when stock came back)
--
-- Returns {'STARTED'}, or {'KEPT', notice} with the notice of the round
-- started already.

local notice_field = ARGV[1] .. '_notice'
local current = redis.call('HGET', KEYS[1], notice_field)
if current and tonumber(current) >= tonumber(ARGV[2]) then
  return { 'KEPT', tonumber(current) }
end
redis.call('HSET', KEYS[1], notice_field, ARGV[2], ARGV[1] .. '_cursor', '0')
return { 'STARTED' }
