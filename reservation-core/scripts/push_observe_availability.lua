-- Records whether a product has units available, as the push planner last
-- saw it; when it goes from none to some, starts a "back in stock" round in
-- the same call, so of the planners that see the same return one starts it.
-- The first sighting of a product is recorded without a round: nobody saw
-- it sold out. A return within the quiet period of the last round's notice
-- is recorded without a round too: in a sale a product flickers between 0
-- and 1 as holds expire and are taken again, and each round walks every
-- subscriber (whose claims would drop the push as within the quiet period
-- anyway).
--
-- KEYS[1] the product's push rounds (fs:push:round:{SKU}): available_seen,
--         back_notice, back_cursor
-- ARGV[1] available now: 1 or 0
-- ARGV[2] now, ms: the new round's notice
-- ARGV[3] the quiet period, ms: no new round sooner after the last one
--
-- Returns {'FIRST'}, {'UNCHANGED'}, {'SOLD_OUT'} (from some to none),
-- {'QUIET', notice} (back, within the quiet period of the round with that
-- notice), or {'STARTED', notice}.

local seen = redis.call('HGET', KEYS[1], 'available_seen')
if seen == ARGV[1] then
  return { 'UNCHANGED' }
end
redis.call('HSET', KEYS[1], 'available_seen', ARGV[1])
if not seen then
  return { 'FIRST' }
end
if ARGV[1] == '0' then
  return { 'SOLD_OUT' }
end
local now = tonumber(ARGV[2])
-- A notice that is not a number (written behind the engine's back) counts
-- as none.
local current = tonumber(redis.call('HGET', KEYS[1], 'back_notice') or '')
if current and now - current < tonumber(ARGV[3]) then
  return { 'QUIET', current }
end
-- A notice never goes back, even on a clock behind the last planner's.
local notice = now
if current and notice <= current then
  notice = current + 1
end
redis.call('HSET', KEYS[1], 'back_notice', string.format('%.0f', notice), 'back_cursor', '0')
return { 'STARTED', notice }
