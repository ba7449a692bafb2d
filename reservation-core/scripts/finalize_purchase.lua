-- Records a finished purchase: CONFIRMED -> PURCHASED, the hold's units move
-- from held to sold. The hold record becomes the order record. Finalizing a
-- purchased hold again is a no-op, so a purchase job can be retried safely.
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
if hold.state == 'PURCHASED' then
  return { 'OK', cjson.encode(hold), 0 }
end
if hold.state ~= 'CONFIRMED' then
  return { 'WRONG_STATE', cjson.encode(hold) }
end

local product = load_product()
hold.state = 'PURCHASED'
hold.purchased_at_ms = NOW
local hold_json = store_hold(token, hold)
redis.call('ZREM', PURCHASE_DUE, token)
product.held = product.held - hold.quantity
product.sold = product.sold + hold.quantity
commit_product(product)
publish_hold_event(token, hold)
return { 'OK', hold_json, 1 }
