-- Recounts a product from its holds, to check invariant 1 and the indexes
-- against the stored counters. Reads only.
--
-- KEYS[1..5] as in lib.lua
--
-- Returns {'OK', total, available, held, sold,
--          units in HELD and CONFIRMED holds, units in PURCHASED holds,
--          customers whose unit count differs from their holds,
--          HELD holds missing from the due index, due entries that are not HELD,
--          CONFIRMED holds missing from the purchase index,
--          purchase index entries that are not CONFIRMED,
--          holds, holds made by a request_id that had already made one
--          (holds undone with a failed cart not counted)}
-- or {'NOT_FOUND'}.

local PRODUCT, HOLDS, DUE, CUSTOMERS, PURCHASE_DUE = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local f = redis.call('HMGET', PRODUCT, 'total', 'available', 'held', 'sold')
if not f[1] then
  return { 'NOT_FOUND' }
end

-- Each structure is read once and cross-checked in Lua tables: the audit
-- blocks Redis while it runs, so it must stay one pass over each.
local function members(index)
  local set = {}
  for _, token in ipairs(redis.call('ZRANGE', index, 0, -1)) do
    set[token] = true
  end
  return set
end
local due, purchase_due = members(DUE), members(PURCHASE_DUE)

local active_units, sold_units = 0, 0
local by_customer = {}
local held_not_due, confirmed_not_indexed = 0, 0
local requests, repeated_requests = {}, 0
local state_of = {}
local holds = redis.call('HGETALL', HOLDS)
for i = 1, #holds, 2 do
  local token, hold = holds[i], cjson.decode(holds[i + 1])
  state_of[token] = hold.state
  -- A hold undone with the rest of its failed cart answered no request.
  if not hold.undone then
    if requests[hold.request_id] then
      repeated_requests = repeated_requests + 1
    end
    requests[hold.request_id] = true
  end
  local counts = hold.state == 'HELD' or hold.state == 'CONFIRMED' or hold.state == 'PURCHASED'
  if hold.state == 'HELD' or hold.state == 'CONFIRMED' then
    active_units = active_units + hold.quantity
  elseif hold.state == 'PURCHASED' then
    sold_units = sold_units + hold.quantity
  end
  if counts then
    by_customer[hold.customer_id] = (by_customer[hold.customer_id] or 0) + hold.quantity
  end
  if hold.state == 'HELD' and not due[token] then
    held_not_due = held_not_due + 1
  end
  if hold.state == 'CONFIRMED' and not purchase_due[token] then
    confirmed_not_indexed = confirmed_not_indexed + 1
  end
end

local customer_drift = 0
local stored = redis.call('HGETALL', CUSTOMERS)
local seen = {}
for i = 1, #stored, 2 do
  seen[stored[i]] = true
  if tonumber(stored[i + 1]) ~= (by_customer[stored[i]] or 0) then
    customer_drift = customer_drift + 1
  end
end
for customer, units in pairs(by_customer) do
  if not seen[customer] and units ~= 0 then
    customer_drift = customer_drift + 1
  end
end

local function stray_entries(index, state)
  local stray = 0
  for token in pairs(index) do
    if state_of[token] ~= state then
      stray = stray + 1
    end
  end
  return stray
end

return { 'OK', tonumber(f[1]), tonumber(f[2]), tonumber(f[3]), tonumber(f[4]),
  active_units, sold_units, customer_drift,
  held_not_due, stray_entries(due, 'HELD'),
  confirmed_not_indexed, stray_entries(purchase_due, 'CONFIRMED'),
  #holds / 2, repeated_requests }
