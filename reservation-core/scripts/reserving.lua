-- Deciding and granting one reserve request, shared by reserve.lua (many
-- requests of one product) and reserve_cart.lua (one request per product of a
-- cart). Loaded after lib.lua, whose product keys and helpers it uses.
--
-- Deciding reads only, so a caller can decide every request it must answer
-- all together before it writes anything (Lua has no rollback).

-- The records the requests with hold keys `keys` made, if any: per key the
-- record or false, and the key it is stored under (a pointer left by a layout
-- upgrade leads to a legacy key).
local function find_request_holds(keys)
  local found, stored_under = {}, {}
  local live = redis.call('HMGET', HOLDS, unpack(keys))
  local ended = redis.call('HMGET', ENDED, unpack(keys))
  local before = redis.call('HMGET', ENDED_BEFORE, unpack(keys))
  for i, key in ipairs(keys) do
    local raw, legacy = deref(live[i] or ended[i] or before[i])
    found[i], stored_under[i] = raw or false, legacy or key
  end
  return found, stored_under
end

-- Whether this call looked for due holds and found none.
local nothing_due = false

-- Decides a request on `product`, given the record its key found (`prior`,
-- stored under `prior_key`) and the units its customer has. Returns the
-- answer when it is final (a replay of the first hold, or a refusal), or nil
-- and the plan to grant it: the due holds to reclaim first, or nil.
local function decide_reserve(product, prior, prior_key, request_id, customer_id, quantity, owned,
                              reclaim_limit)
  -- A request seen before answers with the hold it made, as it is now.
  local first = prior and parse_hold(prior)
  if first then
    if first.request_id ~= request_id then
      return { 'KEY_COLLISION' }
    end
    if first.customer_id ~= customer_id or first.quantity ~= quantity then
      return { 'IDEMPOTENCY_MISMATCH' }
    end
    return { 'REPLAY', token_of(prior_key, first), prior, product.available }
  end

  if sale_closed(product) then
    return { 'SALE_CLOSED', product.sale_starts_at, product.sale_ends_at,
      product.paused and 1 or 0 }
  end

  -- Due holds matter only when they would change the answer: when stock is
  -- short, or when the customer's own due holds could free room under the
  -- limit. Otherwise the sweeper returns them, and the hot path skips them.
  local limit = product.per_customer_limit
  local plan
  if ((limit > 0 and owned + quantity > limit) or product.available < quantity)
    and not nothing_due then
    plan = find_due_holds(reclaim_limit)
    -- Nothing comes due within one call (its "now" stands still, and new
    -- holds are due later): a sold-out product's refusals look once.
    nothing_due = #plan.entries == 0
    for _, due in ipairs(plan.due) do
      if due.customer_id == customer_id then
        owned = owned - due.quantity
      end
    end
  end
  if limit > 0 and owned + quantity > limit then
    return { 'CUSTOMER_LIMIT', limit, owned }
  end
  local due_units = plan and plan.units or 0
  if product.available + due_units < quantity then
    return { 'OUT_OF_STOCK', product.available + due_units }
  end
  return nil, plan
end

-- Counts a granted request's units as held. The caller stores the new hold,
-- adds its due entry and the customer's units, and commits.
local function grant_units(product, quantity)
  product.available = product.available - quantity
  product.held = product.held + quantity
  product.reserved = product.reserved + quantity
  product.holds_made = product.holds_made + 1
end

-- Whether `entry`, just added, is the product's first due entry still to get
-- its expiry notice (lib.lua's next_notice): then the sweepers must look at
-- the product before its deadline.
local function first_to_notice(product, entry)
  local first = redis.call('ZRANGE', DUE, string.format('(%.0f', product.noticed_until), '+inf',
    'BYSCORE', 'LIMIT', 0, 1)[1]
  return first == entry
end

-- The record of a new HELD hold made now.
local function new_hold_record(customer_id, quantity, request_id, expires_at_ms)
  return string.format('HELD %s %d %s %s %.0f %s', customer_id, quantity, request_id, NOW_TEXT,
    expires_at_ms, NOW_TEXT)
end
