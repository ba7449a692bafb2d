-- Removes from a stream's consumer group the consumers that have been idle
-- longer than a bound and hold no pending entry (src/stream_retention.rs).
-- Checked and removed in one call: XGROUP DELCONSUMER drops a consumer's
-- pending entries with it, so a consumer that read a job between a check
-- and a removal made apart would lose that job.
--
-- KEYS[1] the stream
-- ARGV[1] the consumer group
-- ARGV[2] idle longer than this (ms, as XINFO CONSUMERS counts it)
--
-- Returns the names of the consumers removed.

local consumers = redis.pcall('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])
if consumers.err then
  -- No stream, or no group on it yet: nobody to forget.
  if string.find(consumers.err, 'no such key', 1, true)
      or string.find(consumers.err, 'NOGROUP', 1, true) then
    return {}
  end
  return redis.error_reply(consumers.err)
end

local bound = tonumber(ARGV[2])
local removed = {}
for _, fields in ipairs(consumers) do
  local consumer = {}
  for i = 1, #fields, 2 do
    consumer[fields[i]] = fields[i + 1]
  end
  if consumer.pending == 0 and consumer.idle > bound then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], consumer.name)
    removed[#removed + 1] = consumer.name
  end
end
return removed
