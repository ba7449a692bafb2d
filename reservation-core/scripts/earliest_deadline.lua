-- When the sweepers must look at a product next: the earliest deadline of
-- its live holds (of its HELD holds' due entries and of its CONFIRMED holds'
-- purchases), or the time of its next expiry notice when that comes first
-- (see sweep_product.lua). Reads only.
--
-- KEYS[1] due, KEYS[2] purchase_due, KEYS[3] product (as in lib.lua)
-- ARGV[1] expiry notice lead, ms (0: no notices)
--
-- Returns the time in ms, or -1 when the product has no live holds.

local due = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]
local purchase = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')[2]
local next_look = tonumber(due or purchase or '-1')
if due and purchase then
  next_look = math.min(tonumber(due), tonumber(purchase))
end

local lead = tonumber(ARGV[1])
local f = redis.call('HMGET', KEYS[3], 'hold_seconds', 'noticed_until')
if lead > 0 and tonumber(f[1] or '0') * 1000 > lead then
  local first = redis.call('ZRANGE', KEYS[1], '(' .. (f[2] or '0'), '+inf', 'BYSCORE', 'LIMIT', 0,
    1, 'WITHSCORES')[2]
  if first and tonumber(first) - lead < next_look then
    next_look = tonumber(first) - lead
  end
end
return next_look
