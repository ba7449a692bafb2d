-- Creates a product with all of its stock available.
--
-- KEYS[1..9] as in lib.lua (only KEYS[1] is written, and KEYS[8] unlinked)
-- ARGV[1..6] as in lib.lua
-- ARGV[7]  name
-- ARGV[8]  price in cents
-- ARGV[9]  total units
-- ARGV[10] per-customer limit (0 = none)
-- ARGV[11] hold seconds
-- ARGV[12] sale starts at, ms (0 = open from the start)
-- ARGV[13] sale ends at, ms (0 = never closes)
-- ARGV[14] salt of the product's hold keys (random, never shown)
--
-- Returns {'OK', version} or {'PRODUCT_EXISTS'}.

if redis.call('EXISTS', PRODUCT) == 1 then
  return { 'PRODUCT_EXISTS' }
end

local total = tonumber(ARGV[9])
redis.call('HSET', PRODUCT, 'sku', SKU, 'name', ARGV[7], 'price_cents', ARGV[8],
  'per_customer_limit', ARGV[10], 'hold_seconds', ARGV[11],
  'sale_starts_at', ARGV[12], 'sale_ends_at', ARGV[13], 'salt', ARGV[14], 'created_at', NOW_TEXT,
  'counts_customers', tonumber(ARGV[10]) > 0 and 1 or 0)
local version = commit_product({ total = total, available = total, held = 0, sold = 0, version = 0,
  reserved = 0, holds_made = 0, cancelled = 0, expired = 0, released = 0 })
return { 'OK', version }
