-- Reads a page of one customer's live holds of one product, newest first,
-- from the product's holders index (see lib.lua). Reads only; one script, so
-- the index and the records agree.
--
-- KEYS[1] holders, KEYS[2] holds (as in lib.lua)
-- ARGV[1] customer id
-- ARGV[2] where the page starts: '-' for the newest hold, or a token, and
--         then ARGV[3] says whether that token's own hold is on the page
--         ('1') or only older ones ('0')
-- ARGV[4] most holds on the page
--
-- Returns {token 1, record 1, token 2, record 2, ...}.

local start, inclusive, limit = ARGV[2], ARGV[3] == '1', tonumber(ARGV[4])
local listed = redis.call('HGET', KEYS[1], ARGV[1])
if not listed then
  return {}
end
-- Tokens start with their creation time: newest first is the greatest first.
local tokens = {}
for token in string.gmatch(listed, '%S+') do
  if start == '-' or token < start or (inclusive and token == start) then
    tokens[#tokens + 1] = token
  end
end
table.sort(tokens, function(a, b) return a > b end)

local reply = {}
for i = 1, math.min(limit, #tokens) do
  local token = tokens[i]
  local key = token
  if #token == 30 then
    key = string.sub(token, 11)
  end
  local record = redis.call('HGET', KEYS[2], key)
  if record then
    reply[#reply + 1] = token
    reply[#reply + 1] = record
  end
end
return reply
