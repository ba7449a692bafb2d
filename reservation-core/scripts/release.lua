-- Gives back a confirmed hold whose purchase finally failed:
-- CONFIRMED -> RELEASED, units back to available. Releasing again is a no-op.
--
-- KEYS[1..9] as in lib.lua
-- ARGV[1..8] as in lib.lua and holding.lua
--
-- Returns as holding.lua says.

local hold = HOLD
if not hold then
  return { 'NOT_FOUND' }
end
if hold.state == 'RELEASED' then
  return { 'OK', format_hold(hold), 0 }
end
if hold.state ~= 'CONFIRMED' then
  return { 'WRONG_STATE', format_hold(hold) }
end

local product = load_product()
redis.call('ZREM', PURCHASE_DUE, HOLD_KEY)
end_holds(product, { { key = HOLD_KEY, hold = hold } }, 'RELEASED')
commit_product(product)
return { 'OK', format_hold(hold), 1 }
