"""Studio benchmark: a graph of 200 activities, a runs list of 5,000 jobs, the overview's refresh
at 1,000 and 100,000 jobs, runs search at 100,000 jobs and live colouring of 200 activities (times
printed, no assertions).
``python bench/studio_bench.py [--redis-url URL] [--no-browser] [--only overview|search|colour]``

Search: 100,000 job hashes written like the overview's, with a varied input and job data; the
run index's build (``RunIndex.load``: list + fields in pipelines of 1,000), each keystroke of a few
queries typed one character at a time (parse, filter in memory, hand the page to the Tabulator:
``RunsTable.set_query``), reading one output field of every candidate, and a live update.

Colour: a job of the 200-activity graph, its events applied in batches as the page's 200 ms tick
does (``JobState.apply``, ``GraphView.set_statuses``, ``Timeline.update``: ``JobView._render``'s work).

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
from studio.query import parse  # noqa: E402
from studio.run_index import RunIndex  # noqa: E402
from studio.runs import RunsTable, filter_rows  # noqa: E402
from studio.status import JobState  # noqa: E402
from studio.timeline import Timeline  # noqa: E402

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


SEARCH_JOBS = 100_000


def percentiles(label: str, times: list[float]) -> None:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    print(f"  {label:<52} p50 {statistics.median(ordered):7.1f} ms   p95 {p95:7.1f} ms   "
          f"max {ordered[-1]:7.1f} ms   (n={len(ordered)})")


async def write_search_jobs(hm: HotMesh, count: int) -> None:
    """Jobs of ``ov.go`` in the layout of ``store.py``: 1 in 10 running, 1 in 50 failed, inputs
    ``{"customer": n % 1000, "name": ..., "tier": ...}`` and job data ``d/total``."""
    now = int(time.time() * 1000)
    for start in range(0, count, 5000):
        commands = []
        for n in range(start, min(count, start + 5000)):
            created = now - (count - n) * 50
            stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(created / 1000)) + f".{created % 1000:03d}"
            fields = [JobFields.SEMAPHORE, "1" if n % 10 == 0 else "0", JobFields.meta("jid"), f"sr-{n:06d}",
                      JobFields.meta("tpc"), "ov.go", JobFields.meta("vrs"), "1", JobFields.meta("jc"), stamp,
                      JobFields.meta("ju"), stamp, JobFields.data("total"), f"/d{n % 997}",
                      JobFields.output("t", ",0"), json.dumps({"customer": n % 1000, "name": f"customer {n}",
                                                               "tier": ["gold", "silver", "bronze"][n % 3]})]
            if n % 50 == 7:
                fields += [JobFields.meta("err"), json.dumps({"message": "boom", "code": 500})]
            commands.append(["HSET", hm.keys.job(f"sr-{n:06d}"), *fields])
        await hm.redis.pipeline(commands)


async def search_bench(url: str) -> None:
    print(f"runs search at {SEARCH_JOBS:,} jobs")
    hm = await HotMesh.init("studio-search", url, engine=False)
    try:
        await hm.activate(await hm.deploy(OVERVIEW_YAML.replace("id: studio-overview", "id: studio-search")))
        started = time.perf_counter()
        await write_search_jobs(hm, SEARCH_JOBS)
        print(f"  jobs written in {time.perf_counter() - started:.1f} s")
        index = RunIndex(hm)
        ticks = [0]
        index._progressed = lambda done, total: ticks.__setitem__(0, ticks[0] + 1)  # type: ignore[method-assign]
        started = time.perf_counter()
        await index.load()
        print(f"  {'index build (list_jobs + job_fields, 1,000 a pipeline)':<52} {index.load_seconds * 1000:8.1f} ms"
              f"   rows {len(index.frame):,}, progress updates {ticks[0]}")
        table = RunsTable(hm, index=index)
        await table.load(refresh=False)
        timed("apply_filters, no query (100,000 rows to the table)", table.apply_filters)
        for query in ("data.customer = 42", "status:failed data.tier = gold", "data.name contains 12345",
                      "since:1h version:1 data.customer > 990", "sr-0999"):
            times = []
            for end in range(1, len(query) + 1):
                begin = time.perf_counter()
                table.set_query(query[:end])
                times.append((time.perf_counter() - begin) * 1000)
            percentiles(f"typing '{query}'", times)
            print(f"    last keystroke: {table.count.object}")
        table.set_query("")
        repeat = [(time.perf_counter(), parse("data.customer = 42"))]
        times = []
        for _ in range(20):
            begin = time.perf_counter()
            index.match(repeat[0][1])
            times.append((time.perf_counter() - begin) * 1000)
        percentiles("RunIndex.match 'data.customer = 42' (columns cached)", times)
        query = parse("output.total > 990")
        missing = index.missing(query)
        begin = time.perf_counter()
        await index.read_outputs([c.path for c in query.output_fields], missing)
        print(f"  {f'read output.total of {len(missing):,} candidates':<52} "
              f"{(time.perf_counter() - begin) * 1000:8.1f} ms   matches {int(index.match(query).sum()):,}")
        query = parse("status:failed output.total > 500")
        index.outputs.clear()
        missing = index.missing(query)
        begin = time.perf_counter()
        await index.read_outputs([c.path for c in query.output_fields], missing)
        print(f"  {f'read output.total of {len(missing):,} failed runs':<52} "
              f"{(time.perf_counter() - begin) * 1000:8.1f} ms   matches {int(index.match(query).sum()):,}")
        events = [{"jid": f"sr-{n:06d}", "atp": "worker", "status": "done", "finished": 1, "ts": 1}
                  for n in range(0, 100, 10)]

        async def live() -> int:
            for event in events:
                index.push(event)
            return await index.sync()

        await atimed("live update of 10 jobs (sync + upsert)", live, repeat=5)
        table.set_query("data.customer < 500")

        async def live_table() -> int:       # as the page's tick: the hub pushed, the table syncs
            for event in events:
                index.push(event)
            return await table.apply_events([])

        await atimed("live update of 10 jobs + re-filter (query set)", live_table, repeat=5)
    finally:
        for start in range(0, SEARCH_JOBS, 10_000):
            await hm.redis.call("DEL", *[hm.keys.job(f"sr-{n:06d}") for n in range(start, start + 10_000)])
        await hm.stop()


def colour_bench() -> GraphView:
    print(f"live colouring of {ACTIVITIES} activities (per event batch: apply, patch the graph, timeline)")
    app = compile_app(load_manifest(big_manifest()))
    model = graph_models(app)[0]
    aids = [n.id for n in model.nodes]
    view = GraphView(name="colour")
    started = time.perf_counter()
    view.show(model)
    print(f"  {'GraphView.show (layout + sources)':<52} {(time.perf_counter() - started) * 1000:8.1f} ms")
    timeline = Timeline()
    for size in (1, 10, 50):
        state = JobState("colour-job")
        times = []
        ts = 1_000
        for start in range(0, len(aids), size):
            batch = []
            for aid in aids[start:start + size]:
                ts += 5
                batch += [{"jid": "colour-job", "aid": aid, "dad": ",0", "atp": "worker", "status": "running",
                           "ts": ts}, {"jid": "colour-job", "aid": aid, "dad": ",0", "atp": "worker",
                                       "status": "done", "ts": ts + 3}]
            begin = time.perf_counter()
            if state.apply(batch):
                view.set_statuses(state.statuses(aids))
                timeline.update(state.timeline())
            times.append((time.perf_counter() - begin) * 1000)
        percentiles(f"batch of {size} activities ({2 * size} events)", times)
    return view


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
                               f"Bokeh.index.find_one(Bokeh.documents[0].get_model_by_name('{view.name}-plot'))")
        print(f"  {'load and first render':<52} {(time.perf_counter() - start) * 1000:8.1f} ms")
        patch_ms = page.evaluate("""async (name) => {
            const doc = Bokeh.documents[0];
            const src = doc.get_model_by_name(name);
            const times = [];
            for (let k = 0; k < 10; k++) {
              const t0 = performance.now();
              src.patch({fill: [[k, k % 2 ? '#fcd34d' : '#86efac']], status: [[k, 'running']]});
              await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
              times.push(performance.now() - t0);
            }
            times.sort((a, b) => a - b);
            return times[5];
        }""", f"{view.name}-nodes")
        print(f"  {'status patch to next painted frame (median)':<52} {patch_ms:8.1f} ms")
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis-url")
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--only", choices=["overview", "search", "colour"], help="run one part only")
    args = parser.parse_args()
    if args.only == "colour":
        colour_view = colour_bench()
        if not args.no_browser:
            browser_bench(colour_view)
        return
    view = None if args.only else graph_bench()[1]
    server = None
    url = args.redis_url
    if not url:
        server = start_redis()
        url = server.url
    try:
        if not args.only:
            asyncio.run(runs_bench(url))
        if args.only in (None, "overview"):
            asyncio.run(overview_bench(url))
        if args.only in (None, "search"):
            asyncio.run(search_bench(url))
    finally:
        if server:
            server.stop()
    if view is not None and not args.no_browser:
        browser_bench(view)      # Playwright's sync API runs outside asyncio.run
    if not args.only:
        colour_bench()


if __name__ == "__main__":
    main()
