-- Reads one hold's record wherever it is: live, or ended within the
-- retention. Reads only; one script, so a hold that ends meanwhile is seen
-- in one place or the other, never in neither.
--
-- KEYS[1] holds, KEYS[2] ended, KEYS[3] ended_before (as in lib.lua)
-- ARGV[1] the hold's key
--
-- Returns the record, or nil.

return redis.call('HGET', KEYS[1], ARGV[1]) or redis.call('HGET', KEYS[2], ARGV[1])
  or redis.call('HGET', KEYS[3], ARGV[1])
