-- Reserves every line of a cart, or none. Each line is decided as reserve.lua
-- decides one request (idempotency, sale window, customer limit, stock, due
-- holds reclaimed first); only when no line is refused is anything written,
-- and then each product gets its new hold, one version bump and one stock
-- event. A cart seen before replays its lines' first answers. A cart's holds
-- carry the request id `cart:ID`, apart from single reserves' ids.
--
-- KEYS, ARGV  as in carts.lua
--
-- Returns {'CART', answer 1, ..., answer n} when every line stands, each
--   {'OK', hold JSON, available after it, replayed (0 or 1), hold token,
--    first_active (1 when the product's only active hold is this one)}
-- or {'REFUSED', line, answer} for the first line refused, the answer as in
-- reserve.lua; nothing was written.

local products, plans, answers = {}, {}, { 'CART' }
for i = 1, LINES do
  local request_key, _, quantity = use_line(i)
  local product = load_product()
  if not product then
    return { 'REFUSED', i, { 'NOT_FOUND' } }
  end
  local answer, plan = decide_reserve(product, request_key, CART_CUSTOMER, quantity, RECLAIM_LIMIT)
  if answer and answer[1] ~= 'OK' then
    return { 'REFUSED', i, answer }
  end
  products[i], plans[i], answers[i + 1] = product, plan, answer
end

for i = 1, LINES do
  local request_key, token, quantity = use_line(i)
  local answer = answers[i + 1]
  if plans[i] then
    answer = grant_reserve(products[i], plans[i], request_key, REQUEST_TTL, token, CART_CUSTOMER,
      quantity, 'cart:' .. CART_REQUEST)
    commit_product(products[i])
    answer[6] = first_active(1) and 1 or 0
  else
    answer[6] = 0
  end
  answers[i + 1] = answer
end
return answers
