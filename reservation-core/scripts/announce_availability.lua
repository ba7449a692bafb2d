-- Records what one of the shop's endpoints has been told of a product's
-- availability, if nobody recorded another change for it since the caller
-- read the record: two workers that told the same change record it once,
-- and a stale first sighting cannot overwrite a change being told.
--
-- KEYS[1] the product's announced hash (ENDPOINT|in_stock, ENDPOINT|changes)
-- ARGV[1] the endpoint
-- ARGV[2] the changes the caller read, or -1 when it found no record
-- ARGV[3] in stock now: 1 or 0
-- ARGV[4] 1 to count this as a change told, 0 to record the first state
--         seen without telling
--
-- Returns 1 when recorded, 0 when another record came first.

local changes_field = ARGV[1] .. '|changes'
local recorded = redis.call('HGET', KEYS[1], changes_field)
local changes = recorded and tonumber(recorded) or -1
if changes ~= tonumber(ARGV[2]) then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1] .. '|in_stock', ARGV[3],
  changes_field, math.max(changes, 0) + tonumber(ARGV[4]))
return 1
