-- Changes a product's settings (never its stock: that is restock.lua).
--
-- KEYS[1..7] as in lib.lua (only KEYS[1] is written)
-- ARGV[1..6] as in lib.lua
-- ARGV[7..] field, value pairs; fields are among name, price_cents,
--           per_customer_limit, hold_seconds, sale_starts_at, sale_ends_at
--
-- Returns {'OK', version} or {'NOT_FOUND'}.

local product = load_product()
if not product then
  return { 'NOT_FOUND' }
end

for i = 7, #ARGV, 2 do
  redis.call('HSET', PRODUCT, ARGV[i], ARGV[i + 1])
end
return { 'OK', commit_product(product) }
