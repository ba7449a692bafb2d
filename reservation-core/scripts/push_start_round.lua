-- Starts a push round of one kind on a product, unless one with this notice
-- or a later one was started already: compare-and-set, so any number of
-- planners that see the same sale open start its round once. A stored
-- notice that is not a number (written behind the engine's back) counts as
-- none: the round starts, and the claims' sent marks keep it to one push
-- per interest per notice.
--
-- KEYS[1] the product's push rounds (fs:push:round:{SKU})
-- ARGV[1] the round's kind: opens or back
-- ARGV[2] the notice, ms (a sale's start, or when stock came back)
--
-- Returns {'STARTED'}, or {'KEPT', notice} with the notice of the round
-- started already.

local notice_field = ARGV[1] .. '_notice'
local current = tonumber(redis.call('HGET', KEYS[1], notice_field) or '')
if current and current >= tonumber(ARGV[2]) then
  return { 'KEPT', current }
end
redis.call('HSET', KEYS[1], notice_field, ARGV[2], ARGV[1] .. '_cursor', '0')
return { 'STARTED' }
