-- Undoes the lines of a cart whose other lines could not be reserved (on Redis
-- Cluster, where each slot's lines are one call): each line's hold not yet
-- confirmed is given back, marked undone, and its request record deleted, so
-- that a retry of the cart starts afresh instead of replaying a hold that no
-- longer stands. A line never reserved is left as it is.
--
-- KEYS, ARGV  as in carts.lua (tokens and quantities unused)
--
-- Returns {'UNDONE', holds given back}.

local given_back = 0
for i = 1, LINES do
  local request_key = use_line(i)
  local record = redis.call('GET', request_key)
  record = record and cjson.decode(record)
  if record and record.customer_id == CART_CUSTOMER then
    local hold = load_hold(record.token)
    -- A hold confirmed or bought was answered to a cart that stood.
    if hold and hold.state ~= 'CONFIRMED' and hold.state ~= 'PURCHASED' then
      -- Marked, so the audit does not count it as its request's hold.
      hold.undone = true
      if hold.state == 'HELD' then
        local product = load_product()
        cancel_hold(product, record.token, hold)
        commit_product(product)
        given_back = given_back + 1
      else
        store_hold(record.token, hold)
      end
    end
    if not hold or hold.undone then
      redis.call('DEL', request_key)
    end
  end
end
return { 'UNDONE', given_back }
