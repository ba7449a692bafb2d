-- Per-customer fields of a product's hashes, kept by the scripts that make
-- and end holds: the units each customer has (KEYS[4], customers) and the
-- tokens of each customer's live holds (KEYS[9], holders). Loaded after the
-- first part of lib.lua (see src/scripts.rs), whose keys it uses.

-- Rewrites some fields of `hash` in three calls at most, however many:
-- `change(field, value)` gives each field's new value from its current one
-- (nil when it has none), or nil to delete the field.
local function rewrite_fields(hash, fields, change)
  if #fields == 0 then
    return
  end
  local had = redis.call('HMGET', hash, unpack(fields))
  local left, gone = {}, {}
  for i, field in ipairs(fields) do
    local value = change(field, had[i] or nil)
    if value then
      left[#left + 1] = field
      left[#left + 1] = value
    else
      gone[#gone + 1] = field
    end
  end
  if #left > 0 then
    redis.call('HSET', hash, unpack(left))
  end
  if #gone > 0 then
    redis.call('HDEL', hash, unpack(gone))
  end
end

local function customers_of(map)
  local customers = {}
  for customer in pairs(map) do
    customers[#customers + 1] = customer
  end
  return customers
end

-- A customer's units only count while their holds are active or purchased:
-- gives back `units` (customer -> units), and forgets customers left with
-- none.
local function give_back_units(units)
  rewrite_fields(CUSTOMERS, customers_of(units), function(customer, had)
    local units_left = tonumber(had or '0') - units[customer]
    return units_left > 0 and units_left or nil
  end)
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

-- Adds new live holds to the holders index: `added` maps each customer to
-- the tokens of their new holds.
local function index_holders(added)
  rewrite_fields(HOLDERS, customers_of(added), function(customer, had)
    local tokens = table.concat(added[customer], ' ')
    return had and (had .. ' ' .. tokens) or tokens
  end)
end

-- Takes ended holds out of the holders index: `removed` maps each customer
-- to the tokens of their holds that ended.
local function unindex_holders(removed)
  rewrite_fields(HOLDERS, customers_of(removed), function(customer, had)
    -- Spaces around every token, so each is found whole.
    local value = ' ' .. (had or '') .. ' '
    for _, token in ipairs(removed[customer]) do
      local at = string.find(value, ' ' .. token .. ' ', 1, true)
      if at then
        value = string.sub(value, 1, at) .. string.sub(value, at + #token + 2)
      end
    end
    value = string.match(value, '^ *(.-) *$')
    return value ~= '' and value or nil
  end)
end
