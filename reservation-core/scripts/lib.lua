-- Shared prelude, prepended to every state-changing script when it is loaded
-- (see src/scripts.rs).
--
-- Every state-changing script of one product gets the same first nine KEYS
-- and the same first six ARGV, so all of them share these helpers:
--
-- KEYS[1] product       hash: settings, counters, and tallies of ended units
-- KEYS[2] holds         hash: hold key -> record, for live holds only
--                       (HELD and CONFIRMED)
-- KEYS[3] due           zset: due entry -> deadline; an entry is the keys of
--                       the holds one call made, comma-separated, all with
--                       that deadline
-- KEYS[4] customers     hash: customer id -> units in HELD, CONFIRMED and
--                       PURCHASED holds, kept only by a product that counts
--                       them (one given a per-customer limit before its first
--                       reserve: see update_product.lua)
-- KEYS[5] purchase_due  zset: hold key -> purchase deadline, CONFIRMED holds
-- KEYS[6] ended         hash: hold key -> record, holds that ended in the
--                       current retention period (src/keys.rs, `Retention`),
--                       and the records of restocks sent with a request id
-- KEYS[7] ended_before  the same, for the period before
-- KEYS[8] ended_gone    the same, for the period before that: read by
--                       nobody any more, and unlinked by every call (freed in
--                       the background: expiring it could hold Redis for
--                       tens of ms, freeing a big hash on the spot)
-- KEYS[9] holders       hash: customer id -> the tokens of their live holds
--                       of the product, space-separated (a hash, not a
--                       sorted set of all holds: one field per customer
--                       costs a hash lookup, where a skiplist insert into a
--                       big set costs a cache miss a level)
--
-- ARGV[1] sku
-- ARGV[2] now, ms since the epoch (the caller's clock decides expiry)
-- ARGV[3] publish command: PUBLISH, or SPUBLISH on Redis Cluster
-- ARGV[4] stock channel of the product
-- ARGV[5] prefix of the customer channels that carry hold events
-- ARGV[6] ms until the current ended hash expires unless a call unlinks it
--
-- A hold's key is made from its request (src/keys.rs, `request_hold_key`:
-- 20 hex digits of a salted hash of the request id), so a request finds its
-- hold with no index of its own: the hold record is also the request record.
-- Its token, the part of its reservation id after `~`, is its creation time
-- in ten base-32 digits (as a ULID starts) followed by that key. A hold made
-- before this layout keeps its 26-character ULID as both token and key.
--
-- A hold record is one line of space-separated fields:
--   state customer_id quantity request_id created_at_ms expires_at_ms
--   updated_at_ms [purchase_deadline_ms [purchased_at_ms]]
-- A restock's record (restock.lua) is `RESTOCK delta request_id at_ms`,
-- which parse_hold takes for no hold.
--
-- Scripts first check everything, then write: Lua has no rollback, so a
-- failed check must leave nothing behind.

local PRODUCT, HOLDS, DUE, CUSTOMERS, PURCHASE_DUE, ENDED, ENDED_BEFORE, HOLDERS =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[9]
redis.call('UNLINK', KEYS[8])
local SKU, NOW_TEXT = ARGV[1], ARGV[2]
local NOW = tonumber(NOW_TEXT)
local PUBLISH_CMD = ARGV[3]
local STOCK_CHANNEL = ARGV[4]
local CUSTOMER_CHANNEL_PREFIX = ARGV[5]
local ENDED_TTL_MS = ARGV[6]

-- The product's counters, and its settings that scripts read.
local COUNTERS = { 'total', 'available', 'held', 'sold', 'version', 'reserved', 'holds_made',
  'cancelled', 'expired', 'released' }
-- `noticed_until`: every due entry with a deadline up to this one has had
-- its expiry notice (see sweep_product.lua). `paused`: '1' while the
-- merchant holds the sale shut, whatever its window says (absent on a
-- product never paused).
local PRODUCT_FIELDS = { 'per_customer_limit', 'hold_seconds', 'sale_starts_at', 'sale_ends_at',
  'counts_customers', 'noticed_until', 'paused', unpack(COUNTERS) }
-- The counters come after the settings.
local SETTINGS = #PRODUCT_FIELDS - #COUNTERS

-- The product's settings and counters, or nil when it does not exist (its
-- first counter, `total`, is written at creation). The counters' text as
-- read is kept: commit_product writes back only what changed.
local function load_product()
  local f = redis.call('HMGET', PRODUCT, unpack(PRODUCT_FIELDS))
  if not f[SETTINGS + 1] then
    return nil
  end
  local product = {
    per_customer_limit = tonumber(f[1]), hold_seconds = tonumber(f[2]),
    sale_starts_at = tonumber(f[3]), sale_ends_at = tonumber(f[4]),
    counts_customers = f[5] == '1', noticed_until = tonumber(f[6] or '0'), paused = f[7] == '1',
    loaded = {},
  }
  for i, counter in ipairs(COUNTERS) do
    local text = f[SETTINGS + i] or '0'
    product[counter] = tonumber(text)
    product.loaded[counter] = text
  end
  return product
end

local function sale_closed(product)
  return product.paused or NOW < product.sale_starts_at
    or (product.sale_ends_at > 0 and NOW >= product.sale_ends_at)
end

local BASE32 = '0123456789abcdefghjkmnpqrstvwxyz'

-- A time in ms as ten base-32 digits (Crockford's alphabet, as in a ULID).
local function time_digits(ms)
  local digits = {}
  for i = 10, 1, -1 do
    local d = ms % 32
    digits[i] = string.sub(BASE32, d + 1, d + 1)
    ms = (ms - d) / 32
  end
  return table.concat(digits)
end

-- The token of a hold: a new-style key is 20 characters, a legacy one is
-- the whole 26-character token.
local function token_of(key, hold)
  if #key == 20 then
    return time_digits(hold.created_at_ms) .. key
  end
  return key
end

-- A hold record as a table; nil for anything else (an upgrade's pointer).
local function parse_hold(raw)
  local state, customer_id, quantity, request_id, created, expires, updated, rest =
    string.match(raw, '^(%u+) (%S+) (%d+) (%S+) (%d+) (%d+) (%d+) ?(.*)$')
  if not state then
    return nil
  end
  local deadline, purchased = string.match(rest, '^(%d*) ?(%d*)$')
  return {
    state = state, customer_id = customer_id, quantity = tonumber(quantity),
    request_id = request_id, created_at_ms = tonumber(created), expires_at_ms = tonumber(expires),
    updated_at_ms = tonumber(updated), purchase_deadline_ms = tonumber(deadline) or 0,
    purchased_at_ms = tonumber(purchased) or 0,
  }
end

local function format_hold(hold)
  local raw = string.format('%s %s %d %s %.0f %.0f %.0f', hold.state, hold.customer_id,
    hold.quantity, hold.request_id, hold.created_at_ms, hold.expires_at_ms, hold.updated_at_ms)
  if hold.purchased_at_ms > 0 then
    return string.format('%s %.0f %.0f', raw, hold.purchase_deadline_ms, hold.purchased_at_ms)
  elseif hold.purchase_deadline_ms > 0 then
    return string.format('%s %.0f', raw, hold.purchase_deadline_ms)
  end
  return raw
end

-- A record as found under `key`, following the pointer a layout upgrade
-- leaves for a request whose hold kept its legacy key ('@' and that key).
local function deref(raw)
  if raw and string.sub(raw, 1, 1) == '@' then
    local key = string.sub(raw, 2)
    return redis.call('HGET', HOLDS, key) or redis.call('HGET', ENDED, key)
      or redis.call('HGET', ENDED_BEFORE, key), key
  end
  return raw
end

-- The hold stored under `key`, live or ended; nil when there is none (it
-- never existed, or it ended longer ago than the retention). `created_ms`,
-- when given, must match: a key can be reused by a request id sent again
-- after its first hold aged out.
local function find_hold(key, created_ms)
  local raw = redis.call('HGET', HOLDS, key) or redis.call('HGET', ENDED, key)
    or redis.call('HGET', ENDED_BEFORE, key)
  local hold = raw and parse_hold(raw)
  if not hold or (created_ms and hold.created_at_ms ~= created_ms) then
    return nil
  end
  return hold
end

local function store_live_hold(key, hold)
  hold.updated_at_ms = NOW
  local raw = format_hold(hold)
  redis.call('HSET', HOLDS, key, raw)
  return raw
end

-- The hold event of a hold's new state, for its owner's channel.
local function hold_event(key, hold)
  return string.format(
    '{"reservation_id":"%s~%s","sku":"%s","state":"%s","quantity":%d,"expires_at_ms":%.0f,"at_ms":%s}',
    SKU, token_of(key, hold), SKU, hold.state, hold.quantity, hold.expires_at_ms, NOW_TEXT)
end

-- Tells holds' owners about their new states: `events` is a list whose
-- first element of each is the customer, and `message` makes the event's
-- text from one (only for the events that are sent). Hold events go to each
-- customer's channel with plain PUBLISH, which a customer's sockets on any
-- node hear, whatever the product's slot. On a single node Redis knows every
-- listener, so only customers someone listens for are sent theirs (one
-- PUBSUB call for all); on Cluster a listener may be subscribed on any
-- node, so every event goes.
local function publish_hold_events(events, message)
  if #events == 0 then
    return
  end
  local listened = {}
  if PUBLISH_CMD == 'PUBLISH' then
    local channels = {}
    for i, event in ipairs(events) do
      channels[i] = CUSTOMER_CHANNEL_PREFIX .. event[1]
    end
    local counts = redis.call('PUBSUB', 'NUMSUB', unpack(channels))
    for i = 1, #counts, 2 do
      listened[counts[i]] = counts[i + 1] > 0
    end
  end
  for _, event in ipairs(events) do
    local channel = CUSTOMER_CHANNEL_PREFIX .. event[1]
    if listened[channel] ~= false then
      redis.call('PUBLISH', channel, message(event))
    end
  end
end

-- For events of {customer, key, hold}.
local function hold_event_of(event)
  return hold_event(event[2], event[3])
end

local function publish_hold_event(key, hold)
  publish_hold_events({ { hold.customer_id, key, hold } }, hold_event_of)
end

local function is_due(hold)
  return hold.state == 'HELD' and hold.expires_at_ms <= NOW
end

-- A customer's units only count while their holds are active or purchased:
-- gives back `units` (customer -> units), all in three calls at most, and
-- forgets customers left with none.
local function give_back_units(units)
  local customers = {}
  for customer in pairs(units) do
    customers[#customers + 1] = customer
  end
  if #customers == 0 then
    return
  end
  local had = redis.call('HMGET', CUSTOMERS, unpack(customers))
  local left, gone = {}, {}
  for i, customer in ipairs(customers) do
    local units_left = tonumber(had[i] or '0') - units[customer]
    if units_left > 0 then
      left[#left + 1] = customer
      left[#left + 1] = units_left
    else
      gone[#gone + 1] = customer
    end
  end
  if #left > 0 then
    redis.call('HSET', CUSTOMERS, unpack(left))
  end
  if #gone > 0 then
    redis.call('HDEL', CUSTOMERS, unpack(gone))
  end
end

-- Adds `token` to `tokens`, a map of customer -> list of tokens.
local function add_token(tokens, customer_id, token)
  local list = tokens[customer_id]
  if not list then
    list = {}
    tokens[customer_id] = list
  end
  list[#list + 1] = token
end

local function customers_of(tokens)
  local customers = {}
  for customer in pairs(tokens) do
    customers[#customers + 1] = customer
  end
  return customers
end

-- Adds new live holds to the holders index: `added` maps each customer to
-- the tokens of their new holds. Two calls, however many customers.
local function index_holders(added)
  local customers = customers_of(added)
  if #customers == 0 then
    return
  end
  local had = redis.call('HMGET', HOLDERS, unpack(customers))
  local fields = {}
  for i, customer in ipairs(customers) do
    local tokens = table.concat(added[customer], ' ')
    fields[#fields + 1] = customer
    fields[#fields + 1] = had[i] and (had[i] .. ' ' .. tokens) or tokens
  end
  redis.call('HSET', HOLDERS, unpack(fields))
end

-- Takes ended holds out of the holders index: `removed` maps each customer
-- to the tokens of their holds that ended. Three calls at most.
local function unindex_holders(removed)
  local customers = customers_of(removed)
  if #customers == 0 then
    return
  end
  local had = redis.call('HMGET', HOLDERS, unpack(customers))
  local left, gone = {}, {}
  for i, customer in ipairs(customers) do
    -- Spaces around every token, so each is found whole.
    local value = ' ' .. (had[i] or '') .. ' '
    for _, token in ipairs(removed[customer]) do
      local at = string.find(value, ' ' .. token .. ' ', 1, true)
      if at then
        value = string.sub(value, 1, at) .. string.sub(value, at + #token + 2)
      end
    end
    value = string.match(value, '^ *(.-) *$')
    if value == '' then
      gone[#gone + 1] = customer
    else
      left[#left + 1] = customer
      left[#left + 1] = value
    end
  end
  if #left > 0 then
    redis.call('HSET', HOLDERS, unpack(left))
  end
  if #gone > 0 then
    redis.call('HDEL', HOLDERS, unpack(gone))
  end
end

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
