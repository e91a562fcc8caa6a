-- scout.lua: the time scout's one call: hold the scout lease while a timer is near, and move due
-- timers into the engine stream, atomically, by the Redis server clock.
--
-- KEYS[1]  hmsh:<app>:w:time  string the scout lease: holder guid, PX
-- KEYS[2]  hmsh:<app>:t:      zset   member "sleep::<aid>::<dad>::<gid>::<jid>", score = due ms (Redis TIME)
-- KEYS[3]  hmsh:<app>:x:      stream the engine stream (group ENGINE)
-- ARGV[1]  this process's guid
-- ARGV[2]  lease time to live (ms)
-- ARGV[3]  horizon (ms): a timer due later than this is not "near"
-- ARGV[4]  at most this many timers per call
-- Returns {holding, moved, ms}:
--   {1, moved, ms until the next timer (0 if more are due now)}  this process holds the lease
--   {0, 0, ms the lease has left}                                  another process holds it
--   {0, 0, ms until the next timer, or -1 if there is none}        no timer near: the lease is
--                                                                  given up (deleted if ours)
--
-- Giving the lease up in the same script that saw no near timer closes the race with a step that
-- adds one: that step's process runs this script after its own ZADD, so either this call saw the
-- timer, or the lease is already free and that process takes it.
--
-- ZREM and XADD happen together: a crash loses no timer (the reference popped first, then
-- added, so a crash in between lost it) and a timer never fires twice. It never fires early:
-- 'now' is this server's clock, the same clock that computed the due time.
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then
  return {0, 0, math.max(0, redis.call('PTTL', KEYS[1]))}
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if #first == 0 or tonumber(first[2]) - now > tonumber(ARGV[3]) then
  if holder then
    redis.call('DEL', KEYS[1])
  end
  if #first == 0 then
    return {0, 0, -1}
  end
  return {0, 0, tonumber(first[2]) - now}
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local moved = 0
if tonumber(first[2]) <= now then
  local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[4]))
  for i = 1, #due, 2 do
    local member = due[i]
    local parts = {}
    for part in string.gmatch(member .. '::', '(.-)::') do
      parts[#parts + 1] = part
    end
    redis.call('ZREM', KEYS[2], member)
    if parts[1] == 'sleep' and #parts >= 5 then
      local message = cjson.encode({
        type = 'timehook',
        metadata = {guid = 'T' .. string.sub(redis.sha1hex(member), 1, 22), jid = parts[5], gid = parts[4],
                    dad = parts[3], aid = parts[2]},
        data = {timestamp = now, due = tonumber(due[i + 1])}
      })
      redis.call('XADD', KEYS[3], '*', 'message', message)
      moved = moved + 1
    end
  end
  first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  if #first == 0 then
    return {1, moved, -1}
  end
end
return {1, moved, math.max(0, tonumber(first[2]) - now)}
