-- Keeps a stream entry that a consumer is still working on: if the entry is
-- pending with that consumer, its idle time starts again, so that no other
-- consumer claims it as abandoned (src/stream_group.rs). One taken over by
-- another consumer, or acknowledged, is left alone.
--
-- KEYS[1] the stream
-- ARGV[1] the consumer group
-- ARGV[2] the consumer
-- ARGV[3] the entry id
--
-- Returns 1 when the entry is still the consumer's, 0 when it is not.

local pending = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1, ARGV[2])
if #pending == 0 then
  return 0
end
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
return 1
