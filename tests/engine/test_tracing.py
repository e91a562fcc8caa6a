"""OpenTelemetry (``hotmesh_core/tracing.py``): one trace per job across an engine process and a
worker process, the metrics both record, and nothing imported while tracing is off."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hotmesh_core import HotMesh, JobError, Worker

from ..conftest import fast_settings
from ..helpers import assert_eventually

pytest.importorskip("opentelemetry.sdk")

from opentelemetry import metrics, trace  # noqa: E402
from opentelemetry.sdk.metrics import MeterProvider  # noqa: E402
from opentelemetry.sdk.metrics.export import InMemoryMetricReader  # noqa: E402
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

APP = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: otel.job
      activities:
        t1: { type: trigger }
        a1:
          type: worker
          topic: otel.one
          input: { maps: { x: '{t1.output.data.x}' } }
        a2:
          type: worker
          topic: otel.two
          input: { maps: { y: '{a1.output.data.y}' } }
      transitions:
        t1: [{ to: a1 }]
        a1: [{ to: a2 }]
"""

#: The worker process: both workers, tracing on, its spans and metrics written as JSON lines.
CHILD = textwrap.dedent('''
    import asyncio, json, sys
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    out = open(sys.argv[3], "a")

    class Lines(SpanExporter):
        def export(self, spans):
            for s in spans:
                c, p = s.get_span_context(), s.parent
                out.write(json.dumps({"kind": "span", "name": s.name, "trace": f"{c.trace_id:032x}",
                    "span": f"{c.span_id:016x}", "parent": f"{p.span_id:016x}" if p else None,
                    "status": s.status.status_code.name, "description": s.status.description,
                    "attributes": dict(s.attributes or {})}) + "\\n")
            out.flush()
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(Lines()))
    trace.set_tracer_provider(provider)
    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))

    from hotmesh_core import HotMesh, Settings, Worker

    async def one(message):
        return {"y": message.data["x"] + 1}

    async def two(message):
        if message.data["y"] < 0:
            raise ValueError("negative y")
        return {"z": message.data["y"] * 10}

    async def main():
        settings = Settings(block_time_ms=500, reclaim_delay_ms=1500, reclaim_interval_ms=300,
                            quorum_delay_ms=30, tracing=True)
        hm = await HotMesh.init(sys.argv[2], sys.argv[1], engine=False, settings=settings,
                                workers=[Worker("otel.one", one), Worker("otel.two", two)])
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await hm.stop()
        for rm in reader.get_metrics_data().resource_metrics:
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    for p in m.data.data_points:
                        out.write(json.dumps({"kind": "metric", "name": m.name,
                            "attributes": dict(p.attributes or {}),
                            "value": getattr(p, "value", None), "count": getattr(p, "count", None)}) + "\\n")
        out.close()

    asyncio.run(main())
''')


@pytest.fixture(scope="module")
def otel() -> Iterator[tuple[InMemorySpanExporter, InMemoryMetricReader]]:
    """The test process's providers (set once: OpenTelemetry's globals cannot be replaced)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    yield exporter, reader


def span_dict(s: ReadableSpan) -> dict[str, Any]:
    c, p = s.get_span_context(), s.parent
    assert c is not None
    return {"kind": "span", "name": s.name, "trace": f"{c.trace_id:032x}", "span": f"{c.span_id:016x}",
            "parent": f"{p.span_id:016x}" if p else None, "status": s.status.status_code.name,
            "description": s.status.description, "attributes": dict(s.attributes or {})}


def points(reader: InMemoryMetricReader) -> list[dict[str, Any]]:
    data = reader.get_metrics_data()
    out = []
    for rm in data.resource_metrics if data else []:
        for sm in rm.scope_metrics:
            for m in sm.metrics:
                for p in m.data.data_points:
                    out.append({"name": m.name, "attributes": dict(p.attributes or {}),
                                "value": getattr(p, "value", None), "count": getattr(p, "count", None)})
    return out


def tree(spans: list[dict[str, Any]], root: dict[str, Any]) -> list[str]:
    """The span tree under ``root`` as indented names (children sorted by name)."""
    lines: list[str] = []

    def walk(node: dict[str, Any], depth: int) -> None:
        lines.append("  " * depth + node["name"])
        for child in sorted((s for s in spans if s["parent"] == node["span"]), key=lambda s: s["name"]):
            walk(child, depth + 1)

    walk(root, 0)
    return lines


async def test_one_trace_across_an_engine_and_a_worker_process(
        otel: tuple[InMemorySpanExporter, InMemoryMetricReader], redis_url: str, app_id: str,
        tmp_path: Path) -> None:
    exporter, reader = otel
    exporter.clear()
    lines = tmp_path / "child.jsonl"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, str(script), redis_url, app_id, str(lines)], env=env,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    hm = await HotMesh.init(app_id, redis_url, settings=fast_settings(tracing=True))
    try:
        assert child.stdout is not None and child.stdin is not None
        ready = await asyncio.to_thread(child.stdout.readline)
        assert ready.strip() == "ready"
        await hm.activate(await hm.deploy(APP.replace("{APP}", app_id)))
        job = await hm.pubsub("otel.job", {"x": 1}, timeout=15)
        jid = job["metadata"]["jid"]
        with pytest.raises(JobError):
            await hm.pubsub("otel.job", {"x": -5}, timeout=15)
        trc = job["metadata"]["trc"]
        assert len(trc) == 32 and trc != "0" * 32 and len(job["metadata"]["spn"]) == 16

        def local_done() -> list[dict[str, Any]]:
            spans = [span_dict(s) for s in exporter.get_finished_spans()]
            assert sum(s["name"] == "job otel.job" for s in spans) == 2
            return spans

        local = await assert_eventually(local_done)
    finally:
        await hm.stop()
        if child.stdin is not None:
            child.stdin.close()
        await asyncio.to_thread(child.wait, 30)
    remote = [json.loads(line) for line in lines.read_text().splitlines()]
    spans = local + [r for r in remote if r["kind"] == "span"]

    # one job: every span in its trace, each under the right parent
    mine = [s for s in spans if s["trace"] == trc]
    root = next(s for s in mine if s["name"] == "job otel.job")
    assert root["parent"] is None and root["span"] == job["metadata"]["spn"]
    assert root["attributes"]["hotmesh.job.id"] == jid
    assert tree(mine, root) == [
        "job otel.job",
        "  step a1 2",
        "    worker otel.two",
        "  step a2 2",
        "  step t1 trigger",
        "    worker otel.one",
    ]
    assert len(mine) == 6, [s["name"] for s in mine]
    by_name = {s["name"]: s for s in mine}
    assert by_name["worker otel.one"] in remote and by_name["worker otel.two"] in remote
    step = by_name["step a2 2"]["attributes"]
    assert step["hotmesh.app"] == app_id and step["hotmesh.job.id"] == jid
    assert step["hotmesh.activity.id"] == "a2" and step["hotmesh.activity.type"] == "worker"
    assert step["hotmesh.activity.dad"] == ",0,0,0" and step["hotmesh.status"] == "success"
    assert step["hotmesh.code"] == 200 and step["hotmesh.engine.guid"] == hm.guid
    assert all(s["status"] == "UNSET" for s in mine)

    # the failed job: the callback's error on its worker span, the step that took it and the job
    failed = [s for s in spans if s["trace"] != trc and s["name"] in ("worker otel.two", "step a2 2", "job otel.job")]
    assert {s["name"] for s in failed} == {"worker otel.two", "step a2 2", "job otel.job"}
    assert all(s["status"] == "ERROR" and "negative y" in (s["description"] or "") for s in failed), failed
    assert len({s["trace"] for s in spans}) == 2

    # metrics: the engine's steps and jobs here, the callbacks' latencies in the worker process
    got = points(reader)

    def value(name: str, **attrs: Any) -> Any:
        found = [p for p in got if p["name"] == name and p["attributes"].get("hotmesh.app") == app_id
                 and all(p["attributes"].get(k) == v for k, v in attrs.items())]
        return sum((p["value"] if p["value"] is not None else p["count"]) for p in found)

    assert value("hotmesh.jobs.started", **{"hotmesh.topic": "otel.job"}) == 2
    assert value("hotmesh.jobs.completed") == 1 and value("hotmesh.jobs.failed") == 1
    assert value("hotmesh.steps", outcome="ok", **{"hotmesh.activity.type": "trigger"}) == 2
    assert value("hotmesh.steps", outcome="ok", **{"hotmesh.activity.type": "worker"}) == 3
    assert value("hotmesh.steps", outcome="failed", **{"hotmesh.activity.type": "worker"}) == 1
    assert value("hotmesh.step.duration") == 6
    worker_points = [p for p in remote if p["kind"] == "metric" and p["attributes"].get("hotmesh.app") == app_id]
    durations = {(p["attributes"]["hotmesh.topic"], p["attributes"]["hotmesh.status"]): p["count"]
                 for p in worker_points if p["name"] == "hotmesh.worker.duration"}
    assert durations == {("otel.one", "success"): 2, ("otel.two", "success"): 1, ("otel.two", "error"): 1}
    assert any(p["name"] == "hotmesh.timers.pending" and p["attributes"].get("hotmesh.app") == app_id
               for p in got)


def test_tracing_off_imports_no_opentelemetry(redis_url: str, app_id: str) -> None:
    """``import hotmesh_core`` and a whole job (engine, worker, pubsub) with tracing off."""
    code = textwrap.dedent(f'''
        import asyncio, sys
        import hotmesh_core
        from hotmesh_core import HotMesh, Settings, Worker

        async def main():
            async def work(message):
                return {{"y": 1}}
            hm = await HotMesh.init({app_id!r}, {redis_url!r}, workers=[Worker("otel.one", work)],
                                    settings=Settings(quorum_delay_ms=30, block_time_ms=500))
            await hm.activate(await hm.deploy({APP.replace("{APP}", app_id).replace("otel.two", "otel.one")!r}))
            await hm.pubsub("otel.job", {{"x": 1}}, timeout=15)
            await hm.stop()
        asyncio.run(main())
        found = sorted(m for m in sys.modules if m.split(".")[0] == "opentelemetry")
        print("OTEL", found)
    ''')
    env = {k: v for k, v in os.environ.items() if k != "HMSH_TRACING"}
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "OTEL []" in out.stdout, out.stdout


async def test_a_redelivered_step_is_marked_and_counted(
        otel: tuple[InMemorySpanExporter, InMemoryMetricReader], app_id: str) -> None:
    """What ``Router`` sets for a reclaimed message (``DELIVERIES``) shows on the step's span and
    in ``hotmesh.redeliveries``; a step that raises has status ERROR with its message."""
    from hotmesh_core.tracing import DELIVERIES, new_span_id, new_trace_id, start

    exporter, reader = otel
    exporter.clear()

    async def read(jid: str, fields: list[str]) -> list[str | None]:
        return [None] * len(fields)

    telemetry = start(app_id, "g1", read)
    trc, spn = new_trace_id(), new_span_id()
    message = {"type": "transition", "metadata": {"jid": "j1", "aid": "a1", "dad": ",0", "trc": trc, "spn": spn}}

    async def boom() -> None:
        raise RuntimeError("step broke")

    async def redelivered() -> None:
        DELIVERIES.set(3)
        with pytest.raises(RuntimeError):
            await telemetry.step(message, "transition", "worker", boom)

    await asyncio.create_task(redelivered())
    (span,) = [span_dict(s) for s in exporter.get_finished_spans()]
    assert span["name"] == "step a1 1" and span["trace"] == trc and span["parent"] == spn
    assert span["attributes"]["hotmesh.deliveries"] == 3
    assert span["status"] == "ERROR" and span["description"] == "step broke"
    (event,) = exporter.get_finished_spans()[0].events
    assert event.name == "redelivered" and dict(event.attributes or {}) == {"hotmesh.deliveries": 3}
    got = [p for p in points(reader) if p["attributes"].get("hotmesh.app") == app_id]
    assert [p["value"] for p in got if p["name"] == "hotmesh.redeliveries"] == [1]
    assert [p["value"] for p in got if p["name"] == "hotmesh.steps"
            and p["attributes"]["outcome"] == "error"] == [1]


HOOKS = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: otel.wait
      activities:
        t1: { type: trigger }
        s1: { type: hook, sleep: 1 }
        h1: { type: hook }
        a1: { type: worker, topic: otel.after, input: { maps: { x: 1 } } }
      transitions:
        t1: [{ to: s1 }]
        s1: [{ to: h1 }]
        h1: [{ to: a1 }]
      hooks:
        otel.resume:
          - to: h1
            conditions:
              match:
                - expected: '{$job.metadata.jid}'
                  actual: '{$self.hook.data.id}'
"""


async def test_steps_after_a_timer_and_a_web_hook_stay_in_the_job_trace(
        otel: tuple[InMemorySpanExporter, InMemoryMetricReader], redis_url: str, app_id: str) -> None:
    """A due timer and a web hook's signal are minted without the job's context: their steps read
    it from the job, so every step of the job is one trace."""
    exporter, _ = otel
    exporter.clear()

    async def after(message: Any) -> dict[str, Any]:
        return {"done": True}

    hm = await HotMesh.init(app_id, redis_url, workers=[Worker("otel.after", after)],
                            settings=fast_settings(tracing=True))
    try:
        await hm.activate(await hm.deploy(HOOKS.replace("{APP}", app_id)))
        jid = await hm.pub("otel.wait", {})
        await assert_eventually(lambda: hm.hook("otel.resume", {"id": jid}), timeout=10)
        async def finished() -> bool:
            return await hm.get_status(jid) == 0

        await assert_eventually(finished, timeout=10)
        await asyncio.sleep(0.2)
    finally:
        await hm.stop()
    spans = [span_dict(s) for s in exporter.get_finished_spans()
             if dict(s.attributes or {}).get("hotmesh.job.id") == jid or s.name.startswith("worker")]
    names = sorted(s["name"] for s in spans)
    assert "step s1 2" in names and "step h1 2" in names and "worker otel.after" in names, names
    assert len({s["trace"] for s in spans}) == 1, spans
