-- forward.lua: a worker's reply goes to the engine stream and its input is acked, atomically.
--
-- KEYS[1]  the stream the reply goes to (hmsh:<app>:x:, the engine stream)
-- KEYS[2]  the stream the input came from (hmsh:<app>:x:<topic>, a worker stream)
-- ARGV[1]  the reply (JSON)
-- ARGV[2]  the consumer group of KEYS[2] (WORKER)
-- ARGV[3]  the id of the input entry
-- Returns what XACK returns (1, or 0 when it was acked before).
--
-- One script (3 commands, one round trip) instead of MULTI/XADD/XACK/EXEC: a reply is never sent
-- twice for one delivery, and an acked input always has its reply in the engine stream.
redis.call('XADD', KEYS[1], '*', 'message', ARGV[1])
return redis.call('XACK', KEYS[2], ARGV[2], ARGV[3])
