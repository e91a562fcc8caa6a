-- lease_release.lua: give a lease up, only if this process still holds it.
--
-- KEYS[1]  the lease (hmsh:<app>:w:<role>)
-- ARGV[1]  the holder's guid
-- Returns 1 when released, 0 when the lease is another's or gone.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
