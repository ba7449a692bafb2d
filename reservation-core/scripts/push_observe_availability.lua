-- Records whether a product has units available, as the push planner last
-- saw it; when it goes from none to some, starts a "back in stock" round in
-- the same call, so of the planners that see the same return one starts it.
-- The first sighting of a product is recorded without a round: nobody saw
-- it sold out.
--
-- KEYS[1] the product's push rounds (fs:push:round:{SKU}): available_seen,
--         back_notice, back_cursor
-- ARGV[1] available now: 1 or 0
-- ARGV[2] now, ms: the new round's notice
--
-- Returns {'FIRST'}, {'UNCHANGED'}, {'SOLD_OUT'} (from some to none), or
-- {'STARTED', notice}.

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
-- A notice never goes back, even on a clock behind the last planner's.
local notice = tonumber(ARGV[2])
local current = tonumber(redis.call('HGET', KEYS[1], 'back_notice') or '-1')
if notice <= current then
  notice = current + 1
end
redis.call('HSET', KEYS[1], 'back_notice', string.format('%.0f', notice), 'back_cursor', '0')
return { 'STARTED', notice }
