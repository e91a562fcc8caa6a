-- timers.lua: move due timers into the engine stream, atomically, by the Redis server clock.
--
-- KEYS[1]  hmsh:<app>:t:   zset  member "sleep::<aid>::<dad>::<gid>::<jid>", score = due ms (Redis TIME)
-- KEYS[2]  hmsh:<app>:x:   stream the engine stream (group ENGINE)
-- ARGV[1]  at most this many timers per call
-- Returns {moved, ms until the next due timer or -1}.
--
-- ZREM and XADD happen together: a crash loses no timer (the reference popped first, then
-- added, so a crash in between lost it) and a timer never fires twice. It never fires early:
-- 'now' is this server's clock, the same clock that computed the due time.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[1]))
local moved = 0
for i = 1, #due, 2 do
  local member = due[i]
  local parts = {}
  for part in string.gmatch(member .. '::', '(.-)::') do
    parts[#parts + 1] = part
  end
  redis.call('ZREM', KEYS[1], member)
  if parts[1] == 'sleep' and #parts >= 5 then
    local message = cjson.encode({
      type = 'timehook',
      metadata = {guid = 'T' .. string.sub(redis.sha1hex(member), 1, 22), jid = parts[5], gid = parts[4],
                  dad = parts[3], aid = parts[2]},
      data = {timestamp = now, due = tonumber(due[i + 1])}
    })
    redis.call('XADD', KEYS[2], '*', 'message', message)
    moved = moved + 1
  end
end
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #nxt == 0 then
  return {moved, -1}
end
return {moved, math.max(0, tonumber(nxt[2]) - now)}
