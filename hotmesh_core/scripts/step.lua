-- step.lua: apply one engine step (a leg of an activity, a trigger, a completion) atomically.
--
-- KEYS[1]   the job hash hmsh:<app>:j:<jid>                     (layout: keys.JobFields)
-- KEYS[2..] streams this step writes to or acks (referenced by index from the spec below)
-- ARGV[1]   JSON spec; every number is sent as a string so that 15-digit ledgers stay exact:
--   create   "N"           trigger: HSETNX ':' N; if the job exists -> {'exists', m/src}
--   gid      "..."         the job must exist with this generation id   -> else {'gone'}
--   active   "T"           the semaphore must be > T                     -> else {'inactive', sem}
--   ledger   [f, expect]   compare-and-set guard on an activity ledger   -> else {'conflict', current}
--   count    [steps, cycles?]  runaway guard: the step is one more of the job's activity steps
--                          (':n') and, with a cycles limit, one more cycle iteration (':c'); both
--                          counters ride on the guard HMGET and the HSET below (no extra command);
--                          past a limit > 0 nothing is written or acked      -> {'limit', 'steps'|'cycles'}
--   guid     "g/<guid>"    HSETNX; a message applied before             -> {'duplicate'}
--   hset     [f, v, ...]   fields to write
--   sem      "delta"       the semaphore moves by delta (written with the HSET, read by the guard
--                          HMGET; the semaphore after it decides completion)
--   xadd     [[k, json]]   stream messages to add (k = KEYS index)
--   done     {expire, xadd?, publish?}  when the semaphore ends in (-1e8, 0]: add the completion
--                          message (a parent to tell: it carries the expiry and the completion step
--                          applies it after reading the job), or PUBLISH the job's outcome
--                          (publish = [[channel, head]]: head .. ',"raw":{m/, d/ fields}}') and
--                          EXPIRE it now, or only EXPIRE it
--   emit     [k, json]     when the job is still running: add an interim completion message
--   ack      [k, group, id]  XACK the consumed message (also on 'gone'/'inactive'/'duplicate'); acked
--                          entries are trimmed from the stream in bulk (scripts/trim.lua), not one by one
--   expire   "seconds"     EXPIRE the job now (pending jobs)
--   events   [[channel, json]]  PUBLISH live events (studio), each with ',"js":<sem>,"finished":0|1' appended
--   notify   [k, json]     XADD unconditionally (interrupt: tell parent / caller although js < 0)
--   timer    [k, member, ms]   ZADD a timer due at Redis TIME + ms (never a process clock, G5)
--   signal   [k, value, ttl]   SET NX EX: register an open web hook
--   unsignal k             DEL a web-hook registration (closed with code 200)
--   incr     [[k, field, by]]  HINCRBYFLOAT on other hashes (stats)
--   push     [[k, value]]  RPUSH (stats index lists, dependents)
--   zadd     [[k, score, member]]  ZADD (median samples)
--   del      [k, ...]      DEL (scrubbed stats)
--   precheck "T"           statusThreshold: when the semaphore equals T, conclude the job instead
--   semeq    "T"           the semaphore must equal T                    -> else {'conflict', sem}
--
-- Crash story: everything below happens or nothing does. If the process dies before EVALSHA
-- returns, the consumed message is still pending and is redelivered; the ledger guard then
-- tells a redelivery (already applied: 'conflict' on a closed ledger) from new work.
local job = KEYS[1]
local spec = cjson.decode(ARGV[1])

local function ack()
  local a = spec.ack
  if a then
    redis.call('XACK', KEYS[a[1]], a[2], a[3])
  end
end

local sem, completions, head
if spec.create then
  if redis.call('HSETNX', job, ':', spec.create) == 0 then
    return {'exists', redis.call('HGET', job, 'm/src') or ''}
  end
  sem, completions = tonumber(spec.create), 0
else
  -- one read for every guard: the semaphore, the generation, the ledger and the completion count
  head = redis.call('HMGET', job, ':', 'm/gid', spec.ledger and spec.ledger[1] or ':', ':done', ':n', ':c')
  if not head[1] or (spec.gid and head[2] ~= spec.gid) then
    ack()
    return {'gone'}
  end
  sem, completions = tonumber(head[1]), tonumber(head[4] or '0')
  if spec.active and sem <= tonumber(spec.active) then
    ack()
    return {'inactive', head[1]}
  end
  if spec.ledger and head[3] ~= spec.ledger[2] then
    return {'conflict', head[3] or ''}
  end
end

-- the runaway guard (limits): the counters after this step, or a refusal before anything is written
local counted = {}
if spec.count and head then
  local kinds = {{':n', 'steps', head[5]}, {':c', 'cycles', head[6]}}
  for i, limit in ipairs(spec.count) do
    local kind = kinds[i]
    local count = tonumber(kind[3] or '0') + 1
    if tonumber(limit) > 0 and count > tonumber(limit) then
      return {'limit', kind[2]}
    end
    counted[#counted + 1] = kind[1]
    counted[#counted + 1] = tostring(count)
  end
end
if spec.guid and redis.call('HSETNX', job, spec.guid, '1') == 0 then
  ack()
  return {'duplicate'}
end

if spec.semeq and sem ~= tonumber(spec.semeq) then
  return {'conflict', tostring(sem)}
end
if spec.precheck and sem == tonumber(spec.precheck) then
  return {'threshold', tostring(sem)}
end

local delta = tonumber(spec.sem or '0')
local before = sem
sem = sem + delta
local finished = 0
if spec.done and sem <= 0 and sem > -100000000 then
  finished = 1
end

local hset = spec.hset or {}
for _, v in ipairs(counted) do
  hset[#hset + 1] = v
end
if sem ~= before then
  hset[#hset + 1] = ':'
  hset[#hset + 1] = tostring(sem)
end
if finished == 1 then
  -- completion counter: the fault tests assert it is 1
  hset[#hset + 1] = ':done'
  hset[#hset + 1] = tostring(completions + 1)
end
if #hset > 0 then
  for i = 1, #hset, 4000 do
    redis.call('HSET', job, unpack(hset, i, math.min(i + 3999, #hset)))
  end
end

if spec.xadd then
  for _, x in ipairs(spec.xadd) do
    redis.call('XADD', KEYS[x[1]], '*', 'message', x[2])
  end
end

if finished == 1 then
  local done = spec.done
  if done.xadd then
    -- a parent is to be told: the completion step reads the job, tells it, then sets the expiry
    redis.call('XADD', KEYS[done.xadd[1]], '*', 'message', done.xadd[2])
  else
    if done.publish then
      -- the outcome goes out now, in this step: job metadata and data, nothing else
      local all = redis.call('HGETALL', job)
      local raw = {}
      for i = 1, #all, 2 do
        local f = all[i]
        local p = string.sub(f, 1, 2)
        if p == 'm/' or p == 'd/' or f == ':' then
          raw[f] = all[i + 1]
        end
      end
      local body = cjson.encode(raw)
      for _, target in ipairs(done.publish) do
        redis.call('PUBLISH', target[1], target[2] .. ',"raw":' .. body .. '}')
      end
    end
    local expire = tonumber(done.expire)
    if expire and expire > 0 then
      redis.call('EXPIRE', job, expire)
    end
  end
elseif spec.emit and sem > 0 then
  redis.call('XADD', KEYS[spec.emit[1]], '*', 'message', spec.emit[2])
end
if spec.notify then
  redis.call('XADD', KEYS[spec.notify[1]], '*', 'message', spec.notify[2])
end
if spec.expire then
  redis.call('EXPIRE', job, spec.expire)
end
if spec.timer then
  local t = redis.call('TIME')
  local due = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(spec.timer[3])
  redis.call('ZADD', KEYS[spec.timer[1]], due, spec.timer[2])
end
if spec.signal then
  redis.call('SET', KEYS[spec.signal[1]], spec.signal[2], 'NX', 'EX', spec.signal[3])
end
if spec.unsignal then
  redis.call('DEL', KEYS[spec.unsignal])
end
if spec.incr then
  for _, x in ipairs(spec.incr) do
    redis.call('HINCRBYFLOAT', KEYS[x[1]], x[2], x[3])
  end
end
if spec.push then
  for _, x in ipairs(spec.push) do
    redis.call('RPUSH', KEYS[x[1]], x[2])
  end
end
if spec.zadd then
  for _, x in ipairs(spec.zadd) do
    redis.call('ZADD', KEYS[x[1]], x[2], x[3])
  end
end
if spec.del then
  for _, k in ipairs(spec.del) do
    redis.call('DEL', KEYS[k])
  end
end
if spec.events then
  local tail = ',"js":' .. sem .. ',"finished":' .. finished .. '}'
  for _, e in ipairs(spec.events) do
    redis.call('PUBLISH', e[1], string.sub(e[2], 1, -2) .. tail)
  end
end

ack()
return {'ok', tostring(sem), finished}
