-- Reserves units of one product for one or more requests, in order, each a
-- new hold in HELD that expires after the product's hold_seconds. Each
-- request is decided exactly as if it came alone, after the ones before it:
-- idempotency, the sale window, the customer's limit and the stock all see
-- what the earlier requests of the call did. Due holds are reclaimed before a
-- request is refused for stock or for the customer's limit, so a product
-- whose units sit in expired holds is never reported sold out. However many holds it makes, the call bumps the
-- version once and publishes one stock event (the state after the last one).
--
-- KEYS[1..5]   as in lib.lua
-- KEYS[5 + i]  the request record of request i (idempotency)
-- ARGV[1..5]   as in lib.lua
-- ARGV[6]      seconds to keep a request record
-- ARGV[7]      most due holds to reclaim per request
-- ARGV[8 + 4(i-1) .. 11 + 4(i-1)]  request i: token of its new hold (used only
--              if the request is new), customer id, quantity (>= 1), request id
--
-- Returns {'BATCH', first_active, answer 1, ..., answer n}, where
-- first_active is 1 when every active hold of the product is one this call
-- made (the product must be indexed), and each answer is one of
--   {'OK', hold JSON, available after it, replayed (0 or 1), hold token}
--   {'NOT_FOUND'}
--   {'IDEMPOTENCY_MISMATCH'}
--   {'SALE_CLOSED', sale_starts_at, sale_ends_at}
--   {'CUSTOMER_LIMIT', limit, units the customer already has}
--   {'OUT_OF_STOCK', available}

local request_ttl, reclaim_limit = tonumber(ARGV[6]), tonumber(ARGV[7])
local count = #KEYS - 5

local product = load_product()
local answers = { 'BATCH', 0 }
if not product then
  for i = 1, count do
    answers[2 + i] = { 'NOT_FOUND' }
  end
  return answers
end

local made = 0

local function reserve(request_key, token, customer_id, quantity, request_id)
  -- A request seen before answers what it answered the first time.
  local prior = redis.call('GET', request_key)
  if prior then
    local first = cjson.decode(prior)
    if first.customer_id ~= customer_id or first.quantity ~= quantity then
      return { 'IDEMPOTENCY_MISMATCH' }
    end
    return { 'OK', first.hold, first.available, 1, first.token }
  end

  if NOW < product.sale_starts_at or (product.sale_ends_at > 0 and NOW >= product.sale_ends_at) then
    return { 'SALE_CLOSED', product.sale_starts_at, product.sale_ends_at }
  end

  -- Due holds matter only when they would change the answer: when stock is
  -- short, or when the customer's own due holds could free room under the
  -- limit. Otherwise the sweeper returns them, and the hot path skips the scan.
  local due, due_units, stale = {}, 0, {}
  local owned = customer_units(customer_id)
  local limited = product.per_customer_limit > 0 and owned + quantity > product.per_customer_limit
  if limited or product.available < quantity then
    due, due_units, stale = find_due_holds(reclaim_limit)
    for _, entry in ipairs(due) do
      if entry.hold.customer_id == customer_id then
        owned = owned - entry.hold.quantity
      end
    end
  end
  if product.per_customer_limit > 0 and owned + quantity > product.per_customer_limit then
    return { 'CUSTOMER_LIMIT', product.per_customer_limit, owned }
  end
  if product.available + due_units < quantity then
    return { 'OUT_OF_STOCK', product.available + due_units }
  end

  expire_holds(product, due, stale)
  local hold = {
    state = 'HELD', customer_id = customer_id, quantity = quantity, request_id = request_id,
    created_at_ms = NOW, expires_at_ms = NOW + product.hold_seconds * 1000, purchase_deadline_ms = 0,
  }
  local hold_json = store_hold(token, hold)
  redis.call('ZADD', DUE, hold.expires_at_ms, token)
  redis.call('HINCRBY', CUSTOMERS, customer_id, quantity)
  product.available = product.available - quantity
  product.held = product.held + quantity
  publish_hold_event(token, hold)
  redis.call('SET', request_key, cjson.encode({
    token = token, customer_id = customer_id, quantity = quantity, hold = hold_json,
    available = product.available,
  }), 'EX', request_ttl)
  made = made + 1
  return { 'OK', hold_json, product.available, 0, token }
end

for i = 1, count do
  local at = 8 + (i - 1) * 4
  answers[2 + i] = reserve(KEYS[5 + i], ARGV[at], ARGV[at + 1], tonumber(ARGV[at + 2]), ARGV[at + 3])
end

if made > 0 then
  commit_product(product)
  local active = redis.call('ZCARD', DUE) + redis.call('ZCARD', PURCHASE_DUE)
  answers[2] = active == made and 1 or 0
end
return answers
