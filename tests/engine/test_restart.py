"""The embedded Redis keeps its data across restarts (real processes, ``HOTMESH_DATA_DIR`` and no
``REDIS_URL``): versions, timers and web hooks survive SIGTERM and ``kill -9`` of their process; one
directory has one server, shared and handed over; stale files of a killed run are recovered; no
redis-server outlives its process (``PR_SET_PDEATHSIG``, also from ``SyncHotMesh``'s loop thread).
``pytest -s`` shows one ``restart:`` line per mode."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
N = 20
SLEEP_SECONDS = 6        # the timers are due after the restart

APP = """
app:
  id: rst
  version: '1'
  graphs:
    - subscribes: rst.sleep
      expire: 600
      activities:
        s0: { type: trigger, stats: { id: '{$self.input.data.id}' } }
        s1: { type: hook, sleep: SLEEP, job: { maps: { slept: true } } }
      transitions:
        s0: [ { to: s1 } ]
    - subscribes: rst.wait
      expire: 600
      activities:
        w0: { type: trigger, stats: { id: '{$self.input.data.id}' } }
        w1: { type: hook, job: { maps: { answer: '{$self.hook.data.answer}' } } }
      transitions:
        w0: [ { to: w1 } ]
      hooks:
        rst.resume:
          - to: w1
            conditions:
              match:
                - expected: '{$job.metadata.jid}'
                  actual: '{$self.hook.data.id}'
""".replace("SLEEP", str(SLEEP_SECONDS))

CHILD = textwrap.dedent("""
    import asyncio, json, os, sys, time
    from hotmesh_core import HotMesh, Settings, redis_server

    N = int(os.environ["N"])
    SETTINGS = Settings(block_time_ms=300, fidelity_seconds=1, reclaim_delay_ms=1500, quorum_delay_ms=30)

    def say(**fields):
        print(json.dumps(fields), flush=True)

    async def server_pid(hm):
        info = await hm.redis.call("INFO", "server")
        return int(next(l for l in info.splitlines() if l.startswith("process_id:")).split(":")[1])

    async def park():
        hm = await HotMesh.init("rst", None, settings=SETTINGS)
        await hm.activate(await hm.deploy(os.environ["APP_YAML"]))
        for i in range(N):
            await hm.pub("rst.sleep", {"id": f"sleep-{i}"})
            await hm.pub("rst.wait", {"id": f"wait-{i}"})
        for _ in range(200):                       # every job parked: N timers, N hook signals
            timers = sum([await hm.redis.call("ZCARD", hm.keys.timers(n)) for n in hm.keys.shard_ids])
            hooks = [await hm.redis.call("EXISTS", hm.keys.signal("rst.resume", f"wait-{i}", f"wait-{i}"))
                     for i in range(N)]
            if timers == N and sum(hooks) == N:
                break
            await asyncio.sleep(0.05)
        say(parked=timers + sum(hooks), pid=await server_pid(hm), owner=redis_server.serving(hm.redis.url).owner)
        await asyncio.Event().wait()               # until the test stops this process

    async def resume():
        hm = await HotMesh.init("rst", None, settings=SETTINGS)
        versions = await hm.versions()
        active = await hm.active_version()
        due_later = sum([await hm.get_status(f"sleep-{i}") == 1 for i in range(N)])
        resumed = sum([await hm.hook("rst.resume", {"id": f"wait-{i}", "answer": i}) is not None
                       for i in range(N)])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            states = [await hm.get_state("rst.sleep", f"sleep-{i}") for i in range(N)]
            answers = [await hm.get_state("rst.wait", f"wait-{i}") for i in range(N)]
            fired = sum(s.get("data", {}).get("slept") is True and s["metadata"]["js"] == 0 for s in states)
            answered = sum(a.get("data", {}).get("answer") == i and a["metadata"]["js"] == 0 for i, a in enumerate(answers))
            if fired == N and answered == N:
                break
            await asyncio.sleep(0.2)
        say(versions=len(versions), active=active, due_later=due_later, fired=fired, hooked=resumed,
            resumed=answered, pid=await server_pid(hm))
        await hm.stop()

    async def serve():
        \"\"\"One INCR per line read on stdin; prints the counter and the server's pid.\"\"\"
        if os.environ.get("USER_HANDLER"):
            import signal
            def mine(signum, frame):
                print("user handler", flush=True)
                raise SystemExit(3)
            signal.signal(signal.SIGTERM, mine)
        hm = await HotMesh.init("rst", None, settings=SETTINGS)
        owner = redis_server.serving(hm.redis.url).owner
        while True:
            say(n=await hm.redis.call("INCR", "n"), pid=await server_pid(hm), owner=owner)
            if os.environ.get("FOREVER"):
                await asyncio.Event().wait()       # (a thread blocked on stdin would delay the exit)
            if not await asyncio.to_thread(sys.stdin.readline):
                break
        await hm.stop()

    def sync():
        \"\"\"SyncHotMesh runs init on its loop thread; the server must outlive that thread.\"\"\"
        from hotmesh_core import SyncHotMesh
        first = SyncHotMesh("rst", None, settings=SETTINGS)
        pid = redis_server.serving(first.hm.redis.url).pid
        first.stop()                               # its loop thread ends
        time.sleep(0.5)
        second = SyncHotMesh("rst", None, settings=SETTINGS)
        second._run(second.hm.redis.call("INCR", "n"))
        say(pid=pid, again=redis_server.serving(second.hm.redis.url).pid)
        sys.stdin.readline()

    mode = sys.argv[1]
    if mode == "sync":
        sync()
    else:
        asyncio.run({"park": park, "resume": resume, "serve": serve}[mode]())
""")


def _default_sigint() -> None:
    """The child starts with Ctrl-C's default disposition even if this process ignores SIGINT
    (an ignored signal is inherited through exec, and Python then installs no handler for it)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Child:
    def __init__(self, mode: str, data: Path, **env: str) -> None:
        environ = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "HOTMESH_DATA_DIR")}
        environ.update(PYTHONPATH=str(ROOT), HOTMESH_DATA_DIR=str(data), APP_YAML=APP, N=str(N), **env)
        self.process = subprocess.Popen([sys.executable, "-c", CHILD, mode], env=environ, text=True,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        preexec_fn=_default_sigint)

    def line(self, timeout: float = 60) -> dict[str, Any]:
        import selectors

        assert self.process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            if not selector.select(timeout):
                self.process.kill()
                raise AssertionError(f"no line within {timeout}s: {self.stderr()}")
        text = self.process.stdout.readline()
        assert text, f"the child exited ({self.process.poll()}): {self.stderr()}"
        return json.loads(text)  # type: ignore[no-any-return]

    def send(self, text: str = "go\n") -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text)
        self.process.stdin.flush()

    def stderr(self) -> str:
        if self.process.poll() is None:
            self.process.kill()
        return self.process.communicate(timeout=10)[1][-3000:]

    def stop(self, signum: int) -> int:
        self.process.send_signal(signum)
        self.process.communicate(timeout=30)      # reads its pipes while it exits: a full pipe blocks it
        return self.process.returncode

    def finish(self) -> str:
        out, err = self.process.communicate(timeout=30)
        assert self.process.returncode == 0, err[-3000:]
        return out


def servers_on(data: Path) -> list[int]:
    """The pids of every live redis-server whose command line names ``data``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = next(line for line in (entry / "status").read_text().splitlines() if line.startswith("State:"))
        except (OSError, StopIteration):
            continue
        if "redis-server" in cmdline and str(data) in cmdline and "zombie" not in state:
            pids.append(int(entry.name))
    return pids


def eventually_gone(data: Path, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while servers_on(data):
        assert time.monotonic() < deadline, f"a redis-server still runs on {data}: {servers_on(data)}"
        time.sleep(0.05)


@pytest.mark.parametrize("mode", ["sigterm", "kill9"])
def test_a_restart_loses_nothing(tmp_path: Path, mode: str) -> None:
    data = tmp_path / "data"
    parked = Child("park", data)
    first = parked.line()
    assert first["parked"] == 2 * N and first["owner"] is True
    assert servers_on(data) == [first["pid"]]
    if mode == "sigterm":
        assert parked.stop(signal.SIGTERM) == -signal.SIGTERM
        assert servers_on(data) == []              # stopped before the process died
        assert not (data / "redis.sock").exists() and not (data / "redis.pid").exists()
    else:
        assert parked.stop(signal.SIGKILL) == -signal.SIGKILL
        eventually_gone(data)                      # PDEATHSIG: it went away with its process
    resumer = Child("resume", data)
    out = resumer.line(timeout=90)
    assert resumer.process.wait(30) == 0
    lost = 2 * N - out["fired"] - out["resumed"]
    print(f"\nrestart: mode={mode} versions={out['versions']} timers fired={out['fired']}/{N} "
          f"hooks resumed={out['resumed']}/{N} lost={lost}")
    assert out["versions"] == 1 and out["active"] == "1"
    assert out["due_later"] == N                   # no timer had fired before the restart
    assert out["hooked"] == N and out["fired"] == N and out["resumed"] == N and lost == 0
    assert out["pid"] != first["pid"]
    eventually_gone(data)


def test_two_processes_share_one_server_and_hand_it_over(tmp_path: Path) -> None:
    data = tmp_path / "data"
    a = Child("serve", data)
    first = a.line()
    b = Child("serve", data)
    second = b.line()
    assert first["owner"] is True and second["owner"] is False
    assert first["pid"] == second["pid"] and servers_on(data) == [first["pid"]]
    assert second["n"] == first["n"] + 1
    assert a.stop(signal.SIGTERM) == -signal.SIGTERM       # the starter leaves: its server stops
    b.send()
    after = b.line()                                # b's connection broke: b started it again
    assert after["pid"] != first["pid"] and after["n"] == second["n"] + 1     # from the AOF
    assert servers_on(data) == [after["pid"]]
    c = Child("serve", data)
    assert c.line()["pid"] == after["pid"]          # a third process attaches to b's server
    c.finish()
    b.finish()
    eventually_gone(data)


def test_a_stale_pid_and_socket_of_a_killed_run_are_recovered(tmp_path: Path) -> None:
    data = tmp_path / "data"
    a = Child("serve", data)
    first = a.line()
    time.sleep(1.5)                                 # appendfsync everysec
    os.kill(first["pid"], signal.SIGKILL)           # the server and its process, both kill -9
    assert a.stop(signal.SIGKILL) == -signal.SIGKILL
    eventually_gone(data)
    assert (data / "redis.sock").exists() and (data / "redis.pid").exists()
    assert int((data / "redis.pid").read_text()) == first["pid"]
    b = Child("serve", data)
    second = b.line()
    assert second["owner"] is True and second["n"] == first["n"] + 1
    assert int((data / "redis.pid").read_text()) == second["pid"]
    b.finish()
    eventually_gone(data)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_server(tmp_path: Path, signum: int) -> None:
    data = tmp_path / "data"
    a = Child("serve", data, FOREVER="1")
    assert a.line()["owner"] is True
    code = a.stop(signum)
    assert code in (-signum, 0, 1), code              # SIGINT: KeyboardInterrupt, then atexit
    assert servers_on(data) == []


def test_a_users_sigterm_handler_is_kept(tmp_path: Path) -> None:
    data = tmp_path / "data"
    a = Child("serve", data, USER_HANDLER="1", FOREVER="1")
    assert a.line()["owner"] is True
    a.process.send_signal(signal.SIGTERM)
    out, _ = a.process.communicate(timeout=30)
    assert "user handler" in out and a.process.returncode == 3
    assert servers_on(data) == []                   # stopped at exit


def test_sync_hotmesh_server_outlives_its_loop_thread_and_dies_with_kill_9(tmp_path: Path) -> None:
    data = tmp_path / "data"
    child = Child("sync", data)
    out = child.line()
    assert out["pid"] == out["again"]               # the first loop thread's end did not stop it
    assert servers_on(data) == [out["pid"]]
    assert child.stop(signal.SIGKILL) == -signal.SIGKILL
    eventually_gone(data)
