-- Confirms a hold for purchase: HELD -> CONFIRMED. A confirmed hold no longer
-- expires as a hold; it gets a purchase deadline instead, by which a purchase
-- worker must have finished it. A hold past its deadline is expired here and
-- then, not confirmed, even if no sweeper has reached it yet.
--
-- KEYS[1..9] as in lib.lua
-- ARGV[1..8] as in lib.lua and holding.lua
-- ARGV[9]  owner's customer id, or '' when the caller may act on any hold
-- ARGV[10] purchase timeout, ms
--
-- Returns as holding.lua says, with a fourth element on a change: the purchase
-- deadline when it is now the product's earliest deadline (the caller must
-- list it in the sweep index), else 0.

local owner, purchase_timeout = ARGV[9], tonumber(ARGV[10])
local hold = HOLD
if not hold or (owner ~= '' and hold.customer_id ~= owner) then
  return { 'NOT_FOUND' }
end

if hold.state == 'CONFIRMED' or hold.state == 'PURCHASED' then
  return { 'OK', format_hold(hold), 0 }
end
if hold.state ~= 'HELD' then
  return { 'WRONG_STATE', format_hold(hold) }
end

if is_due(hold) then
  local product = load_product()
  cancel_hold(product, HOLD_KEY, hold)
  commit_product(product)
  return { 'WRONG_STATE', format_hold(hold) }
end

local earliest = earliest_deadline()
hold.state = 'CONFIRMED'
hold.purchase_deadline_ms = NOW + purchase_timeout
local record = store_live_hold(HOLD_KEY, hold)
redis.call('ZADD', PURCHASE_DUE, hold.purchase_deadline_ms, HOLD_KEY)
publish_hold_event(HOLD_KEY, hold)
local index_deadline = 0
if not earliest or hold.purchase_deadline_ms < earliest then
  index_deadline = hold.purchase_deadline_ms
end
return { 'OK', record, 1, index_deadline }
