-- The sweeper's step on one product: moves up to a batch of HELD holds past
-- their deadline to EXPIRED and their units back to available, and gives
-- confirmed holds whose purchase deadline passed (their purchase job was
-- lost, or its worker is long gone) a new deadline, so the caller enqueues
-- each one again exactly once per deadline. Holds already ended by another
-- sweeper (or by a reserve that reclaimed them) are skipped, so several
-- sweepers at once never return a unit twice. Due entries whose holds all
-- moved on are dropped as they come due. The cost follows the due holds, not
-- the product's history.
--
-- It also sends expiry notices: a `hold` event (state HELD, `expiring`
-- true) to the owner of each HELD hold `lead` ms before its deadline, once,
-- for products whose holds live longer than the lead. The product's
-- `noticed_until` is the deadline up to which every due entry has had its
-- notices; the sweep index lists the product at the next notice's time when
-- that comes before its next deadline.
--
-- KEYS[1..9] as in lib.lua
-- ARGV[1..6] as in lib.lua
-- ARGV[7] most holds to expire in this call
-- ARGV[8] purchase timeout, ms (a requeued hold's new deadline is now + this)
-- ARGV[9] most stranded purchases to requeue in this call
-- ARGV[10] expiry notice lead, ms (0: no notices)
--
-- Returns {'NOT_FOUND'}, or {'OK', name, value, ...} with the fields
--   expired_units  units the expired holds gave back
--   next_look      when to look at the product next: its next deadline or
--                  notice, ms; -1 when it has no live holds
--   expired        the expired holds' tokens, oldest first
--   requeued       the tokens of the confirmed holds given a new deadline
--   noticed        the tokens of the holds sent an expiry notice (at most
--                  the holds of 16 due entries, or of one deadline)
--   noticed_customers, noticed_quantities, noticed_deadlines
--                  each noticed hold's owner, units and deadline (ms), in
--                  the order of `noticed`

local product = load_product()
if not product then
  return { 'NOT_FOUND' }
end

local plan = find_due_holds(tonumber(ARGV[7]))
expire_planned(product, plan)
if #plan.due > 0 then
  commit_product(product)
end

-- Due entries whose notices one step sends at most.
local NOTICE_ENTRIES = 16
local LEAD = tonumber(ARGV[10])

-- The hold event of an expiry notice.
local function notice_of(event)
  local hold = event[3]
  return string.format(
    '{"reservation_id":"%s~%s","sku":"%s","state":"HELD","quantity":%s,"expires_at_ms":%s,"at_ms":%s,"expiring":true}',
    SKU, hold.token, SKU, hold.quantity, hold.expires, NOW_TEXT)
end

-- Sends the notices of the due entries past `noticed_until` whose time has
-- come, whole deadlines at a time (entries sharing the deadline where the
-- step stops wait for the next step), and moves `noticed_until` on.
-- Returns the events sent.
local function send_notices()
  local page = redis.call('ZRANGE', DUE, string.format('(%.0f', product.noticed_until),
    string.format('%.0f', NOW + LEAD), 'BYSCORE', 'LIMIT', 0, NOTICE_ENTRIES + 1, 'WITHSCORES')
  local entries = {}
  for i = 1, #page, 2 do
    entries[#entries + 1] = { page[i], tonumber(page[i + 1]) }
  end
  if #entries == 0 then
    return {}
  end
  if #entries > NOTICE_ENTRIES then
    local cut = entries[NOTICE_ENTRIES + 1][2]
    local kept = NOTICE_ENTRIES
    while kept > 0 and entries[kept][2] == cut do
      kept = kept - 1
    end
    if kept == 0 then
      -- One deadline fills the page: all of its entries go now.
      entries = {}
      local same = redis.call('ZRANGE', DUE, cut, cut, 'BYSCORE')
      for _, entry in ipairs(same) do
        entries[#entries + 1] = { entry, cut }
      end
    else
      for i = #entries, kept + 1, -1 do
        entries[i] = nil
      end
    end
  end
  local keys = {}
  for _, entry in ipairs(entries) do
    for key in string.gmatch(entry[1], '[^,]+') do
      keys[#keys + 1] = key
    end
  end
  local records = hmget(HOLDS, keys)
  local events = {}
  for i, key in ipairs(keys) do
    local customer_id, quantity, created, expires =
      string.match(records[i] or '', '^HELD (%S+) (%d+) %S+ (%d+) (%d+) %d+$')
    if customer_id and tonumber(expires) > NOW and tonumber(expires) - tonumber(created) > LEAD then
      local hold = { quantity = quantity, expires = expires }
      hold.token = due_token({ key = key, created = created })
      events[#events + 1] = { customer_id, key, hold }
    end
  end
  publish_hold_events(events, notice_of)
  product.noticed_until = entries[#entries][2]
  redis.call('HSET', PRODUCT, 'noticed_until', string.format('%.0f', product.noticed_until))
  return events
end

local noticed, noticed_customers, noticed_quantities, noticed_deadlines = {}, {}, {}, {}
if gets_notices(product, LEAD) then
  for i, event in ipairs(send_notices()) do
    noticed[i] = event[3].token
    noticed_customers[i] = event[1]
    noticed_quantities[i] = event[3].quantity
    noticed_deadlines[i] = event[3].expires
  end
end

local timeout = tonumber(ARGV[8])
local requeued = {}
for _, key in ipairs(redis.call('ZRANGE', PURCHASE_DUE, '-inf', NOW_TEXT, 'BYSCORE', 'LIMIT', 0, tonumber(ARGV[9]))) do
  local raw = redis.call('HGET', HOLDS, key)
  local hold = raw and parse_hold(raw)
  if hold and hold.state == 'CONFIRMED' then
    hold.purchase_deadline_ms = NOW + timeout
    store_live_hold(key, hold)
    redis.call('ZADD', PURCHASE_DUE, hold.purchase_deadline_ms, key)
    requeued[#requeued + 1] = token_of(key, hold)
  else
    redis.call('ZREM', PURCHASE_DUE, key)
  end
end

local next_look = earliest_deadline()
local notice = next_notice(product, LEAD)
if notice and (not next_look or notice < next_look) then
  next_look = notice
end
local expired = {}
for i, due in ipairs(plan.due) do
  expired[i] = token_of(due.key, { created_at_ms = tonumber(due.created) })
end
return { 'OK', 'expired_units', plan.units, 'next_look', next_look or -1,
  'expired', expired, 'requeued', requeued, 'noticed', noticed,
  'noticed_customers', noticed_customers, 'noticed_quantities', noticed_quantities,
  'noticed_deadlines', noticed_deadlines }
