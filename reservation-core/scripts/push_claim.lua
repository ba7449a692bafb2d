-- Claims one push job for delivery, just before it is sent: whether it is
-- still wanted. Jobs are read at least once, rounds may read an interest
-- twice, and several planners may enqueue one occasion, so the claim is
-- where a push to one subscription becomes at most one per occasion:
-- the product's sent marks record the last job claimed per interest and
-- kind, and a retry of that same job (its worker died before sending) is
-- claimed again.
--
-- KEYS[1] the product's push interests (fs:push:product:{SKU})
-- KEYS[2] the product's sent marks (fs:push:sent:{SKU}):
--         CUSTOMER/SUBSCRIPTION_ID/opens|back -> NOTICE|JOB_ID
-- ARGV[1] the kind: sale_opens, back_in_stock or hold_expiring
-- ARGV[2] the interest's field, CUSTOMER/SUBSCRIPTION_ID
-- ARGV[3] the sent mark's field ('' for hold_expiring, which has none: the
--         sweep sends each hold's notice once)
-- ARGV[4] the job's notice, ms ('' for hold_expiring)
-- ARGV[5] the job's stream entry id
-- ARGV[6] back_in_stock's quiet period, ms
--
-- Returns {'SEND'}, {'DUPLICATE'} (another job claimed this occasion, or a
-- back_in_stock within the quiet period), or {'UNSUBSCRIBED'} (the interest
-- is gone, or no longer asks for this kind).

local raw = redis.call('HGET', KEYS[1], ARGV[2])
if not raw then
  return { 'UNSUBSCRIBED' }
end
local ok, interest = pcall(cjson.decode, raw)
if not ok or interest[ARGV[1]] ~= true then
  return { 'UNSUBSCRIBED' }
end
if ARGV[3] == '' then
  return { 'SEND' }
end

local notice = tonumber(ARGV[4])
local mark = redis.call('HGET', KEYS[2], ARGV[3])
if mark then
  local marked_notice, marked_job = string.match(mark, '^(%-?%d+)|(.*)$')
  marked_notice = tonumber(marked_notice)
  if marked_job == ARGV[5] then
    return { 'SEND' }
  end
  if marked_notice and marked_notice >= notice then
    return { 'DUPLICATE' }
  end
  if marked_notice and ARGV[1] == 'back_in_stock' and notice - marked_notice < tonumber(ARGV[6]) then
    return { 'DUPLICATE' }
  end
end
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4] .. '|' .. ARGV[5])
return { 'SEND' }
