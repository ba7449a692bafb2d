-- Reserves units of one product for one or more requests, in order, each a
-- new hold in HELD that expires after the product's hold_seconds. Each
-- request is decided exactly as if it came alone, after the ones before it:
-- idempotency, the sale window, the customer's limit and the stock all see
-- what the earlier requests of the call did. Due holds are reclaimed before a
-- request is refused for stock or for the customer's limit, so a product
-- whose units sit in expired holds is never reported sold out. However many
-- holds it makes, the call bumps the version once, publishes one stock event
-- (the state after the last one), and adds one due entry. The deciding of
-- one request is in reserving.lua.
--
-- This is the hot path of a sale, so the call's writes are batched: one HSET
-- of the new holds, one ZADD of their due entry, one HMGET and one HSET of
-- their customers' holders entries, one HSET of the customers' units, and the hold
-- events go out together (only to customers someone listens for, on a
-- single node: see lib.lua).
--
-- KEYS[1..9]   as in lib.lua
-- ARGV[1..6]   as in lib.lua
-- ARGV[7]      most due holds to reclaim per request
-- ARGV[4 + 4i .. 7 + 4i]  request i (from 1): its hold key, customer id,
--              quantity (>= 1), request id
--
-- Returns {'BATCH', name, value, ...} with the fields
--   index_deadline  the new holds' deadline when it is now the product's
--                   earliest, or the first still to get its expiry notice
--                   (the caller must list the product in the sweep index, at
--                   the notice's time when its holds get one), else 0
--   expires_at      the deadline of the holds this call made (0: none)
--   answers         {answer 1, ..., answer n}, one per request, in order
-- Each answer is one of
--   {'OK', token, available after it}              a new hold
--   {'REPLAY', token, hold record, available now}  the request's first hold
--   {'NOT_FOUND'}
--   {'IDEMPOTENCY_MISMATCH'}
--   {'KEY_COLLISION'}                              two request ids, one key
--   {'SALE_CLOSED', sale_starts_at, sale_ends_at, 1 when paused else 0}
--   {'CUSTOMER_LIMIT', limit, units the customer already has}
--   {'OUT_OF_STOCK', available}

local RECLAIM_LIMIT = tonumber(ARGV[7])
local COUNT = (#ARGV - 7) / 4

local answers = {}
local product = load_product()
if not product then
  for i = 1, COUNT do
    answers[i] = { 'NOT_FOUND' }
  end
  return { 'BATCH', 'index_deadline', 0, 'expires_at', 0, 'answers', answers }
end

local keys, customers, owned = {}, {}, {}
for i = 1, COUNT do
  keys[i] = ARGV[4 + 4 * i]
  local customer = ARGV[5 + 4 * i]
  if not owned[customer] then
    owned[customer] = 0
    customers[#customers + 1] = customer
  end
end
local found, stored_under = find_request_holds(keys)
if product.counts_customers then
  for i, units in ipairs(redis.call('HMGET', CUSTOMERS, unpack(customers))) do
    owned[customers[i]] = tonumber(units or '0')
  end
end

-- Reclaiming ends other customers' holds too: their units here must follow,
-- and so must the answer to a later request of the call that made one.
local ended_now = {}
local function reclaim(plan)
  expire_planned(product, plan)
  for _, due in ipairs(plan.due) do
    if owned[due.customer_id] then
      owned[due.customer_id] = owned[due.customer_id] - due.quantity
    end
    ended_now[due.key] = due.record
  end
end

-- What every hold of this call shares, built once.
local expires_at = NOW + product.hold_seconds * 1000
local expires_text = string.format('%.0f', expires_at)
local record_tail = ' ' .. NOW_TEXT .. ' ' .. expires_text .. ' ' .. NOW_TEXT
local token_head = time_digits(NOW)
local event_head = '{"reservation_id":"' .. SKU .. '~' .. token_head
local event_middle = '","sku":"' .. SKU .. '","state":"HELD","quantity":'
local event_tail = ',"expires_at_ms":' .. expires_text .. ',"at_ms":' .. NOW_TEXT .. '}'

local made, new_keys, records, holders, changed, events = {}, {}, {}, {}, {}, {}
for i = 1, COUNT do
  local customer, quantity_text, request_id = ARGV[5 + 4 * i], ARGV[6 + 4 * i], ARGV[7 + 4 * i]
  local quantity = tonumber(quantity_text)
  local key = keys[i]
  local prior, prior_key = found[i], stored_under[i]
  if not prior and made[key] then
    prior, prior_key = made[key], key
  end
  prior = ended_now[prior_key] or prior
  local answer, plan = decide_reserve(product, prior, prior_key, request_id, customer, quantity,
    owned[customer], RECLAIM_LIMIT)
  if not answer then
    if plan then
      reclaim(plan)
    end
    grant_units(product, quantity)
    owned[customer] = owned[customer] + quantity
    changed[customer] = true
    local record = 'HELD ' .. customer .. ' ' .. quantity_text .. ' ' .. request_id .. record_tail
    made[key] = record
    new_keys[#new_keys + 1] = key
    records[#records + 1] = key
    records[#records + 1] = record
    add_token(holders, customer, token_head .. key)
    events[#events + 1] = { customer, key, quantity_text }
    answer = { 'OK', token_head .. key, product.available }
  end
  answers[i] = answer
end

local index_deadline, made_expires_at = 0, 0
if #new_keys > 0 then
  redis.call('HSET', HOLDS, unpack(records))
  local entry = table.concat(new_keys, ',')
  redis.call('ZADD', DUE, expires_text, entry)
  index_holders(holders)
  if product.counts_customers then
    local units = {}
    for customer in pairs(changed) do
      units[#units + 1] = customer
      units[#units + 1] = owned[customer]
    end
    redis.call('HSET', CUSTOMERS, unpack(units))
  end
  if redis.call('ZRANGE', DUE, 0, 0)[1] == entry or first_to_notice(product, entry) then
    index_deadline = expires_at
  end
  made_expires_at = expires_at
  commit_product(product)
  publish_hold_events(events, function(event)
    return event_head .. event[2] .. event_middle .. event[3] .. event_tail
  end)
end
return { 'BATCH', 'index_deadline', index_deadline, 'expires_at', made_expires_at,
  'answers', answers }
