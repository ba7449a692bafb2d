-- Removes one push interest from the product's side, with its sent marks,
-- so no round or claim finds it from now on (the caller removes the
-- shopper's side after).
--
-- KEYS[1] the product's push interests (fs:push:product:{SKU})
-- KEYS[2] the product's sent marks (fs:push:sent:{SKU})
-- ARGV[1] the interest's field, CUSTOMER/SUBSCRIPTION_ID
--
-- Returns {'OK', removed, remaining}: removed is 1 when the interest was
-- there, remaining the product's interests left.

local removed = redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1] .. '/opens', ARGV[1] .. '/back')
return { 'OK', removed, redis.call('HLEN', KEYS[1]) }
