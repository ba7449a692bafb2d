-- Reads the next batch of a product's push round in progress, without
-- moving the round on (push_advance_round.lua does, once the batch's jobs
-- are enqueued): a planner that dies in between leaves the batch to be read
-- again. The batch is one HSCAN step of the product's interests, so a call
-- costs about `count` interests, however many the product has; every
-- interest there for the whole round is read at least once.
--
-- KEYS[1] the product's push rounds (fs:push:round:{SKU})
-- KEYS[2] the product's push interests (fs:push:product:{SKU})
-- ARGV[1] the round's kind: opens or back
-- ARGV[2] about how many interests to read
--
-- Returns {'NONE'} when no round of the kind is in progress, or {'BATCH',
-- name, value, ...} with the fields
--   notice     the round's notice, ms
--   from       the cursor the batch starts at
--   to         the cursor after it: 'done' when the round is over
--   interests  the batch's interest JSONs (of every topic)

local notice = redis.call('HGET', KEYS[1], ARGV[1] .. '_notice')
local cursor = redis.call('HGET', KEYS[1], ARGV[1] .. '_cursor')
if not notice or not cursor or cursor == 'done' then
  return { 'NONE' }
end
local step = redis.call('HSCAN', KEYS[2], cursor, 'COUNT', tonumber(ARGV[2]))
local after = step[1]
if after == '0' then
  after = 'done'
end
local interests = {}
for i = 2, #step[2], 2 do
  interests[#interests + 1] = step[2][i]
end
return { 'BATCH', 'notice', tonumber(notice), 'from', cursor, 'to', after,
  'interests', interests }
