-- Changes a product's settings (never its stock: that is restock.lua). A
-- product counts each customer's units from its first per-customer limit on,
-- and for good; a first limit is refused once the product granted units
-- without one, which nobody counted per customer.
--
-- KEYS[1..9] as in lib.lua (only KEYS[1] is written, and KEYS[8] unlinked)
-- ARGV[1..6] as in lib.lua
-- ARGV[7..] field, value pairs; fields are among name, price_cents,
--           per_customer_limit, hold_seconds, sale_starts_at, sale_ends_at
--
-- Returns {'OK', version}, {'NOT_FOUND'} or {'LIMIT_TOO_LATE', units granted}.

local product = load_product()
if not product then
  return { 'NOT_FOUND' }
end

for i = 7, #ARGV, 2 do
  if ARGV[i] == 'per_customer_limit' and tonumber(ARGV[i + 1]) > 0 and not product.counts_customers then
    if product.reserved > 0 then
      return { 'LIMIT_TOO_LATE', product.reserved }
    end
    redis.call('HSET', PRODUCT, 'counts_customers', 1)
  end
end
for i = 7, #ARGV, 2 do
  redis.call('HSET', PRODUCT, ARGV[i], ARGV[i + 1])
end
return { 'OK', commit_product(product) }
