-- Gives a hold back before it is bought: HELD -> CANCELLED, units back to
-- available. A hold already past its deadline becomes EXPIRED instead; either
-- way the units are back, so cancelling an ended hold again is a no-op.
--
-- KEYS[1..9] as in lib.lua
-- ARGV[1..8] as in lib.lua and holding.lua
-- ARGV[9] owner's customer id, or '' when the caller may act on any hold
--
-- Returns as holding.lua says.

local owner = ARGV[9]
local hold = HOLD
if not hold or (owner ~= '' and hold.customer_id ~= owner) then
  return { 'NOT_FOUND' }
end

if hold.state == 'CANCELLED' or hold.state == 'EXPIRED' then
  return { 'OK', format_hold(hold), 0 }
end
if hold.state ~= 'HELD' then
  return { 'WRONG_STATE', format_hold(hold) }
end

local product = load_product()
cancel_hold(product, HOLD_KEY, hold)
commit_product(product)
return { 'OK', format_hold(hold), 1 }
