-- The first part of the shared prelude, prepended to every state-changing
-- script when it is loaded with customer_fields.lua and ending.lua after it
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
--                       current retention period (src/keys/, `Retention`),
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
-- A hold's key is made from its request (src/keys/, `request_hold_key`:
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
