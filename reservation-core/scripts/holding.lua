-- The layout shared by the scripts that move one hold (confirm.lua,
-- cancel.lua, finalize_purchase.lua, release.lua), loaded after lib.lua.
--
-- ARGV[7] the hold's key
-- ARGV[8] the creation time its token carries, ms ('' for a legacy token,
--         which carries none the key does not already pin down)
--
-- Each of them returns {'OK', hold record, changed (0 or 1)},
-- {'NOT_FOUND'} or {'WRONG_STATE', hold record}.

local HOLD_KEY = ARGV[7]
local HOLD = find_hold(HOLD_KEY, tonumber(ARGV[8]))
