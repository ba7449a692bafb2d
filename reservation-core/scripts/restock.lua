-- Adds units to a product, or removes them with a negative delta. Total and
-- available move together; the total never drops below held + sold.
-- Due holds are reclaimed first, so their units count as available.
--
-- KEYS[1..9] as in lib.lua
-- ARGV[1..6] as in lib.lua
-- ARGV[7] delta (non-zero integer)
-- ARGV[8] most due holds to reclaim in this call
--
-- Returns {'OK', version}, {'OUT_OF_STOCK', available} or {'NOT_FOUND'}.

local delta = tonumber(ARGV[7])
local product = load_product()
if not product then
  return { 'NOT_FOUND' }
end

local plan = find_due_holds(tonumber(ARGV[8]))
if product.available + plan.units + delta < 0 then
  return { 'OUT_OF_STOCK', product.available + plan.units }
end

expire_planned(product, plan)
product.total = product.total + delta
product.available = product.available + delta
return { 'OK', commit_product(product) }
