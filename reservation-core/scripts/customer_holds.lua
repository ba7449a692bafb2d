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

local customer, start, inclusive, limit = ARGV[1], ARGV[2], ARGV[3] == '1', tonumber(ARGV[4])
-- 'customer_id ' is the prefix of every entry of the customer's, and '!' is
-- the next character after the space: '(customer_id!' is past them all.
local prefix = customer .. ' '
local newest = '(' .. customer .. '!'
if start ~= '-' then
  newest = (inclusive and '[' or '(') .. prefix .. start
end
local entries = redis.call('ZRANGE', KEYS[1], newest, '(' .. prefix, 'BYLEX', 'REV', 'LIMIT', 0,
  limit)
local reply = {}
for _, entry in ipairs(entries) do
  local token = string.sub(entry, #prefix + 1)
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
