-- Gives back a confirmed hold whose purchase finally failed:
-- CONFIRMED -> RELEASED, units back to available. Releasing again is a no-op.
--
-- KEYS[1..5] as in lib.lua
-- ARGV[1..5] as in lib.lua
-- ARGV[6] hold token
--
-- Returns {'OK', hold JSON, changed (0 or 1)}, {'NOT_FOUND'} or {'WRONG_STATE', hold JSON}.

local token = ARGV[6]
local hold = load_hold(token)
if not hold then
  return { 'NOT_FOUND' }
end
if hold.state == 'RELEASED' then
  return { 'OK', cjson.encode(hold), 0 }
end
if hold.state ~= 'CONFIRMED' then
  return { 'WRONG_STATE', cjson.encode(hold) }
end

local product = load_product()
hold.state = 'RELEASED'
local hold_json = store_hold(token, hold)
redis.call('ZREM', PURCHASE_DUE, token)
product.held = product.held - hold.quantity
product.available = product.available + hold.quantity
give_back_customer_units(hold.customer_id, hold.quantity)
commit_product(product)
publish_hold_event(token, hold)
return { 'OK', hold_json, 1 }
