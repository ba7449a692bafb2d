-- The layout shared by the cart scripts (reserve_cart.lua, undo_cart.lua),
-- loaded after lib.lua. A call carries lines of one cart, each a different
-- product: on a single node every line, on Redis Cluster the lines whose
-- products share one slot.
--
-- KEYS[6(i-1) + 1 .. 6(i-1) + 5]  line i's product keys, as lib.lua's KEYS[1..5]
-- KEYS[6i]                        line i's cart request record (idempotency)
-- ARGV[1..5]   as in lib.lua, for line 1; now, the publish command and the
--              customer channel prefix hold for every line
-- ARGV[6]      customer id
-- ARGV[7]      cart request id
-- ARGV[8]      seconds to keep a request record
-- ARGV[9]      most due holds to reclaim per line
-- ARGV[10 + 4(i-1) .. 13 + 4(i-1)]  line i: sku, stock channel, token of its
--              new hold (used only if the line is new), quantity (>= 1)

local CART_CUSTOMER, CART_REQUEST = ARGV[6], ARGV[7]
local REQUEST_TTL, RECLAIM_LIMIT = tonumber(ARGV[8]), tonumber(ARGV[9])
local LINES = #KEYS / 6

-- Points lib.lua's product keys and helpers at line i's product, and returns
-- the line's request record key, new hold token and quantity.
local function use_line(i)
  local k, a = 6 * (i - 1), 10 + 4 * (i - 1)
  PRODUCT, HOLDS, DUE, CUSTOMERS, PURCHASE_DUE = KEYS[k + 1], KEYS[k + 2], KEYS[k + 3], KEYS[k + 4], KEYS[k + 5]
  SKU, STOCK_CHANNEL = ARGV[a], ARGV[a + 1]
  return KEYS[k + 6], ARGV[a + 2], tonumber(ARGV[a + 3])
end
