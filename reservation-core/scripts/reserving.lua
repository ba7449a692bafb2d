-- Deciding and granting one reserve request, shared by reserve.lua (many
-- requests of one product) and reserve_cart.lua (one request per product of a
-- cart). Loaded after lib.lua, whose product keys and helpers it uses.
--
-- Deciding reads only, so a caller can decide every request it must answer
-- all together before it writes anything (Lua has no rollback).

-- Decides a request on `product`: returns the answer when it is final (a
-- replay of the first answer, or a refusal), or nil and the plan to grant it.
local function decide_reserve(product, request_key, customer_id, quantity, reclaim_limit)
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
  return nil, { due = due, stale = stale }
end

-- Grants a request `decide_reserve` planned: a new HELD hold under `token`
-- and the request's record. The caller commits the product afterwards.
local function grant_reserve(product, plan, request_key, request_ttl, token, customer_id, quantity, request_id)
  expire_holds(product, plan.due, plan.stale)
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
  return { 'OK', hold_json, product.available, 0, token }
end

-- Whether the product's only active hold is one just made: then it must
-- join the sweepers' index.
local function first_active(made)
  return redis.call('ZCARD', DUE) + redis.call('ZCARD', PURCHASE_DUE) == made
end
