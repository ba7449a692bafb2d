-- The layout shared by the cart scripts (reserve_cart.lua, undo_cart.lua),
-- loaded after lib.lua. A call carries lines of one cart, each a different
-- product: on a single node every line, on Redis Cluster the lines whose
-- products share one slot.
--
-- KEYS[9(i-1) + 1 .. 9i]  line i's product keys, as lib.lua's KEYS[1..9]
-- ARGV[1..6]   as in lib.lua, for line 1; now, the publish command, the
--              customer channel prefix and the ended TTL hold for every line
-- ARGV[7]      customer id
-- ARGV[8]      cart request id
-- ARGV[9]      most due holds to reclaim per line
-- ARGV[10 + 4(i-1) .. 13 + 4(i-1)]  line i: sku, stock channel, the key of
--              its hold (a cart line's, of the cart's request id), quantity (>= 1)
--
-- A line's hold record has the request id `cart:ID`.

local CART_CUSTOMER, CART_REQUEST = ARGV[7], ARGV[8]
local CART_REQUEST_ID = 'cart:' .. CART_REQUEST
local RECLAIM_LIMIT = tonumber(ARGV[9])
local LINES = #KEYS / 9

-- Points lib.lua's product keys and helpers at line i's product, and returns
-- the line's hold key and quantity.
local function use_line(i)
  local k, a = 9 * (i - 1), 10 + 4 * (i - 1)
  PRODUCT, HOLDS, DUE, CUSTOMERS, PURCHASE_DUE, ENDED, ENDED_BEFORE, HOLDERS =
    KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], KEYS[k + 4], KEYS[k + 5], KEYS[k + 6], KEYS[k + 7],
    KEYS[k + 9]
  if i > 1 then
    redis.call('UNLINK', KEYS[k + 8])
  end
  SKU, STOCK_CHANNEL = ARGV[a], ARGV[a + 1]
  -- What reserving.lua learnt of the last line's due holds is not this one's.
  nothing_due = false
  return ARGV[a + 2], tonumber(ARGV[a + 3])
end
