-- Records one push interest on the product's side, the one the push rounds
-- and the claims read: the second half of a subscribe, after the shopper's
-- side (push_subscribe_shopper.lua) took it within their bound.
--
-- KEYS[1] the product's hash (fs:product:{SKU}), to check it exists
-- KEYS[2] the product's push interests (fs:push:product:{SKU}):
--         CUSTOMER/SUBSCRIPTION_ID -> interest JSON
-- ARGV[1] the interest's field, CUSTOMER/SUBSCRIPTION_ID
-- ARGV[2] the interest JSON
--
-- Returns {'OK'}, or {'NOT_FOUND'} when there is no such product.

if not redis.call('HGET', KEYS[1], 'total') then
  return { 'NOT_FOUND' }
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return { 'OK' }
