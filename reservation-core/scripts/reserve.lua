-- Reserves units of one product for a customer: a new hold in HELD that
-- expires after the product's hold_seconds. Due holds are reclaimed first, so a
-- product whose units sit in expired holds is never reported sold out.
--
-- KEYS[1..5] as in lib.lua
-- KEYS[6]  the request record of this request_id (idempotency)
-- ARGV[1..5] as in lib.lua
-- ARGV[6]  token of the new hold (used only if this request is new)
-- ARGV[7]  customer id
-- ARGV[8]  quantity (>= 1)
-- ARGV[9]  request id
-- ARGV[10] seconds to keep the request record
-- ARGV[11] most due holds to reclaim in this call
--
-- Returns one of
--   {'OK', hold JSON, available after, replayed (0 or 1), hold token,
--    1 when this is now the product's only active hold (it must be indexed)}
--   {'NOT_FOUND'}
--   {'IDEMPOTENCY_MISMATCH'}
--   {'SALE_CLOSED', sale_starts_at, sale_ends_at}
--   {'CUSTOMER_LIMIT', limit, units the customer already has}
--   {'OUT_OF_STOCK', available}

local REQUEST = KEYS[6]
local token, customer_id, quantity = ARGV[6], ARGV[7], tonumber(ARGV[8])
local request_id, request_ttl, reclaim_limit = ARGV[9], tonumber(ARGV[10]), tonumber(ARGV[11])

local product = load_product()
if not product then
  return { 'NOT_FOUND' }
end

-- A request seen before answers what it answered the first time.
local prior = redis.call('GET', REQUEST)
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

local due, due_units, stale = find_due_holds(reclaim_limit)
local owned = customer_units(customer_id)
for _, entry in ipairs(due) do
  if entry.hold.customer_id == customer_id then
    owned = owned - entry.hold.quantity
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
commit_product(product)
publish_hold_event(token, hold)
redis.call('SET', REQUEST, cjson.encode({
  token = token, customer_id = customer_id, quantity = quantity, hold = hold_json, available = product.available,
}), 'EX', request_ttl)
local first_active = redis.call('ZCARD', DUE) + redis.call('ZCARD', PURCHASE_DUE) == 1 and 1 or 0
return { 'OK', hold_json, product.available, 0, token, first_active }
