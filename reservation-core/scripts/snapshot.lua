-- Reads a product's settings and counters in one consistent view.
--
-- KEYS[1] product
--
-- Returns the product hash as field, value pairs (empty when it does not exist).

return redis.call('HGETALL', KEYS[1])
