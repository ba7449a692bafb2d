-- Gives a hold back before it is bought: HELD -> CANCELLED, units back to
-- available. A hold already past its deadline becomes EXPIRED instead; either
-- way the units are back, so cancelling an ended hold again is a no-op.
--
-- KEYS[1..5] as in lib.lua
-- ARGV[1..5] as in lib.lua
-- ARGV[6] hold token
-- ARGV[7] owner's customer id, or '' when the caller may act on any hold
--
-- Returns {'OK', hold JSON, changed (0 or 1)}, {'NOT_FOUND'} or {'WRONG_STATE', hold JSON}.

local token, owner = ARGV[6], ARGV[7]
local hold = load_hold(token)
if not hold or (owner ~= '' and hold.customer_id ~= owner) then
  return { 'NOT_FOUND' }
end

if hold.state == 'CANCELLED' or hold.state == 'EXPIRED' then
  return { 'OK', cjson.encode(hold), 0 }
end
if hold.state ~= 'HELD' then
  return { 'WRONG_STATE', cjson.encode(hold) }
end

local product = load_product()
cancel_hold(product, token, hold)
commit_product(product)
return { 'OK', cjson.encode(hold), 1 }
