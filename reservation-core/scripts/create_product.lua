-- Creates a product with all of its stock available.
--
-- KEYS[1..5] as in lib.lua (only KEYS[1] is written)
-- ARGV[1..5] as in lib.lua
-- ARGV[6]  name
-- ARGV[7]  price in cents
-- ARGV[8]  total units
-- ARGV[9]  per-customer limit (0 = none)
-- ARGV[10] hold seconds
-- ARGV[11] sale starts at, ms (0 = open from the start)
-- ARGV[12] sale ends at, ms (0 = never closes)
--
-- Returns {'OK', version} or {'PRODUCT_EXISTS'}.

if redis.call('EXISTS', PRODUCT) == 1 then
  return { 'PRODUCT_EXISTS' }
end

local total = tonumber(ARGV[8])
redis.call('HSET', PRODUCT, 'sku', SKU, 'name', ARGV[6], 'price_cents', ARGV[7],
  'per_customer_limit', ARGV[9], 'hold_seconds', ARGV[10],
  'sale_starts_at', ARGV[11], 'sale_ends_at', ARGV[12], 'version', 0, 'created_at', NOW)
local version = commit_product({ total = total, available = total, held = 0, sold = 0 })
return { 'OK', version }
