-- Confirms a hold for purchase: HELD -> CONFIRMED. A confirmed hold no longer
-- expires as a hold; it gets a purchase deadline instead, by which a purchase
-- worker must have finished it. A hold past its deadline is expired here and
-- then, not confirmed, even if no sweeper has reached it yet.
--
-- KEYS[1..5] as in lib.lua
-- ARGV[1..5] as in lib.lua
-- ARGV[6] hold token
-- ARGV[7] owner's customer id, or '' when the caller may act on any hold
-- ARGV[8] purchase timeout, ms
--
-- Returns {'OK', hold JSON, changed (0 or 1)}, {'NOT_FOUND'} or {'WRONG_STATE', hold JSON}.

local token, owner, purchase_timeout = ARGV[6], ARGV[7], tonumber(ARGV[8])
local hold = load_hold(token)
if not hold or (owner ~= '' and hold.customer_id ~= owner) then
  return { 'NOT_FOUND' }
end

if hold.state == 'CONFIRMED' or hold.state == 'PURCHASED' then
  return { 'OK', cjson.encode(hold), 0 }
end
if hold.state ~= 'HELD' then
  return { 'WRONG_STATE', cjson.encode(hold) }
end

if is_due(hold) then
  local product = load_product()
  expire_holds(product, { { token = token, hold = hold } }, {})
  commit_product(product)
  return { 'WRONG_STATE', cjson.encode(hold) }
end

hold.state = 'CONFIRMED'
hold.purchase_deadline_ms = NOW + purchase_timeout
local hold_json = store_hold(token, hold)
redis.call('ZREM', DUE, token)
redis.call('ZADD', PURCHASE_DUE, hold.purchase_deadline_ms, token)
publish_hold_event(token, hold)
return { 'OK', hold_json, 1 }
