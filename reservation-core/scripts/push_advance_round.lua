-- Moves a product's push round past a batch, if the round is still where
-- the batch was read (the same notice and cursor): compare-and-set, so of
-- two planners that read the same batch one moves the round, and a round
-- started again meanwhile is not moved by a batch of the old one.
--
-- KEYS[1] the product's push rounds (fs:push:round:{SKU})
-- ARGV[1] the round's kind: opens or back
-- ARGV[2] the batch's notice, ms
-- ARGV[3] the cursor the batch started at
-- ARGV[4] the cursor after it ('done' at the end)
--
-- Returns {'ADVANCED'}, or {'MOVED'} when the round is elsewhere.

local notice = redis.call('HGET', KEYS[1], ARGV[1] .. '_notice')
local cursor = redis.call('HGET', KEYS[1], ARGV[1] .. '_cursor')
if notice ~= ARGV[2] or cursor ~= ARGV[3] then
  return { 'MOVED' }
end
redis.call('HSET', KEYS[1], ARGV[1] .. '_cursor', ARGV[4])
return { 'ADVANCED' }
