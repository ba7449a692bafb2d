-- Ending holds, finding and expiring due holds, committing a product's
-- change, and when the sweepers must look at it next. The last part of the
-- prelude every state-changing script gets (see src/scripts.rs), after
-- lib.lua and customer_fields.lua, whose keys and helpers it uses.

-- Writes what ending holds leaves to write: the holds `keys` out of the live
-- set and (`holders`: customer -> tokens) out of the holders index,
-- `records` (key, record pairs) into the current ended hash, units given
-- back to their customers (when the product counts them), and their owners
-- told (`events`, made into messages by `message`).
local function store_ended(product, keys, holders, records, given_back, events, message)
  redis.call('HDEL', HOLDS, unpack(keys))
  unindex_holders(holders)
  redis.call('HSET', ENDED, unpack(records))
  redis.call('PEXPIRE', ENDED, ENDED_TTL_MS)
  if product.counts_customers then
    give_back_units(given_back)
  end
  publish_hold_events(events, message)
end

-- Ends holds: each entry {key, hold} moves to `state` and out of the live
-- set into the current ended hash, its units back to available (or, for
-- PURCHASED, from held to sold), counted in the product's tallies. The
-- caller removes due entries and purchase index entries, and commits.
local TALLY = { CANCELLED = 'cancelled', EXPIRED = 'expired', RELEASED = 'released' }
local function end_holds(product, entries, state)
  if #entries == 0 then
    return
  end
  local keys, holders, records, events, given_back = {}, {}, {}, {}, {}
  for _, entry in ipairs(entries) do
    local hold = entry.hold
    hold.state = state
    hold.updated_at_ms = NOW
    product.held = product.held - hold.quantity
    if state == 'PURCHASED' then
      hold.purchased_at_ms = NOW
      product.sold = product.sold + hold.quantity
    else
      product.available = product.available + hold.quantity
      product[TALLY[state]] = product[TALLY[state]] + hold.quantity
      given_back[hold.customer_id] = (given_back[hold.customer_id] or 0) + hold.quantity
    end
    keys[#keys + 1] = entry.key
    add_token(holders, hold.customer_id, token_of(entry.key, hold))
    records[#records + 1] = entry.key
    records[#records + 1] = format_hold(hold)
    events[#events + 1] = { hold.customer_id, entry.key, hold }
  end
  store_ended(product, keys, holders, records, given_back, events, hold_event_of)
end

-- HMGET of any number of fields: Lua hands a command only so many arguments.
local function hmget(hash, fields)
  if #fields <= 4000 then
    return redis.call('HMGET', hash, unpack(fields))
  end
  local values = {}
  for first = 1, #fields, 4000 do
    local part = redis.call('HMGET', hash, unpack(fields, first, math.min(first + 3999, #fields)))
    for _, value in ipairs(part) do
      values[#values + 1] = value
    end
  end
  return values
end

-- Reads the HELD holds past their deadline, oldest first: whole due entries
-- until at least `limit` holds (so at most one entry's worth beyond it).
-- Entries whose holds all moved on since (confirmed, given back) are taken
-- too, to be dropped, but looking stops after 4 * `limit` holds, so a call's
-- cost stays bounded. Each round reads only as many entries' holds as could
-- still be wanted. Returns the plan {entries, due, units}, each due hold as
-- {key, customer_id, quantity, and the text of its other fields}: a due
-- entry's deadline is its holds', so a record in it still HELD is due, and
-- is read no further. Nothing is written.
local function find_due_holds(limit)
  local plan = { entries = {}, due = {}, units = 0 }
  local examined = 0
  while #plan.due < limit and examined < 4 * limit do
    local wanted = limit - #plan.due
    local page = redis.call('ZRANGE', DUE, '-inf', NOW_TEXT, 'BYSCORE', 'LIMIT', #plan.entries,
      math.min(wanted, 256))
    if #page == 0 then
      break
    end
    local keys = {}
    for _, entry in ipairs(page) do
      plan.entries[#plan.entries + 1] = entry
      for key in string.gmatch(entry, '[^,]+') do
        keys[#keys + 1] = key
      end
      if #keys >= wanted then
        break
      end
    end
    examined = examined + #keys
    local records = hmget(HOLDS, keys)
    for i, key in ipairs(keys) do
      local customer_id, quantity, request_id, created, expires =
        string.match(records[i] or '', '^HELD (%S+) (%d+) (%S+) (%d+) (%d+) %d+$')
      if customer_id then
        plan.due[#plan.due + 1] = { key = key, customer_id = customer_id,
          quantity = tonumber(quantity), request_id = request_id, created = created,
          expires = expires }
        plan.units = plan.units + tonumber(quantity)
      end
    end
  end
  return plan
end

-- The token of a due hold of a plan (see token_of).
local function due_token(due)
  if #due.key == 20 then
    return time_digits(tonumber(due.created)) .. due.key
  end
  return due.key
end

-- The hold event of a hold a plan expired.
local function expired_event_of(event)
  local due = event[3]
  return string.format(
    '{"reservation_id":"%s~%s","sku":"%s","state":"EXPIRED","quantity":%d,"expires_at_ms":%s,"at_ms":%s}',
    SKU, due.token, SKU, due.quantity, due.expires, NOW_TEXT)
end

-- Carries out a plan of find_due_holds: its holds EXPIRED and out of the
-- live set, their entries dropped. Each due hold gets its new `record`.
local function expire_planned(product, plan)
  if #plan.entries > 0 then
    redis.call('ZREM', DUE, unpack(plan.entries))
  end
  if #plan.due == 0 then
    return
  end
  local keys, holders, records, events, given_back = {}, {}, {}, {}, {}
  for _, due in ipairs(plan.due) do
    product.available = product.available + due.quantity
    product.held = product.held - due.quantity
    product.expired = product.expired + due.quantity
    given_back[due.customer_id] = (given_back[due.customer_id] or 0) + due.quantity
    due.record = 'EXPIRED ' .. due.customer_id .. ' ' .. due.quantity .. ' ' .. due.request_id
      .. ' ' .. due.created .. ' ' .. due.expires .. ' ' .. NOW_TEXT
    due.token = due_token(due)
    keys[#keys + 1] = due.key
    add_token(holders, due.customer_id, due.token)
    records[#records + 1] = due.key
    records[#records + 1] = due.record
    events[#events + 1] = { due.customer_id, due.key, due }
  end
  store_ended(product, keys, holders, records, given_back, events, expired_event_of)
end

-- Gives a HELD hold's units back before it is bought: CANCELLED, or EXPIRED
-- when it is already past its deadline. Its due entry stays until its
-- deadline, when the sweep passes over it.
local function cancel_hold(product, key, hold)
  end_holds(product, { { key = key, hold = hold } }, is_due(hold) and 'EXPIRED' or 'CANCELLED')
end

-- Writes the counters that changed, bumps the version by one and publishes
-- one stock event. Every script call that changes the product calls this
-- exactly once. Numbers become text once, for both the hash and the event.
-- The event says `paused` only while paused: readers take its absence for
-- false, and the events of a sale on the go stay as short as they were.
local function commit_product(product)
  product.version = product.version + 1
  local text, changes = {}, { 'updated_at', NOW_TEXT }
  for _, counter in ipairs(COUNTERS) do
    local loaded = product.loaded and product.loaded[counter]
    if loaded and tonumber(loaded) == product[counter] then
      text[counter] = loaded
    else
      text[counter] = string.format('%.0f', product[counter])
      changes[#changes + 1] = counter
      changes[#changes + 1] = text[counter]
    end
  end
  redis.call('HSET', PRODUCT, unpack(changes))
  product.loaded = text
  redis.call(PUBLISH_CMD, STOCK_CHANNEL, '{"sku":"' .. SKU .. '","available":' .. text.available
    .. ',"held":' .. text.held .. ',"sold":' .. text.sold .. ',"total":' .. text.total
    .. ',"version":' .. text.version .. ',"at_ms":' .. NOW_TEXT
    .. (product.paused and ',"paused":true}' or '}'))
  return product.version
end

-- Whether the product's holds get an expiry notice `lead` ms before their
-- deadline: only when they live longer than that.
local function gets_notices(product, lead)
  return lead > 0 and product.hold_seconds * 1000 > lead
end

-- When the first due entry not yet noticed wants its expiry notice; nil
-- when there is none, or the product's holds get none.
local function next_notice(product, lead)
  if not gets_notices(product, lead) then
    return nil
  end
  local first = redis.call('ZRANGE', DUE, string.format('(%.0f', product.noticed_until), '+inf',
    'BYSCORE', 'LIMIT', 0, 1, 'WITHSCORES')[2]
  return first and tonumber(first) - lead
end

-- The earliest deadline of the product's live holds (HELD or CONFIRMED), or
-- nil when it has none: when the sweepers must look at it next, unless an
-- expiry notice comes first (next_notice).
local function earliest_deadline()
  local due = redis.call('ZRANGE', DUE, 0, 0, 'WITHSCORES')[2]
  local purchase = redis.call('ZRANGE', PURCHASE_DUE, 0, 0, 'WITHSCORES')[2]
  if due and purchase then
    return math.min(tonumber(due), tonumber(purchase))
  end
  return tonumber(due or purchase)
end
