-- Drops products from a shopper's index (src/engine/shoppers.rs) that hold
-- none of the shopper's live holds, unless a reserve noted the product again
-- since they were read: a reserve notes its product right after it made (or
-- replayed) a hold, so a note that changed may stand for a hold the read
-- did not see.
--
-- KEYS[1] the shopper's products (zset: sku -> when a reserve last noted it)
-- ARGV[2i - 1], ARGV[2i]  product i: its sku, and its note as read (ms)
--
-- Returns the number of products dropped.

local dropped = 0
for i = 1, #ARGV, 2 do
  local noted = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if noted and tonumber(noted) == tonumber(ARGV[i + 1]) then
    dropped = dropped + redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
return dropped
