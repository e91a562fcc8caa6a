"""Tenant isolation (issue 13 item 5): every key and channel of an app lives under ``hmsh:<app>:``,
so a Redis ACL user confined with ``~hmsh:<app>:* &hmsh:<app>:*`` (the README's line) runs the app,
and can neither read nor write another app's jobs, streams or channels. Two apps, two confined
users, one real redis-server; a registry written by an older version (``hmsh:a:<app>``) is carried
over at ``init``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis

from hotmesh_core import HotMesh, RedisServer, Worker
from hotmesh_core.errors import RedisPermissionError

from ..conftest import fast_settings

APP = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: {APP}.go
      publishes: {APP}.done
      expire: 600
      activities:
        t1:
          type: trigger
          stats:
            id: '{$self.input.data.id}'
            key: '{$self.input.data.id}'
            granularity: infinity
            measures:
              - { measure: index, target: '{$self.input.data.id}' }
        w1:
          type: worker
          topic: {APP}.work
          input: { maps: { id: '{t1.output.data.id}' } }
          job: { maps: { worked: '{$self.output.data.worked}' } }
        h1: { type: hook, job: { maps: { woke: '{$self.hook.data.id}' } } }
      transitions:
        t1: [ { to: w1 } ]
        w1: [ { to: h1 } ]
      hooks:
        {APP}.wake:
          - to: h1
            conditions:
              match:
                - expected: '{t1.output.data.id}'
                  actual: '{$self.hook.data.id}'
"""

#: The README's ACL line, per app (``psub`` patterns are matched literally by Redis: the one the
#: test subscribes is listed on its own).
ACL = ("on", "resetkeys", "resetchannels", "~hmsh:{APP}:*", "&hmsh:{APP}:*", "&hmsh:{APP}:q:{APP}.*",
       "+@all", "-@dangerous")


def app_yaml(app: str) -> str:
    return APP.replace("{APP}", app)


async def work(message: Any) -> dict[str, Any]:
    return {"worked": True}


async def until_worked(hm: HotMesh, topic: str, jid: str) -> None:
    for _ in range(200):
        if (await hm.get_state(topic, jid)).get("data", {}).get("worked") is True:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {jid} never got past its worker")


def confined_url(server: RedisServer, admin: redis.Redis, user: str, app: str) -> str:
    admin.execute_command("ACL", "SETUSER", user, f">{user}-secret",
                          *[rule.replace("{APP}", app) for rule in ACL])
    return f"redis://{user}:{user}-secret@127.0.0.1:{server.port}/0"


async def run_app(url: str, app: str) -> tuple[HotMesh, str]:
    """Deploy, activate and run one job of ``app`` to its hook, then wake it: all as the confined user."""
    hm = await HotMesh.init(app, url, workers=[Worker(f"{app}.work", work)], settings=fast_settings())
    await hm.activate(await hm.deploy(app_yaml(app)))
    outcomes: list[str] = []
    await hm.sub(f"{app}.done.a", lambda topic, job: outcomes.append(topic))
    await hm.psub(f"{app}.*", lambda topic, job: outcomes.append("p:" + topic))
    stop_events = await hm.listen_events(lambda event: None)
    await hm.watch(5)
    jid = await hm.pub(f"{app}.go", {"id": "a"})
    assert jid == "a"
    await until_worked(hm, f"{app}.go", jid)
    for _ in range(200):                              # until its hook is registered
        if await hm.hook(f"{app}.wake", {"id": "a"}) is not None:
            break
        await asyncio.sleep(0.05)
    for _ in range(200):
        if await hm.get_status(jid) <= 0 and len(outcomes) >= 2:
            break
        await asyncio.sleep(0.05)
    state = await hm.get_state(f"{app}.go", jid)
    assert state["data"] == {"worked": True, "woke": "a"}, state
    assert sorted(outcomes) == [f"{app}.done", f"p:{app}.done"]
    # the rest of the public calls of the facade work under the confined user too
    assert await hm.versions()
    assert await hm.list_jobs()
    assert await hm.get_stats(f"{app}.go", {"id": "a"}) is not None
    assert await hm.dead_letters() == []
    await hm.throttle(0)
    await hm.export(jid)
    await stop_events()
    return hm, jid


async def test_two_apps_under_two_confined_users(server: RedisServer) -> None:
    admin = redis.Redis(host="127.0.0.1", port=server.port, decode_responses=True)
    alice = confined_url(server, admin, "alice", "alpha")
    bob = confined_url(server, admin, "bob", "beta")
    hm_a, jid_a = await run_app(alice, "alpha")
    hm_b, jid_b = await run_app(bob, "beta")
    try:
        # every key either app wrote is under its own prefix
        keys = admin.keys("*")
        assert keys and all(k.startswith(("hmsh:alpha:", "hmsh:beta:")) for k in keys), keys

        # alice, through HotMesh, cannot reach beta: init refuses, as does every read or write
        with pytest.raises(RedisPermissionError):
            await HotMesh.init("beta", alice, engine=False, settings=fast_settings())
        # nor through plain commands on the same confined connection
        raw = redis.Redis.from_url(alice, decode_responses=True)
        refused = {
            "read job": lambda: raw.hgetall(f"hmsh:beta:j:{jid_b}"),
            "write job": lambda: raw.hset(f"hmsh:beta:j:{jid_b}", "d/x", "1"),
            "read registry": lambda: raw.hgetall("hmsh:beta:a:"),
            "read engine stream": lambda: raw.xrange("hmsh:beta:x:"),
            "write worker stream": lambda: raw.xadd("hmsh:beta:x:beta.work", {"m": "{}"}),
            "read group": lambda: raw.xreadgroup("ENGINE", "x", {"hmsh:beta:x:": ">"}, count=1),
            "publish": lambda: raw.publish("hmsh:beta:q:", "{}"),
            "run a step script": lambda: raw.eval("return redis.call('HGETALL', KEYS[1])", 1,
                                                  f"hmsh:beta:j:{jid_b}"),
            "flush": lambda: raw.flushall(),
            "config": lambda: raw.config_get("maxmemory-policy"),
        }
        allowed = []
        for name, command in refused.items():
            try:
                command()
                allowed.append(name)
            except redis.exceptions.NoPermissionError:
                pass
        pubsub = raw.pubsub()
        try:
            pubsub.subscribe("hmsh:beta:q:beta.done.a")
            if pubsub.get_message(timeout=2) is not None:     # redis-py raises the refusal on read
                allowed.append("subscribe")
        except redis.exceptions.NoPermissionError:
            pass
        pubsub.close()
        raw.close()
        assert allowed == [], f"alice reached beta with: {allowed}"

        # and nothing of beta changed: its job is as bob left it
        state = await hm_b.get_state("beta.go", jid_b)
        assert state["data"] == {"worked": True, "woke": "a"}
        assert admin.hget(f"hmsh:beta:j:{jid_b}", "d/x") is None
    finally:
        await hm_a.stop()
        await hm_b.stop()
        admin.close()


async def test_psub_outside_the_acl_is_a_permission_error(server: RedisServer) -> None:
    """Redis matches a PSUBSCRIBE pattern literally against ``&`` rules: a pattern the user was
    not given is refused with a HotMeshError naming the cause, and the process carries on."""
    admin = redis.Redis(host="127.0.0.1", port=server.port, decode_responses=True)
    url = confined_url(server, admin, "carol", "gamma")
    hm = await HotMesh.init("gamma", url, engine=False, settings=fast_settings())
    try:
        with pytest.raises(RedisPermissionError):
            await hm.psub("other.*", lambda topic, job: None)
        await hm.psub("gamma.*", lambda topic, job: None)      # the one the ACL lists
    finally:
        await hm.stop()
        admin.close()


async def test_registry_of_an_older_version_is_carried_over(server: RedisServer) -> None:
    admin = redis.Redis(host="127.0.0.1", port=server.port, decode_responses=True)
    hm = await HotMesh.init("delta", server.url, settings=fast_settings())
    await hm.activate(await hm.deploy(app_yaml("delta")))
    await hm.stop()
    # as an older release left it: the registry at hmsh:a:<app>
    record = admin.hgetall("hmsh:delta:a:")
    admin.delete("hmsh:delta:a:")
    admin.hset("hmsh:a:delta", mapping=record)
    hm = await HotMesh.init("delta", server.url, workers=[Worker("delta.work", work)],
                            settings=fast_settings())
    try:
        assert await hm.active_version() == "1"
        assert admin.exists("hmsh:a:delta") == 0
        assert admin.hgetall("hmsh:delta:a:") == record
        jid = await hm.pub("delta.go", {"id": "b"})
        await until_worked(hm, "delta.go", jid)
    finally:
        await hm.stop()
        admin.close()
