-- Changes a product's settings (never its stock: that is restock.lua). A
-- product counts each customer's units from its first per-customer limit on,
-- and for good; a first limit is refused once the product granted units
-- without one, which nobody counted per customer.
--
-- A call writes only the fields it is given, and checks the sale window as
-- it will be here, not as the caller last read it: a pause and a new
-- opening time sent at the same moment both hold, and two bounds changed at
-- the same moment cannot cross.
--
-- KEYS[1..9] as in lib.lua (only KEYS[1] is written, and KEYS[8] unlinked)
-- ARGV[1..6] as in lib.lua
-- ARGV[7..] field, value pairs; fields are among name, price_cents,
--           per_customer_limit, hold_seconds, sale_starts_at, sale_ends_at
--           (ms, 0 for none) and paused (1 or 0)
--
-- Returns {'OK', version}, {'NOT_FOUND'}, {'LIMIT_TOO_LATE', units granted}
-- or {'WINDOW_INVERTED'} (the sale would close before it opens).

local product = load_product()
if not product then
  return { 'NOT_FOUND' }
end

local starts, ends = product.sale_starts_at, product.sale_ends_at
for i = 7, #ARGV, 2 do
  if ARGV[i] == 'sale_starts_at' then
    starts = tonumber(ARGV[i + 1])
  elseif ARGV[i] == 'sale_ends_at' then
    ends = tonumber(ARGV[i + 1])
  end
end
if starts > 0 and ends > 0 and ends <= starts then
  return { 'WINDOW_INVERTED' }
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
  if ARGV[i] == 'paused' then
    product.paused = ARGV[i + 1] == '1'
  end
end
return { 'OK', commit_product(product) }
