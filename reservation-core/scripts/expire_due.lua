-- The sweeper's step: moves up to a batch of HELD holds past their deadline to
-- EXPIRED and their units back to available. Holds already ended by another
-- sweeper (or by a reserve that reclaimed them) are skipped, so several
-- sweepers at once never return a unit twice.
--
-- KEYS[1..5] as in lib.lua
-- ARGV[1..5] as in lib.lua
-- ARGV[6] most holds to expire in this call
--
-- Returns {'OK', units returned, next deadline ms (-1 when none),
--          confirmed holds waiting for their purchase, expired tokens...}
-- or {'NOT_FOUND'}.

local product = load_product()
if not product then
  return { 'NOT_FOUND' }
end

local due, due_units, stale = find_due_holds(tonumber(ARGV[6]))
expire_holds(product, due, stale)
if #due > 0 then
  commit_product(product)
end

local next_due = redis.call('ZRANGE', DUE, 0, 0, 'WITHSCORES')
local reply = { 'OK', due_units, tonumber(next_due[2] or '-1'), redis.call('ZCARD', PURCHASE_DUE) }
for _, entry in ipairs(due) do
  reply[#reply + 1] = entry.token
end
return reply
