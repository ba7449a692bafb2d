-- Reserves every line of a cart, or none. Each line is decided as reserve.lua
-- decides one request (idempotency, sale window, customer limit, stock, due
-- holds reclaimed first); only when no line is refused is anything written,
-- and then each product gets its new hold, one version bump and one stock
-- event. A cart seen before replays its lines' first holds.
--
-- KEYS, ARGV  as in carts.lua
--
-- Returns, when every line stands, {'CART', 'lines', {line 1, ..., line n}},
-- each line {'LINE', name, value, ...} with the fields
--   answer          {'OK', ...} or {'REPLAY', ...}, as in reserve.lua
--   expires_at      the new hold's deadline (0 for a replay)
--   index_deadline  as in reserve.lua, for this line's product (0 for a
--                   replay)
-- or, for the first line refused, {'REFUSED', 'line', its number,
-- 'answer', its answer as in reserve.lua}; nothing was written.

local lines = {}
for i = 1, LINES do
  local key, quantity = use_line(i)
  local product = load_product()
  if not product then
    return { 'REFUSED', 'line', i, 'answer', { 'NOT_FOUND' } }
  end
  local found, stored_under = find_request_holds({ key })
  local owned = 0
  if product.counts_customers then
    owned = tonumber(redis.call('HGET', CUSTOMERS, CART_CUSTOMER) or '0')
  end
  local answer, plan = decide_reserve(product, found[1], stored_under[1], CART_REQUEST_ID,
    CART_CUSTOMER, quantity, owned, RECLAIM_LIMIT)
  if answer and answer[1] ~= 'REPLAY' then
    return { 'REFUSED', 'line', i, 'answer', answer }
  end
  lines[i] = { product = product, key = key, answer = answer, plan = plan }
end

local answers = {}
for i = 1, LINES do
  local _, quantity = use_line(i)
  local line = lines[i]
  local answer = line.answer
  local expires_at, index_deadline = 0, 0
  if not answer then
    local product = line.product
    if line.plan then
      expire_planned(product, line.plan)
    end
    grant_units(product, quantity)
    expires_at = NOW + product.hold_seconds * 1000
    local record = new_hold_record(CART_CUSTOMER, quantity, CART_REQUEST_ID, expires_at)
    redis.call('HSET', HOLDS, line.key, record)
    redis.call('ZADD', DUE, expires_at, line.key)
    if product.counts_customers then
      redis.call('HINCRBY', CUSTOMERS, CART_CUSTOMER, quantity)
    end
    local hold = parse_hold(record)
    index_holders({ [CART_CUSTOMER] = { token_of(line.key, hold) } })
    publish_hold_event(line.key, hold)
    if redis.call('ZRANGE', DUE, 0, 0)[1] == line.key or first_to_notice(product, line.key) then
      index_deadline = expires_at
    end
    commit_product(product)
    answer = { 'OK', token_of(line.key, hold), product.available }
  end
  answers[i] = { 'LINE', 'answer', answer, 'expires_at', expires_at,
    'index_deadline', index_deadline }
end
return { 'CART', 'lines', answers }
