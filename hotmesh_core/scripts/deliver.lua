-- deliver.lua: deliver a forwarded message (a shard's outbox entry) to its target, once.
--
-- KEYS[1]  the target: a stream (XADD 'message'), a list (RPUSH) or a key to delete, on its shard
-- KEYS[2]  the delivered-once marker, hmsh:<app>:f:{T}<source>, on the same shard (keys.forwarded)
-- ARGV[1]  'xadd', 'rpush' or 'del'
-- ARGV[2]  the message (stream) or the value (list)
-- ARGV[3]  the marker's time to live (s): longer than any redelivery of the outbox entry
-- Returns 1 when delivered now, 0 when it was delivered before (a redelivered outbox entry whose
-- first delivery committed and whose ack did not).
if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[3]) then
  return 0
end
if ARGV[1] == 'rpush' then
  redis.call('RPUSH', KEYS[1], ARGV[2])
elseif ARGV[1] == 'del' then
  redis.call('DEL', KEYS[1])
else
  redis.call('XADD', KEYS[1], '*', 'message', ARGV[2])
end
return 1
