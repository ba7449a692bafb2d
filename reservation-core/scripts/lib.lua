-- Shared prelude, prepended to every script when it is loaded (see src/scripts.rs).
--
-- Every state-changing script of one product gets the same first five KEYS and
-- the same first four ARGV, so all of them share these helpers:
--
-- KEYS[1] product       hash: counters and settings of the product
-- KEYS[2] holds         hash: reservation token -> hold record (JSON)
-- KEYS[3] due           zset: token -> expires_at_ms, for holds in HELD
-- KEYS[4] customers     hash: customer id -> units in HELD, CONFIRMED, PURCHASED holds
-- KEYS[5] purchase_due  zset: token -> purchase deadline ms, for holds in CONFIRMED
--
-- ARGV[1] sku
-- ARGV[2] now, ms since the epoch (the caller's clock decides expiry)
-- ARGV[3] publish command: PUBLISH, or SPUBLISH on Redis Cluster
-- ARGV[4] stock channel of the product
-- ARGV[5] prefix of the customer channels that carry hold events
--
-- Scripts first check everything, then write: Lua has no rollback, so a
-- failed check must leave nothing behind.

local PRODUCT, HOLDS, DUE, CUSTOMERS, PURCHASE_DUE = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local SKU = ARGV[1]
local NOW = tonumber(ARGV[2])
local PUBLISH_CMD = ARGV[3]
local STOCK_CHANNEL = ARGV[4]
local CUSTOMER_CHANNEL_PREFIX = ARGV[5]

-- The product's counters and settings, or nil when it does not exist.
local function load_product()
  local f = redis.call('HMGET', PRODUCT, 'total', 'available', 'held', 'sold', 'version',
    'per_customer_limit', 'hold_seconds', 'sale_starts_at', 'sale_ends_at')
  if not f[1] then
    return nil
  end
  return {
    total = tonumber(f[1]), available = tonumber(f[2]), held = tonumber(f[3]),
    sold = tonumber(f[4]), version = tonumber(f[5]), per_customer_limit = tonumber(f[6]),
    hold_seconds = tonumber(f[7]), sale_starts_at = tonumber(f[8]), sale_ends_at = tonumber(f[9]),
  }
end

local function load_hold(token)
  local raw = redis.call('HGET', HOLDS, token)
  if not raw then
    return nil
  end
  return cjson.decode(raw)
end

local function store_hold(token, hold)
  hold.updated_at_ms = NOW
  local raw = cjson.encode(hold)
  redis.call('HSET', HOLDS, token, raw)
  return raw
end

-- Same format as ReservationId's Display in src/types.rs.
local function reservation_id(token)
  return SKU .. '~' .. token
end

-- Tells the hold's owner about its new state. Hold events go to the customer's
-- channel with plain PUBLISH: they are few, and a customer's sockets may sit on
-- any node whatever the product's slot.
local function publish_hold_event(token, hold)
  redis.call('PUBLISH', CUSTOMER_CHANNEL_PREFIX .. hold.customer_id, string.format(
    '{"reservation_id":"%s","sku":"%s","state":"%s","quantity":%d,"expires_at_ms":%d,"at_ms":%d}',
    reservation_id(token), SKU, hold.state, hold.quantity, hold.expires_at_ms, NOW))
end

local function is_due(hold)
  return hold.state == 'HELD' and hold.expires_at_ms <= NOW
end

local function customer_units(customer_id)
  return tonumber(redis.call('HGET', CUSTOMERS, customer_id) or '0')
end

-- A customer's units only count while their holds are active or purchased.
local function give_back_customer_units(customer_id, quantity)
  if redis.call('HINCRBY', CUSTOMERS, customer_id, -quantity) <= 0 then
    redis.call('HDEL', CUSTOMERS, customer_id)
  end
end

-- Reads the HELD holds past their deadline, oldest first, at most `limit`.
-- Returns the list of {token, hold} and the units they hold. Nothing is written.
local function find_due_holds(limit)
  local due = {}
  local units = 0
  local stale = {}
  local tokens = redis.call('ZRANGEBYSCORE', DUE, '-inf', NOW, 'LIMIT', 0, limit)
  for _, token in ipairs(tokens) do
    local hold = load_hold(token)
    if hold and is_due(hold) then
      due[#due + 1] = { token = token, hold = hold }
      units = units + hold.quantity
    else
      stale[#stale + 1] = token
    end
  end
  return due, units, stale
end

-- Moves the given due holds to EXPIRED and their units back to available.
local function expire_holds(product, due, stale)
  for _, entry in ipairs(due) do
    local hold = entry.hold
    hold.state = 'EXPIRED'
    store_hold(entry.token, hold)
    publish_hold_event(entry.token, hold)
    redis.call('ZREM', DUE, entry.token)
    product.available = product.available + hold.quantity
    product.held = product.held - hold.quantity
    give_back_customer_units(hold.customer_id, hold.quantity)
  end
  for _, token in ipairs(stale) do
    redis.call('ZREM', DUE, token)
  end
end

-- Gives a HELD hold's units back before it is bought: CANCELLED, or EXPIRED
-- when it is already past its deadline.
local function cancel_hold(product, token, hold)
  if is_due(hold) then
    expire_holds(product, { { token = token, hold = hold } }, {})
    return
  end
  hold.state = 'CANCELLED'
  store_hold(token, hold)
  redis.call('ZREM', DUE, token)
  product.available = product.available + hold.quantity
  product.held = product.held - hold.quantity
  give_back_customer_units(hold.customer_id, hold.quantity)
  publish_hold_event(token, hold)
end

local function stock_event_json(product)
  return string.format('{"sku":"%s","available":%d,"held":%d,"sold":%d,"total":%d,"version":%d,"at_ms":%d}',
    SKU, product.available, product.held, product.sold, product.total, product.version, NOW)
end

-- Writes the counters, bumps the version by one and publishes one stock event.
-- Every script call that changes the product calls this exactly once.
local function commit_product(product)
  product.version = redis.call('HINCRBY', PRODUCT, 'version', 1)
  redis.call('HSET', PRODUCT, 'total', product.total, 'available', product.available,
    'held', product.held, 'sold', product.sold, 'updated_at', NOW)
  redis.call(PUBLISH_CMD, STOCK_CHANNEL, stock_event_json(product))
  return product.version
end
