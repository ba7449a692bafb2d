-- Records a finished purchase: CONFIRMED -> PURCHASED, the hold's units move
-- from held to sold, and the hold leaves the live set (its record stays for
-- the retention, then the orders stream is its history). Finalizing a
-- purchased hold again is a no-op, so a purchase job can be retried safely.
--
-- KEYS[1..9] as in lib.lua
-- ARGV[1..8] as in lib.lua and holding.lua
--
-- Returns as holding.lua says.

local hold = HOLD
if not hold then
  return { 'NOT_FOUND' }
end
if hold.state == 'PURCHASED' then
  return { 'OK', format_hold(hold), 0 }
end
if hold.state ~= 'CONFIRMED' then
  return { 'WRONG_STATE', format_hold(hold) }
end

local product = load_product()
redis.call('ZREM', PURCHASE_DUE, HOLD_KEY)
end_holds(product, { { key = HOLD_KEY, hold = hold } }, 'PURCHASED')
commit_product(product)
return { 'OK', format_hold(hold), 1 }
