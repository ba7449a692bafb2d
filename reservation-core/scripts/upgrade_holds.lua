-- One step of the upgrade from layout 1, run with every process stopped:
-- converts a chunk of a product's hold records from layout 1's JSON to this
-- layout's records. A live hold keeps its token as its key, in place; an
-- ended one leaves the live set for the current ended hash (or is dropped
-- when it ended longer ago than the retention) and is counted in the
-- product's tallies; a request still remembered gets a pointer from its new
-- key to the hold. Records already converted are skipped, so a step can be
-- run again after a crash; tallies count each record once.
--
-- KEYS[1..9] as in lib.lua
-- ARGV[1..6] as in lib.lua
-- ARGV[7]    ended holds updated before this (ms) are dropped
-- ARGV[8 + 2(i-1) .. 9 + 2(i-1)]  hold i: its token, and the key its request
--            finds it by (src/keys/), or '-' when the request is no longer
--            remembered
--
-- Returns {'OK', records converted} or {'NOT_FOUND'}.

local product = load_product()
if not product then
  return { 'NOT_FOUND' }
end
-- Layout 1 counted every product's customers.
redis.call('HSET', PRODUCT, 'counts_customers', 1)
product.counts_customers = true

local cutoff, converted = tonumber(ARGV[7]), 0
for a = 8, #ARGV, 2 do
  local token, request_key = ARGV[a], ARGV[a + 1]
  local raw = redis.call('HGET', HOLDS, token)
  if raw and string.sub(raw, 1, 1) == '{' then
    local old = cjson.decode(raw)
    local hold = {
      state = old.state, customer_id = old.customer_id, quantity = old.quantity,
      request_id = old.request_id, created_at_ms = old.created_at_ms,
      expires_at_ms = old.expires_at_ms, updated_at_ms = old.updated_at_ms,
      purchase_deadline_ms = tonumber(old.purchase_deadline_ms) or 0,
      purchased_at_ms = tonumber(old.purchased_at_ms) or 0,
    }
    product.holds_made = product.holds_made + 1
    product.reserved = product.reserved + hold.quantity
    if hold.state == 'HELD' or hold.state == 'CONFIRMED' then
      redis.call('HSET', HOLDS, token, format_hold(hold))
      index_holders({ [hold.customer_id] = { token } })
    else
      redis.call('HDEL', HOLDS, token)
      if TALLY[hold.state] then
        product[TALLY[hold.state]] = product[TALLY[hold.state]] + hold.quantity
      end
      if hold.updated_at_ms > cutoff then
        redis.call('HSET', ENDED, token, format_hold(hold))
      end
    end
    if request_key ~= '-' then
      redis.call('HSET', ENDED, request_key, '@' .. token)
    end
    converted = converted + 1
  end
end

if converted > 0 then
  redis.call('HSET', PRODUCT, 'reserved', product.reserved, 'holds_made', product.holds_made,
    'cancelled', product.cancelled, 'expired', product.expired, 'released', product.released)
  redis.call('PEXPIRE', ENDED, ENDED_TTL_MS)
end
return { 'OK', converted }
