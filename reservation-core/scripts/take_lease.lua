-- Takes a sweep partition's lease when it is free, or renews it when the
-- caller holds it already. Several sweepers may ask at once; one holds it.
--
-- KEYS[1] the partition's lease
-- ARGV[1] the sweeper asking
-- ARGV[2] lease length, ms
--
-- Returns 1 when the caller holds the lease now, else 0.

local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
elseif not owner then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
