-- trim.lua: remove the entries of a stream that every consumer group is done with.
--
-- Steps and workers only XACK what they consume (one command, inside their atomic step); the
-- acked entries are dropped here in bulk instead of one XDEL each. An entry may go once it is
-- older than both the oldest entry still pending in its group (delivered, not yet acked: a
-- consumer may die and it is reclaimed) and the group's last-delivered id (never delivered).
--
-- KEYS[1]  the stream.   Returns the number of entries removed.
local ok, groups = pcall(redis.call, 'XINFO', 'GROUPS', KEYS[1])
if not ok or #groups == 0 then
  return 0
end

local function older(a, b)
  local ams, aseq = string.match(a, '^(%d+)-(%d+)$')
  local bms, bseq = string.match(b, '^(%d+)-(%d+)$')
  ams, bms = tonumber(ams), tonumber(bms)
  if ams ~= bms then
    return ams < bms
  end
  return tonumber(aseq) < tonumber(bseq)
end

local floor
for _, g in ipairs(groups) do
  local name, pending, last
  for i = 1, #g, 2 do
    local k = g[i]
    if k == 'name' then
      name = g[i + 1]
    elseif k == 'pending' then
      pending = tonumber(g[i + 1])
    elseif k == 'last-delivered-id' then
      last = g[i + 1]
    end
  end
  local bound = last
  if pending and pending > 0 then
    bound = redis.call('XPENDING', KEYS[1], name)[2]
  end
  if floor == nil or older(bound, floor) then
    floor = bound
  end
end
if not floor or floor == '0-0' then
  return 0
end
return redis.call('XTRIM', KEYS[1], 'MINID', floor)
