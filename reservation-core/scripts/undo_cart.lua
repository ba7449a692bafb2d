-- Undoes the lines of a cart whose other lines could not be reserved (on Redis
-- Cluster, where each slot's lines are one call): each line's hold not yet
-- confirmed is given back and its record deleted, so that a retry of the cart
-- starts afresh instead of replaying a hold that no longer stands. A line
-- never reserved is left as it is.
--
-- KEYS, ARGV  as in carts.lua (quantities unused)
--
-- Returns {'UNDONE', holds given back}.

local given_back = 0
for i = 1, LINES do
  local key = use_line(i)
  local product = load_product()
  if product then
    local found, stored_under = find_request_holds({ key })
    local hold = found[1] and parse_hold(found[1])
    -- A hold confirmed or bought was answered to a cart that stood.
    if hold and hold.customer_id == CART_CUSTOMER and hold.state ~= 'CONFIRMED'
      and hold.state ~= 'PURCHASED' then
      if hold.state == 'HELD' then
        cancel_hold(product, stored_under[1], hold)
        commit_product(product)
        given_back = given_back + 1
      end
      -- The record and, after a layout upgrade, the pointer to it.
      redis.call('HDEL', ENDED, key, stored_under[1])
      redis.call('HDEL', ENDED_BEFORE, key, stored_under[1])
    end
  end
end
return { 'UNDONE', given_back }
