-- lease_renew.lua: extend a lease (SET NX PX) only while this process still holds it.
--
-- KEYS[1]  the lease (hmsh:<app>:w:<role>)
-- ARGV[1]  the holder's guid
-- ARGV[2]  the new time to live (ms)
-- Returns 1 when renewed, 0 when the lease is another's or gone.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
