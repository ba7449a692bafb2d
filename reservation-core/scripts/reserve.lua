-- Reserves units of one product for one or more requests, in order, each a
-- new hold in HELD that expires after the product's hold_seconds. Each
-- request is decided exactly as if it came alone, after the ones before it:
-- idempotency, the sale window, the customer's limit and the stock all see
-- what the earlier requests of the call did. Due holds are reclaimed before a
-- request is refused for stock or for the customer's limit, so a product
-- whose units sit in expired holds is never reported sold out. However many
-- holds it makes, the call bumps the version once and publishes one stock
-- event (the state after the last one). The deciding and granting of one
-- request is in reserving.lua.
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
  local answer, plan = decide_reserve(product, request_key, customer_id, quantity, reclaim_limit)
  if answer then
    return answer
  end
  made = made + 1
  return grant_reserve(product, plan, request_key, request_ttl, token, customer_id, quantity, request_id)
end

for i = 1, count do
  local at = 8 + (i - 1) * 4
  answers[2 + i] = reserve(KEYS[5 + i], ARGV[at], ARGV[at + 1], tonumber(ARGV[at + 2]), ARGV[at + 3])
end

if made > 0 then
  commit_product(product)
  answers[2] = first_active(made) and 1 or 0
end
return answers
