"""T3b, simulated power loss (reliability.md section 5): the tail of Redis's AOF torn mid-record.

A ``kill -9`` of redis-server loses nothing the kernel already has (T3a); a power loss loses what
was not yet fsynced, the tail of ``appendonlydir/*.incr.aof``. So: jobs run on engine and worker
processes, Redis is SIGKILLed, the incr file is cut K bytes short (mid-record) and Redis restarts on
it while the processes keep running (they reconnect, remembering work Redis has forgotten).
Redis refuses the torn file with ``aof-load-truncated no``; it is then loaded either with
``aof-load-truncated yes`` (the default) or after ``redis-check-aof --fix``.

What must hold: Redis is back at an earlier moment of its history (a cut drops whole transactions
only), so every job is all or nothing: each job hash still there completes exactly once (ledgers
in their single final state, ``:done`` = 1, the child spawned once, the expected data), whether it
was rolled back from done or not; a job that is gone is gone whole (no child left behind); and the
jobs gone are only those accepted after the cut point, the moment the AOF was K bytes shorter
(sampled while the jobs ran), less the postponed-write slack ``AOF_WINDOW`` of T3a. The test
prints accepted, completed, rolled back and lost, and the seconds of writes the cut took.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import subprocess
import time
from pathlib import Path

import pytest
import redis

from hotmesh_core import HotMesh, RedisServer
from hotmesh_core.errors import RedisServerError

from ..conftest import fast_settings
from ..helpers import assert_eventually
from .harness import EXPECTED, FAULT_APP, Fleet, all_done, check
from .test_faults import AOF_WINDOW

JOBS = 800
#: jobs accepted when Redis is killed; ``PACE`` s between two pubs makes that several seconds
#: (more than ``AOF_WINDOW``), so the window check is not vacuous
KILL_AT = 600
PACE = 0.01
#: pubs sent at once by the unpaced producer
BURST = 50


def incr_file(data_dir: Path) -> Path:
    """The AOF file Redis appends to now: the last ``type i`` entry of the manifest."""
    folder = data_dir / "appendonlydir"
    manifest = next(folder.glob("*.manifest")).read_text()
    names = re.findall(r"^file (\S+) seq \d+ type i$", manifest, re.MULTILINE)
    assert names, f"no incr file in the manifest: {manifest!r}"
    return folder / names[-1]


def tear(path: Path, cut: int) -> int:
    """Cut ``path`` to ``cut`` bytes, moved back one byte if that would end on a record boundary
    (a record starts with ``*`` after ``\\r\\n``), so the file always ends mid-record. Returns
    the size kept."""
    data = path.read_bytes()
    if data[cut:cut + 1] == b"*" and data[cut - 2:cut] == b"\r\n":
        cut -= 1
    with path.open("r+b") as handle:
        handle.truncate(cut)
    return cut


def fields(client: redis.Redis, app: str, jids: list[str]) -> dict[str, int]:
    """Fields of each job hash (0: no hash): a job rolled back by the cut has fewer after it."""
    with client.pipeline(transaction=False) as pipe:
        for jid in jids:
            pipe.hlen(f"hmsh:{app}:j:{jid}")
        return dict(zip(jids, pipe.execute(), strict=True))


async def sample_sizes(data_dir: Path, out: list[tuple[float, int]], stop: asyncio.Event) -> None:
    """``(monotonic time, incr file size)`` every 20 ms: where the file was at each moment."""
    while not stop.is_set():
        with contextlib.suppress(OSError, StopIteration, AssertionError):   # not created yet
            out.append((time.monotonic(), incr_file(data_dir).stat().st_size))
        await asyncio.sleep(0.02)


TORN = [pytest.param(10_000, "aof-load-truncated", PACE, id="10KB-load-truncated"),
        pytest.param(100, "redis-check-aof", PACE, id="100B-check-aof-fix", marks=pytest.mark.chaos),
        pytest.param(1 << 20, "aof-load-truncated", PACE, id="1MB-load-truncated", marks=pytest.mark.chaos),
        # unpaced: the processes hold many messages read from Redis before the kill that the torn
        # Redis no longer has; none may be applied after it restarts (seam.FENCE)
        pytest.param(1 << 19, "aof-load-truncated", 0.0, id="512KB-unpaced")]


@pytest.mark.parametrize(("cut", "repair", "pace"), TORN)
async def test_torn_aof_tail(cut: int, repair: str, pace: float, app_id: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "redis"
    server = RedisServer(port=0, data_dir=data_dir, appendonly=True).start()
    fleet = Fleet(server.url, app_id, tmp_path)
    client = redis.Redis.from_url(server.url, decode_responses=True)
    hm = await HotMesh.init(app_id, server.url, engine=False, settings=fast_settings())
    sizes: list[tuple[float, int]] = []
    stop_sampling = asyncio.Event()
    sampler = asyncio.create_task(sample_sizes(data_dir, sizes, stop_sampling))
    try:
        await hm.activate(await hm.deploy(FAULT_APP.replace("{APP}", app_id)))
        fleet.start("engine")
        fleet.start("worker")
        accepted: list[tuple[str, float]] = []
        refused = 0

        async def publish(i: int) -> None:
            nonlocal refused
            try:
                accepted.append((await hm.pub("fault.test", {"id": f"p{i}", "sleep": 1}), time.monotonic()))
            except Exception:               # in flight at the kill, or Redis still down
                refused += 1

        async def produce() -> None:
            # paced: one pub at a time; unpaced (pace 0): bursts of BURST pubs at once, so the
            # engines and workers hold many messages read just before the kill
            burst = 1 if pace else BURST
            for first in range(0, JOBS, burst):
                await asyncio.gather(*(publish(i) for i in range(first, min(first + burst, JOBS))))
                await asyncio.sleep(pace)

        producer = asyncio.create_task(produce())
        await assert_eventually(lambda: len(accepted) >= KILL_AT, timeout=60)
        before = fields(client, app_id, [jid for jid, _ in accepted])
        killed_at = time.monotonic()
        server.kill()
        stop_sampling.set()
        await sampler

        path = incr_file(data_dir)
        size = path.stat().st_size
        assert size > 2 * cut, f"the AOF ({size} B) is too short to cut {cut} B from it"
        kept = tear(path, size - cut)
        cut_at = max((t for t, s in sizes if s <= kept), default=0.0)   # last moment the file was that short

        server.extra_args = ["--aof-load-truncated", "no"]
        with pytest.raises(RedisServerError, match="Unexpected end of file"):
            server.start()
        if repair == "redis-check-aof":
            fixed = subprocess.run(["redis-check-aof", "--fix", str(next(path.parent.glob("*.manifest")))],
                                   input="y\n", capture_output=True, text=True, timeout=60)
            assert fixed.returncode == 0 and "Successfully truncated" in fixed.stdout, fixed.stdout
        else:
            server.extra_args = ["--aof-load-truncated", "yes"]
        server.start()
        if repair == "aof-load-truncated":
            assert "short read while loading the AOF" in (data_dir / "redis.log").read_text()

        await producer
        jids = [jid for jid, _ in accepted]
        after = fields(client, app_id, jids)
        missing = {jid for jid in jids if not after[jid]}
        rolled_back = {jid for jid, count in before.items() if after[jid] < count}
        orphans = [jid for jid in missing if client.exists(f"hmsh:{app_id}:j:{jid}-c")]
        window = {jid for jid, at in accepted if at >= cut_at - AOF_WINDOW}
        alive = [jid for jid, _ in accepted if jid not in missing]
        await assert_eventually(lambda: all_done(client, app_id, alive), timeout=120, interval=0.5)
        report = check(client, app_id, alive, fleet.oracle, EXPECTED)
        print(f"\nT3b torn AOF tail, {cut} B cut ({repair}): accepted={len(accepted)} refused={refused} "
              f"completed={len(alive) - len(report.lost)} rolled_back={len(rolled_back)} lost={len(missing)} "
              f"cut took the last {killed_at - cut_at:.2f} s of writes "
              f"(accepted after the cut point: {sum(cut_at <= at <= killed_at for _, at in accepted)}, "
              f"lost accepted before it: {sum(at < cut_at for jid, at in accepted if jid in missing)}); {report}")
        assert not orphans, f"jobs gone whose child jobs are not: {orphans[:10]}"
        assert missing <= window, f"lost before the cut point: {sorted(missing - window)[:10]}"
        assert not report.lost and not report.dup_engine and not report.wrong_data, str(report)
        await assert_eventually(lambda: check(client, app_id, alive, fleet.oracle).pending_entries == 0,
                                timeout=30)
    finally:
        stop_sampling.set()
        await sampler
        fleet.stop_all()
        await hm.stop()
        client.close()
        server.stop()
