"""Studio benchmark: a graph of 200 activities, a runs list of 5,000 jobs and the overview's refresh
at 1,000 and 100,000 jobs (times printed, no assertions).
``python bench/studio_bench.py [--redis-url URL] [--no-browser] [--only overview]``

Overview: the Redis commands one refresh sends (counted on the studio's own connection) and its
time, with the jobs' hashes written directly in the layout of ``store.py`` by pipelines (100,000
in a few seconds; running them through an engine would take minutes and change nothing the
refresh reads: it reads no job).

Server side: compile, lay out (dot and networkx), build the Bokeh sources, colour a live job
(one event, then a whole batch), load/filter/update the runs table from Redis. Browser side (when
Debian's chromium and playwright are installed): time to render the 200-node page and to apply
a status patch, measured in the page.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
logging.getLogger("bokeh.embed.util").setLevel(logging.ERROR)   # the page is static on purpose
sys.path.insert(0, str(ROOT))

from common import start_redis  # noqa: E402  (bench/common.py)

from hotmesh_core import HotMesh  # noqa: E402
from hotmesh_core.compiler import compile_app, load_manifest  # noqa: E402
from hotmesh_core.keys import JobFields  # noqa: E402
from studio.graph import GraphView  # noqa: E402
from studio.layout import dot_available  # noqa: E402
from studio.model import graph_models  # noqa: E402
from studio.overview import OverviewView  # noqa: E402
from studio.overview_stats import OverviewStats  # noqa: E402
from studio.runs import RunsTable, filter_rows  # noqa: E402
from studio.status import JobState  # noqa: E402

ACTIVITIES = 200
JOBS = 5000


def big_manifest(count: int = ACTIVITIES) -> str:
    """A trigger and four branches of workers (graphs are trees), ``count`` activities in all;
    every fifth worker also has a conditional side step, so edges carry labels."""
    lines = ["app:", "  id: bench", "  version: '1'", "  graphs:", "    - subscribes: bench.go",
             "      activities:", "        a0: { type: trigger }"]
    children: dict[str, list[tuple[str, str]]] = {"a0": []}
    tips = []
    made = 1
    for branch in range(4):
        aid = f"b{branch}x0"
        children["a0"].append((aid, ""))
        tips.append(aid)
        lines.append(f"        {aid}: {{ type: worker, topic: bench.work }}")
        made += 1
    step = 1
    while made < count:
        for branch in range(4):
            if made >= count:
                break
            parent = tips[branch]
            aid = f"b{branch}x{step}"
            lines.append(f"        {aid}: {{ type: worker, topic: bench.work }}")
            children.setdefault(parent, []).append((aid, ""))
            tips[branch] = aid
            made += 1
            if step % 5 == 0 and made < count:
                side = f"b{branch}s{step}"
                lines.append(f"        {side}: {{ type: hook }}")
                children[parent].append((side, "{$self.output.data.retry}"))
                made += 1
        step += 1
    lines.append("      transitions:")
    for parent, targets in children.items():
        lines.append(f"        {parent}:")
        for target, condition in targets:
            lines.append(f"          - to: {target}")
            if condition:
                lines += ["            conditions:", "              match:",
                          f"                - expected: true\n                  actual: '{condition}'"]
    return "\n".join(lines) + "\n"


def timed(label: str, fn: Callable[[], Any], repeat: int = 5) -> Any:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
    print(f"  {label:<52} median {statistics.median(times):8.1f} ms   (min {min(times):.1f})")
    return result


async def atimed(label: str, fn: Callable[[], Any], repeat: int = 3) -> Any:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = await fn()
        times.append((time.perf_counter() - start) * 1000)
    print(f"  {label:<52} median {statistics.median(times):8.1f} ms   (min {min(times):.1f})")
    return result


def graph_bench() -> tuple[Any, GraphView]:
    print(f"graph of {ACTIVITIES} activities")
    text = big_manifest()
    app = timed("compile the YAML", lambda: compile_app(load_manifest(text)))
    model = graph_models(app)[0]
    if dot_available():
        timed("layout with dot (uncached)", lambda: _uncached(model, "dot"), repeat=3)
    timed("layout with networkx (uncached)", lambda: _uncached(model, "networkx"))
    view = GraphView(name="bench")
    timed("GraphView.show (sources built, laid out once)", lambda: (view.clear(), view.show(model)))
    aids = [n.id for n in model.nodes]
    state = JobState("bench-job")
    events = [{"jid": "bench-job", "aid": aid, "dad": ",0", "atp": "worker", "status": "done", "ts": 1000 + i,
               "js": 1, "finished": 0} for i, aid in enumerate(aids)]
    timed(f"JobState.apply ({len(events)} events)", lambda: state.apply(events))
    view.set_statuses({})
    flip = [False]

    def one_change() -> int:
        flip[0] = not flip[0]
        return view.set_statuses({aids[7]: ("running" if flip[0] else "done", 1)})

    timed("set_statuses, one node changed (patch)", one_change, repeat=20)
    timed("set_statuses, all nodes changed (patch)", lambda: (view.set_statuses({}),
                                                              view.set_statuses(state.statuses(aids))))
    return model, view


def _uncached(model: Any, engine: str) -> Any:
    from studio.layout import dot_layout, layered_layout

    return dot_layout(model, "LR") if engine == "dot" else layered_layout(model, "LR")


async def runs_bench(url: str) -> None:
    print(f"runs list of {JOBS} jobs")
    hm = await HotMesh.init("studio-bench", url, engine=False)
    try:
        version = await hm.deploy(big_manifest(8).replace("id: bench", "id: studio-bench"))
        await hm.activate(version)
        now = int(time.time() * 1000)
        commands: list[list[str]] = []
        for n in range(JOBS):
            jid = f"job-{n:05d}"
            created = now - (JOBS - n) * 1000
            stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(created / 1000)) + f".{created % 1000:03d}"
            fields = {
                JobFields.SEMAPHORE: "0" if n % 10 else "1", JobFields.meta("tpc"): "bench.go",
                JobFields.meta("jid"): jid,
                JobFields.meta("vrs"): "1", JobFields.meta("jc"): stamp, JobFields.meta("ju"): stamp,
                JobFields.activity("a0", ",0"): json.dumps({"ac": stamp, "au": stamp}),
                JobFields.output("a0", ",0"): json.dumps({"n": n})}
            commands.append(["HSET", hm.keys.job(jid), *[x for kv in fields.items() for x in kv]])
        await hm.redis.pipeline(commands)
        table = RunsTable(hm, limit=JOBS)
        await atimed("RunsTable.load (list + HMGET + frame + filter)", table.load)
        print(f"    rows loaded: {len(table.frame)}")
        timed("filter by status", lambda: filter_rows(table.frame, status="running"))
        timed("filter by input text", lambda: filter_rows(table.frame, text='"n": 4999'))
        timed("apply_filters (to the Tabulator, one page shown)", table.apply_filters)
        events = [{"jid": f"job-{n:05d}", "atp": "worker", "status": "done", "finished": 1, "ts": now}
                  for n in range(0, 100, 10)]
        await atimed("apply_events (10 jobs finished)", lambda: table.apply_events(events))
    finally:
        await hm.redis.call("DEL", *[hm.keys.job(f"job-{n:05d}") for n in range(JOBS)])
        await hm.stop()


OVERVIEW_YAML = """
app:
  id: studio-overview
  version: '1'
  graphs:
    - subscribes: ov.go
      activities:
        t: { type: trigger }
        work: { type: worker, topic: ov.work }
      transitions:
        t: [ { to: work } ]
"""


def count_commands(hm: HotMesh) -> dict[str, int]:
    """Tally every command ``hm`` sends (the connection stays the real one)."""
    tally = {"commands": 0}
    redis: Any = hm.redis
    call, pipeline = redis.call, redis.pipeline

    async def counted_call(*args: Any) -> Any:
        tally["commands"] += 1
        return await call(*args)

    async def counted_pipeline(commands: Any) -> Any:
        tally["commands"] += len(commands)
        return await pipeline(commands)

    redis.call, redis.pipeline = counted_call, counted_pipeline
    return tally


async def overview_bench(url: str) -> None:
    from hotmesh_core import Worker

    print("overview refresh (Redis commands and time per refresh)")
    engine = await HotMesh.init("studio-overview", url, engine=True, workers=[Worker("ov.work", lambda m: {})])
    studio = await HotMesh.init("studio-overview", url, engine=False)
    written = 0
    try:
        await engine.activate(await engine.deploy(OVERVIEW_YAML))
        await engine.pubsub("ov.go", {}, timeout=10)
        view = OverviewView(studio, OverviewStats())
        view.set_app(await studio.compiled("1"))
        tally = count_commands(studio)
        stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime()) + ".000"
        for jobs in (1000, 100_000):
            started = time.perf_counter()
            while written < jobs:
                batch = range(written, min(jobs, written + 5000))
                await engine.redis.pipeline([
                    ["HSET", engine.keys.job(f"ov-{n:06d}"), JobFields.SEMAPHORE, "0", JobFields.meta("jid"),
                     f"ov-{n:06d}", JobFields.meta("tpc"), "ov.go", JobFields.meta("jc"), stamp,
                     JobFields.meta("ju"), stamp, JobFields.output("t", ",0"), json.dumps({"n": n})]
                    for n in batch])
                written = batch[-1] + 1
            dbsize = await engine.redis.call("DBSIZE")
            print(f"  {jobs:>7,} jobs (written in {time.perf_counter() - started:.1f} s, DBSIZE {dbsize:,})")
            tally["commands"] = 0
            await atimed("queue_report (one pipeline)", lambda: studio.queue_report(["ov.work"]), repeat=20)
            print(f"    commands per queue_report: {tally['commands'] // 20}")
            tally["commands"] = 0
            await atimed("refresh (queue_report + roll call, 0.25 s wait)", view.refresh, repeat=5)
            print(f"    commands per refresh: {tally['commands'] // 5}   members: {len(view.fleet.value)}")
            timed("redraw (charts and tables from the counters)", view.redraw, repeat=5)
    finally:
        for start in range(0, written, 10_000):
            await engine.redis.call("DEL", *[engine.keys.job(f"ov-{n:06d}")
                                             for n in range(start, min(written, start + 10_000))])
        await studio.stop()
        await engine.stop()


def browser_bench(view: GraphView) -> None:
    chromium = Path("/usr/bin/chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("browser: playwright not installed, skipped")
        return
    if not chromium.exists():
        print("browser: /usr/bin/chromium not found, skipped")
        return
    from bokeh.embed import file_html
    from bokeh.resources import INLINE

    print(f"browser (chromium): page with {ACTIVITIES} activities")
    view.figure.height, view.figure.width, view.figure.sizing_mode = 800, 1400, "fixed"
    page_file = Path(tempfile.mkdtemp()) / "graph.html"
    page_file.write_text(file_html(view.figure, INLINE, "bench"))
    args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=args)
        page = browser.new_page(viewport={"width": 1500, "height": 900})
        start = time.perf_counter()
        page.goto(page_file.as_uri())
        page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0 && "
                               "Bokeh.index.find_one(Bokeh.documents[0].get_model_by_name('bench-plot'))")
        print(f"  {'load and first render':<52} {(time.perf_counter() - start) * 1000:8.1f} ms")
        patch_ms = page.evaluate("""async () => {
            const doc = Bokeh.documents[0];
            const src = doc.get_model_by_name('bench-nodes');
            const times = [];
            for (let k = 0; k < 10; k++) {
              const t0 = performance.now();
              src.patch({fill: [[k, k % 2 ? '#fcd34d' : '#86efac']], status: [[k, 'running']]});
              await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
              times.push(performance.now() - t0);
            }
            times.sort((a, b) => a - b);
            return times[5];
        }""")
        print(f"  {'status patch to next painted frame (median)':<52} {patch_ms:8.1f} ms")
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis-url")
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--only", choices=["overview"], help="run one part only")
    args = parser.parse_args()
    view = None if args.only else graph_bench()[1]
    server = None
    url = args.redis_url
    if not url:
        server = start_redis()
        url = server.url
    try:
        if not args.only:
            asyncio.run(runs_bench(url))
        asyncio.run(overview_bench(url))
    finally:
        if server:
            server.stop()
    if view is not None and not args.no_browser:
        browser_bench(view)      # Playwright's sync API runs outside asyncio.run


if __name__ == "__main__":
    main()
