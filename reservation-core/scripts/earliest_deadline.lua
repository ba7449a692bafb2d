-- The earliest deadline of a product's live holds: of its HELD holds' due
-- entries and of its CONFIRMED holds' purchases. When the sweepers must
-- look at the product next. Reads only.
--
-- KEYS[1] due, KEYS[2] purchase_due (as in lib.lua)
--
-- Returns the deadline in ms, or -1 when the product has no live holds.

local due = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]
local purchase = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')[2]
if due and purchase then
  return math.min(tonumber(due), tonumber(purchase))
end
return tonumber(due or purchase or '-1')
