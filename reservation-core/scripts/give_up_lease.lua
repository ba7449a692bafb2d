-- Gives up a sweep partition's lease, if the caller still holds it (it may
-- have lapsed and gone to another sweeper meanwhile).
--
-- KEYS[1] the partition's lease
-- ARGV[1] the sweeper giving it up
--
-- Returns 1 when it was the caller's, else 0.

if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
