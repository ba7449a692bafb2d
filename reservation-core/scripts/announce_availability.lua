-- Records what the shop has been told of a product's availability, if
-- nobody recorded another change since the caller read it: two workers
-- that told the shop of the same change record it once.
--
-- KEYS[1] the product's announced hash (in_stock, changes)
-- ARGV[1] the changes the caller read (0 when none was recorded yet)
-- ARGV[2] in stock now: 1 or 0
-- ARGV[3] 1 to count this as a change told to the shop, 0 to record the
--         first state seen without telling
--
-- Returns 1 when recorded, 0 when another record came first.

local changes = tonumber(redis.call('HGET', KEYS[1], 'changes') or '0')
if changes ~= tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[1], 'in_stock', ARGV[2], 'changes', changes + tonumber(ARGV[3]))
return 1
