-- Records one push interest on the shopper's side, within their bound:
-- the first half of a subscribe (push_subscribe_product.lua writes the
-- product's side after it). Subscribing again to the same product with the
-- same endpoint replaces the interest, so it does not count twice.
--
-- KEYS[1] the shopper's push hash (fs:push:shopper:{CUSTOMER}):
--         SKU/SUBSCRIPTION_ID -> interest JSON
-- ARGV[1] the interest's field, SKU/SUBSCRIPTION_ID
-- ARGV[2] the interest JSON
-- ARGV[3] the most interests a shopper may hold
--
-- Returns {'OK', replaced} (1 when the field was there already), or
-- {'FULL', held} when the shopper holds the most already.

local replaced = redis.call('HGET', KEYS[1], ARGV[1]) and 1 or 0
if replaced == 0 then
  local held = redis.call('HLEN', KEYS[1])
  if held >= tonumber(ARGV[3]) then
    return { 'FULL', held }
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return { 'OK', replaced }
