-- Adds units to a product, or removes them with a negative delta. Total and
-- available move together; the total never drops below held + sold.
-- Due holds are reclaimed first, so their units count as available.
--
-- KEYS[1..5] as in lib.lua
-- ARGV[1..5] as in lib.lua
-- ARGV[6] delta (non-zero integer)
-- ARGV[7] most due holds to reclaim in this call
--
-- Returns {'OK', version}, {'OUT_OF_STOCK', available} or {'NOT_FOUND'}.

local delta = tonumber(ARGV[6])
local product = load_product()
if not product then
  return { 'NOT_FOUND' }
end

local due, due_units, stale = find_due_holds(tonumber(ARGV[7]))
if product.available + due_units + delta < 0 then
  return { 'OUT_OF_STOCK', product.available + due_units }
end

expire_holds(product, due, stale)
product.total = product.total + delta
product.available = product.available + delta
return { 'OK', commit_product(product) }
