-- Adds units to a product, or removes them with a negative delta. Total and
-- available move together; the total never drops below held + sold.
-- Due holds are reclaimed first, so their units count as available.
--
-- A restock sent with a request id is done once: its record goes into the
-- current ended hash, under a key of its own kind (src/keys/,
-- `RequestKind::Restock`), so it is kept for the retention like an ended
-- hold and then dropped with its period's hash. A retry within it finds the
-- record and adds nothing. As with reserves, only a restock that was done
-- is recorded: a refused one changed nothing.
--
-- KEYS[1..9] as in lib.lua
-- ARGV[1..6] as in lib.lua
-- ARGV[7] delta (non-zero integer)
-- ARGV[8] most due holds to reclaim in this call
-- ARGV[9] the key of the request's record, or '' for a restock without one
-- ARGV[10] the request id, when ARGV[9] is set
--
-- Returns {'OK', version}, {'REPLAY'} (done before: nothing changed),
-- {'IDEMPOTENCY_MISMATCH'} (done before with another delta),
-- {'KEY_COLLISION'} (the key holds another request's record),
-- {'OUT_OF_STOCK', available} or {'NOT_FOUND'}.

local delta = tonumber(ARGV[7])
local key, request_id = ARGV[9], ARGV[10]
local product = load_product()
if not product then
  return { 'NOT_FOUND' }
end

if key ~= '' then
  local prior = redis.call('HGET', ENDED, key) or redis.call('HGET', ENDED_BEFORE, key)
  if prior then
    local first_delta, first_id = string.match(prior, '^RESTOCK (%S+) (%S+) ')
    if first_id ~= request_id then
      return { 'KEY_COLLISION' }
    end
    if tonumber(first_delta) ~= delta then
      return { 'IDEMPOTENCY_MISMATCH' }
    end
    return { 'REPLAY' }
  end
end

local plan = find_due_holds(tonumber(ARGV[8]))
if product.available + plan.units + delta < 0 then
  return { 'OUT_OF_STOCK', product.available + plan.units }
end

expire_planned(product, plan)
product.total = product.total + delta
product.available = product.available + delta
if key ~= '' then
  redis.call('HSET', ENDED, key, 'RESTOCK ' .. ARGV[7] .. ' ' .. request_id .. ' ' .. NOW_TEXT)
  redis.call('PEXPIRE', ENDED, ENDED_TTL_MS)
end
return { 'OK', commit_product(product) }
