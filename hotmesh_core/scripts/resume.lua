-- resume.lua: re-open a failed job at one activity (HotMesh.resume), or note a run-history record.
--
-- KEYS[1]   the job hash hmsh:<app>:j:<jid>                     (layout: keys.JobFields)
-- KEYS[2..] streams the resumed activity's message goes to (referenced by index below)
-- ARGV[1]   JSON spec; numbers travel as strings so that 15-digit ledgers stay exact:
--   history  [field, json]  append the JSON record to the JSON array in that field (always)
--   (always)               the job must exist                              -> else {'gone'}
--   note     "1"           only append the record (a re-run link)
--   gid      "..."         the job must still have this generation id (a resume gives it a new one:
--                          messages of the failed attempt are then dropped) -> else {'conflict', 'gid', ''}
--   sem      "S"           the semaphore must still be S (the job ended)   -> else {'conflict', 'sem', now}
--   err      "..."         m/err must still be this value (the same failure) -> else {'conflict', 'err', ''}
--   ledger   [f, expect]   the failed activity's ledger must still be this  -> else {'conflict', 'ledger', now}
--   hdel     [f, ...]      fields removed first: the failed attempt's entry (kept in the history
--                          record), ':done', and m/err when no other failure remains
--   hset     [f, v, ...]   fields written next: the re-opened ledger, the new attempt's entry, m/ju
--   delta    "1"           the semaphore moves by delta: the re-opened branch is running again
--   xadd     [[k, json]]   the activity's message (worker / await dispatch, or a transition)
--   events   [[channel, json]]  live events (studio), each with ',"js":<sem>,"finished":0}' appended
--
-- The guards make a resume apply once: two concurrent resumes both read the failed job, the first
-- moves the semaphore, the second finds it moved ('conflict') and writes nothing. The job's expiry
-- (set when it completed) is removed: it is running again, and its completion sets a new one.
-- Crash story: everything happens or nothing does; the caller sees an error and can ask again.
local job = KEYS[1]
local spec = cjson.decode(ARGV[1])

local function append_history()
  local h = spec.history
  if not h then
    return
  end
  local old = redis.call('HGET', job, h[1])
  if old and string.sub(old, -1) == ']' and string.len(old) > 2 then
    redis.call('HSET', job, h[1], string.sub(old, 1, -2) .. ',' .. h[2] .. ']')
  else
    redis.call('HSET', job, h[1], '[' .. h[2] .. ']')
  end
end

local ledger_field = spec.ledger and spec.ledger[1] or ':'
local head = redis.call('HMGET', job, ':', 'm/gid', 'm/err', ledger_field)
if not head[1] then
  return {'gone'}
end
if spec.note then
  append_history()
  return {'ok', head[1]}
end
if spec.gid and head[2] ~= spec.gid then
  return {'conflict', 'gid', ''}
end
if spec.sem and head[1] ~= spec.sem then
  return {'conflict', 'sem', head[1]}
end
if spec.err and head[3] ~= spec.err then
  return {'conflict', 'err', ''}
end
if spec.ledger and head[4] ~= spec.ledger[2] then
  return {'conflict', 'ledger', head[4] or ''}
end

if spec.hdel and #spec.hdel > 0 then
  redis.call('HDEL', job, unpack(spec.hdel))
end
local sem = tonumber(head[1]) + tonumber(spec.delta or '0')
local hset = spec.hset or {}
hset[#hset + 1] = ':'
hset[#hset + 1] = tostring(sem)
redis.call('HSET', job, unpack(hset))
append_history()
redis.call('PERSIST', job)

if spec.xadd then
  for _, x in ipairs(spec.xadd) do
    redis.call('XADD', KEYS[x[1]], '*', 'message', x[2])
  end
end
if spec.events then
  local tail = ',"js":' .. sem .. ',"finished":0}'
  for _, e in ipairs(spec.events) do
    redis.call('PUBLISH', e[1], string.sub(e[2], 1, -2) .. tail)
  end
end
return {'ok', tostring(sem)}
