-- Finds confirmed holds whose purchase deadline has passed (their purchase
-- job was lost, or its worker is long gone) and gives each a new deadline,
-- so the caller enqueues each one again exactly once per deadline.
--
-- KEYS[1..5] as in lib.lua
-- ARGV[1..5] as in lib.lua
-- ARGV[6] purchase timeout, ms (the new deadline is now + this)
-- ARGV[7] most holds to requeue in this call
--
-- Returns {'OK', tokens...}.

local timeout, limit = tonumber(ARGV[6]), tonumber(ARGV[7])
local reply = { 'OK' }
for _, token in ipairs(redis.call('ZRANGEBYSCORE', PURCHASE_DUE, '-inf', NOW, 'LIMIT', 0, limit)) do
  local hold = load_hold(token)
  if hold and hold.state == 'CONFIRMED' then
    hold.purchase_deadline_ms = NOW + timeout
    store_hold(token, hold)
    redis.call('ZADD', PURCHASE_DUE, hold.purchase_deadline_ms, token)
    reply[#reply + 1] = token
  else
    redis.call('ZREM', PURCHASE_DUE, token)
  end
end
return reply
