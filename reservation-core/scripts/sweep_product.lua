-- The sweeper's step on one product: moves up to a batch of HELD holds past
-- their deadline to EXPIRED and their units back to available, and gives
-- confirmed holds whose purchase deadline passed (their purchase job was
-- lost, or its worker is long gone) a new deadline, so the caller enqueues
-- each one again exactly once per deadline. Holds already ended by another
-- sweeper (or by a reserve that reclaimed them) are skipped, so several
-- sweepers at once never return a unit twice. Due entries whose holds all
-- moved on are dropped as they come due. The cost follows the due holds, not
-- the product's history.
--
-- KEYS[1..8] as in lib.lua
-- ARGV[1..6] as in lib.lua
-- ARGV[7] most holds to expire in this call
-- ARGV[8] purchase timeout, ms (a requeued hold's new deadline is now + this)
-- ARGV[9] most stranded purchases to requeue in this call
--
-- Returns {'OK', units returned, earliest deadline left (ms, -1 when none),
--          holds expired n, n expired tokens..., requeued tokens...}
-- or {'NOT_FOUND'}.

local product = load_product()
if not product then
  return { 'NOT_FOUND' }
end

local plan = find_due_holds(tonumber(ARGV[7]))
expire_planned(product, plan)
if #plan.due > 0 then
  commit_product(product)
end

local timeout = tonumber(ARGV[8])
local requeued = {}
for _, key in ipairs(redis.call('ZRANGE', PURCHASE_DUE, '-inf', NOW_TEXT, 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[9]))) do
  local raw = redis.call('HGET', HOLDS, key)
  local hold = raw and parse_hold(raw)
  if hold and hold.state == 'CONFIRMED' then
    hold.purchase_deadline_ms = NOW + timeout
    store_live_hold(key, hold)
    redis.call('ZADD', PURCHASE_DUE, hold.purchase_deadline_ms, key)
    requeued[#requeued + 1] = token_of(key, hold)
  else
    redis.call('ZREM', PURCHASE_DUE, key)
  end
end

local reply = { 'OK', plan.units, earliest_deadline() or -1, #plan.due }
for _, due in ipairs(plan.due) do
  reply[#reply + 1] = token_of(due.key, { created_at_ms = tonumber(due.created) })
end
for _, token in ipairs(requeued) do
  reply[#reply + 1] = token
end
return reply
