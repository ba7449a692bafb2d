-- Reads the next batch of a product's push round in progress, without
-- moving the round on (push_advance_round.lua does, once the batch's jobs
-- are enqueued): a planner that dies in between leaves the batch to be read
-- again. The batch is one HSCAN step of the product's interests, so a call
-- costs about `count` interests, however many the product has; every
-- interest there for the whole round is read at least once. A notice or
-- cursor that is not what the engine writes (written behind its back)
-- counts as no round: the next round started replaces both. An interest
-- that is not UTF-8 is returned empty (its field as '?'), for the caller to
-- skip alone rather than refuse the batch.
--
-- KEYS[1] the product's push rounds (fs:push:round:{SKU})
-- KEYS[2] the product's push interests (fs:push:product:{SKU})
-- ARGV[1] the round's kind: opens or back
-- ARGV[2] about how many interests to read
--
-- Returns {'NONE'} when no round of the kind is in progress, or {'BATCH',
-- name, value, ...} with the fields
--   notice     the round's notice, ms
--   from       the cursor the batch starts at
--   to         the cursor after it: 'done' when the round is over
--   interests  the batch's interests (of every topic): field, JSON, ...

local notice = redis.call('HGET', KEYS[1], ARGV[1] .. '_notice')
local cursor = redis.call('HGET', KEYS[1], ARGV[1] .. '_cursor')
if not notice or not cursor or cursor == 'done' then
  return { 'NONE' }
end
if #notice > 18 or not string.match(notice, '^%-?%d+$')
    or not string.match(cursor, '^%d+$') then
  return { 'NONE' }
end
-- Whether text is UTF-8: each valid sequence becomes one ASCII byte (so
-- none is joined to a neighbour), and no byte past ASCII may be left.
local sequences = {
  '[\194-\223][\128-\191]', '\224[\160-\191][\128-\191]',
  '[\225-\236\238\239][\128-\191][\128-\191]', '\237[\128-\159][\128-\191]',
  '\240[\144-\191][\128-\191][\128-\191]',
  '[\241-\243][\128-\191][\128-\191][\128-\191]',
  '\244[\128-\143][\128-\191][\128-\191]',
}
local function is_utf8(text)
  if not string.find(text, '[\128-\255]') then
    return true
  end
  for _, sequence in ipairs(sequences) do
    text = string.gsub(text, sequence, '_')
  end
  return not string.find(text, '[\128-\255]')
end

local step = redis.call('HSCAN', KEYS[2], cursor, 'COUNT', tonumber(ARGV[2]))
local after = step[1]
if after == '0' then
  after = 'done'
end
local interests = step[2]
for i = 1, #interests, 2 do
  if not is_utf8(interests[i]) then
    interests[i] = '?'
    interests[i + 1] = ''
  elseif not is_utf8(interests[i + 1]) then
    interests[i + 1] = ''
  end
end
return { 'BATCH', 'notice', tonumber(notice), 'from', cursor, 'to', after,
  'interests', interests }
