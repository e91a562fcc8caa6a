"""OpenTelemetry traces and metrics (the ``[otel]`` extra); off unless ``Settings.tracing``.

This is the only module that imports ``opentelemetry``, and only inside ``Telemetry`` (built by
``start``): with tracing off the hot path pays one ``is None`` test per step and per callback.

How a job's spans from many processes form one trace (the reference's ``trc``/``spn`` fields):

- the trigger step picks the job's trace id and span id and stores them in the job metadata
  (``m/trc``, ``m/spn``; ``m/tps`` the job span's own parent when there is one: the caller's
  current span or the awaiting step of a parent job; ``m/ps`` a child job's parent job span);
- every stream message of the job carries them in its metadata (``trc``, ``spn``); a message to a
  worker or a child job also carries ``l1s``, the span id of the step that sent it;
- each step is a span ``step <aid> <leg>`` whose parent is the message's ``trc``/``spn`` (the job);
  each callback a span ``worker <topic>`` whose parent is ``l1s`` (the dispatching step);
- the job span ``job <topic>`` is recorded by the process whose step completes the job, from the
  job's creation time, with the ids stored at the trigger (``_ForcedIds``: the SDK's id generator
  hands out those ids for that one span). A job that never completes has no job span.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.metrics import CallbackOptions, Observation
    from opentelemetry.trace import Span

log = logging.getLogger("hotmesh.tracing")

ZERO_SPAN = "0" * 16
ZERO_TRACE = "0" * 32

#: how often (seconds) the pending-timers gauge reads ``ZCARD`` of the timers key
TIMER_SAMPLE_SECONDS = 5.0

#: the delivery count of the message being handled (set by ``Router`` for a reclaimed message)
DELIVERIES: ContextVar[int] = ContextVar("hotmesh_deliveries", default=1)

#: the job step running in this task (set while a traced step builds its messages)
_STEP: ContextVar[Step | None] = ContextVar("hotmesh_step", default=None)

#: ``(trace id, span id)`` the id generator hands out next (the job span, see ``_ForcedIds``)
_FORCE: ContextVar[tuple[int, int] | None] = ContextVar("hotmesh_force_ids", default=None)

#: message type -> the leg a step of it runs
LEGS = {"transition": "1", "complete": "completion", "interrupt": "interrupt"}

#: job metadata read when a step completes a job (to record the job span and count the outcome)
JOB_FIELDS = ("m/tpc", "m/trc", "m/spn", "m/tps", "m/jc", "m/err")


@dataclass(slots=True)
class Step:
    """One traced step: the job context its messages carry and what its commits reported."""

    jid: str
    trc: str
    job_span: str
    span_id: str
    span: Span | None = None
    committed: bool = False
    finished: bool = False
    failed: bool = False


def stamp(meta: dict[str, Any], jid: str, work: bool) -> None:
    """Called by ``messages.metadata`` for a message of a traced job: put the job's span id (and,
    on work for a worker or a child job, the sending step's span id ``l1s``) in ``meta``."""
    step = _STEP.get()
    if step is None or step.jid != jid or step.trc != meta.get("trc"):
        return
    meta["spn"] = step.job_span
    if work and step.span_id:
        meta["l1s"] = step.span_id


def observe(finished: bool, committed: bool, failed: bool) -> None:
    """Called by the engine's store after each step script: what the running step committed."""
    step = _STEP.get()
    if step is not None:
        step.committed = step.committed or committed
        step.finished = step.finished or finished
        step.failed = step.failed or (committed and failed)


def new_span_id() -> str:
    return f"{random.getrandbits(64) or 1:016x}"


def new_trace_id() -> str:
    return f"{random.getrandbits(128) or 1:032x}"


def _valid(value: Any, zero: str) -> bool:
    return isinstance(value, str) and len(value) == len(zero) and value != zero


def start(app_id: str, guid: str, read_fields: Callable[[str, list[str]], Awaitable[list[str | None]]]
          ) -> Telemetry:
    """A ``Telemetry`` on the global tracer and meter providers (``opentelemetry-api``; install
    ``hotmesh_core[otel]``). Configure the providers (SDK, exporters) before starting HotMesh."""
    try:
        import opentelemetry.trace  # noqa: F401
    except ImportError as exc:     # pragma: no cover - depends on the environment
        raise ImportError("tracing=True needs OpenTelemetry: pip install 'hotmesh_core[otel]'") from exc
    return Telemetry(app_id, guid, read_fields)


class _Instruments:
    """The process's metric instruments (one set: instrument names are process-wide)."""

    def __init__(self) -> None:
        from opentelemetry import metrics
        meter = metrics.get_meter("hotmesh_core")
        self.steps = meter.create_counter(
            "hotmesh.steps", unit="{step}", description="engine steps, by activity type, leg and outcome")
        self.step_duration = meter.create_histogram(
            "hotmesh.step.duration", unit="ms", description="duration of an engine step")
        self.worker_duration = meter.create_histogram(
            "hotmesh.worker.duration", unit="ms", description="latency of a worker callback")
        self.redeliveries = meter.create_counter(
            "hotmesh.redeliveries", unit="{message}", description="stream messages handled again after a reclaim")
        self.dead_letters = meter.create_counter(
            "hotmesh.dead_letters", unit="{message}", description="stream messages moved to the dead letters")
        self.jobs_started = meter.create_counter("hotmesh.jobs.started", unit="{job}", description="jobs started")
        self.jobs_completed = meter.create_counter(
            "hotmesh.jobs.completed", unit="{job}", description="jobs completed without an error")
        self.jobs_failed = meter.create_counter(
            "hotmesh.jobs.failed", unit="{job}", description="jobs completed with an error")
        self.pending_timers: dict[str, int] = {}
        meter.create_observable_gauge("hotmesh.timers.pending", callbacks=[self._timers], unit="{timer}",
                                      description="timers registered and not yet due (sampled)")

    def _timers(self, options: CallbackOptions) -> Iterable[Observation]:
        from opentelemetry.metrics import Observation
        return [Observation(n, {"hotmesh.app": app}) for app, n in list(self.pending_timers.items())]


_instruments: _Instruments | None = None


_ids: type[Any] | None = None


def _ids_class() -> type[Any]:
    global _ids
    if _ids is not None:
        return _ids
    from opentelemetry.sdk.trace.id_generator import IdGenerator

    class ForcedIds(IdGenerator):
        """The provider's id generator, except for the one span that must take stored ids."""

        def __init__(self, inner: IdGenerator) -> None:
            self.inner = inner

        def generate_span_id(self) -> int:
            forced = _FORCE.get()
            return forced[1] if forced else self.inner.generate_span_id()

        def generate_trace_id(self) -> int:
            forced = _FORCE.get()
            return forced[0] if forced else self.inner.generate_trace_id()

        def is_trace_id_random(self) -> bool:
            return self.inner.is_trace_id_random()

    _ids = ForcedIds
    return _ids


class Telemetry:
    """Spans and metrics of one HotMesh instance (engine steps, worker callbacks, its timers)."""

    def __init__(self, app_id: str, guid: str,
                 read_fields: Callable[[str, list[str]], Awaitable[list[str | None]]]) -> None:
        global _instruments
        from opentelemetry import trace
        from opentelemetry.trace import (
            NonRecordingSpan,
            SpanContext,
            SpanKind,
            Status,
            StatusCode,
            TraceFlags,
        )
        self._trace = trace
        self._ctx = (NonRecordingSpan, SpanContext, TraceFlags)
        self._status = (Status, StatusCode)
        self._kinds = SpanKind
        provider = trace.get_tracer_provider()
        inner = getattr(provider, "id_generator", None)
        if inner is not None:
            try:
                forced = _ids_class()
                if not isinstance(inner, forced):
                    provider.id_generator = forced(inner)  # type: ignore[attr-defined]  # the SDK's provider
            except ImportError:   # an API-only install: no SDK, nothing is recorded anyway
                pass
        self.tracer = provider.get_tracer("hotmesh_core")
        if _instruments is None:
            _instruments = _Instruments()
        self.m = _instruments
        self.app_id = app_id
        self.guid = guid
        self.read_fields = read_fields
        self._base = {"hotmesh.app": app_id}
        self._sampler: asyncio.Task[None] | None = None

    # -- contexts ------------------------------------------------------------------------------
    def _remote(self, trc: str, span_id: str | None) -> Context | None:
        """The context of a remote parent span; None (a new root) without a valid span id."""
        if not _valid(span_id, ZERO_SPAN):
            return None
        NonRecordingSpan, SpanContext, TraceFlags = self._ctx
        assert span_id is not None
        parent = SpanContext(int(trc, 16), int(span_id, 16), is_remote=True,
                             trace_flags=TraceFlags(TraceFlags.SAMPLED))
        return self._trace.set_span_in_context(NonRecordingSpan(parent))

    def _start(self, name: str, trc: str, parent_span: str | None, start_ns: int,
               attributes: dict[str, Any], kind: Any = None) -> Span:
        context = self._remote(trc, parent_span)
        token = None if context is not None else _FORCE.set((int(trc, 16), int(new_span_id(), 16)))
        try:
            return self.tracer.start_span(name, context=context, start_time=start_ns, attributes=attributes,
                                          kind=kind or self._kinds.INTERNAL)
        finally:
            if token is not None:
                _FORCE.reset(token)

    def _end(self, span: Span | None, status: str, code: int, error: str | None) -> None:
        if span is None:
            return
        span.set_attribute("hotmesh.status", status)
        span.set_attribute("hotmesh.code", code)
        if error is not None:
            Status, StatusCode = self._status
            span.set_status(Status(StatusCode.ERROR, error))
        span.end()

    def _attrs(self, meta: dict[str, Any], atp: str, leg: str) -> dict[str, Any]:
        return {"hotmesh.app": self.app_id, "hotmesh.job.id": str(meta.get("jid", "")),
                "hotmesh.activity.id": str(meta.get("aid", "")), "hotmesh.activity.type": atp,
                "hotmesh.activity.dad": str(meta.get("dad", "")), "hotmesh.activity.leg": leg,
                "hotmesh.engine.guid": self.guid}

    # -- the trigger (a job starts) ------------------------------------------------------------
    def trigger(self, meta: dict[str, str], trigger_id: str, *, trc: str | None = None,
                parent_span: str | None = None, parent_job_span: str | None = None) -> tuple[Step, Any, int]:
        """Give a new job its trace context (``meta`` gets ``trc``, ``spn``, maybe ``tps``/``ps``)
        and start its trigger step. ``trc``/``parent_span``: an awaiting parent's context (or a
        trace id the caller passed); else the caller's current span, if any, is the parent."""
        t0 = time.time_ns()
        if not (_valid(trc, ZERO_TRACE) and _valid(parent_span, ZERO_SPAN)):
            current = self._trace.get_current_span().get_span_context()
            if current.is_valid:
                trc, parent_span = f"{current.trace_id:032x}", f"{current.span_id:016x}"
            elif not _valid(trc, ZERO_TRACE):
                trc, parent_span = new_trace_id(), None
        assert trc is not None
        meta["trc"], meta["spn"] = trc, new_span_id()
        if _valid(parent_span, ZERO_SPAN):
            meta["tps"] = str(parent_span)
        if _valid(parent_job_span, ZERO_SPAN):
            meta["ps"] = str(parent_job_span)
        span = self._start(f"step {trigger_id} trigger", trc, meta["spn"], t0,
                           {**self._attrs({**meta, "aid": trigger_id, "dad": ",0"}, "trigger", "trigger"),
                            "hotmesh.topic": meta.get("tpc", "")})
        step = Step(meta["jid"], trc, meta["spn"], f"{span.get_span_context().span_id:016x}", span)
        return step, _STEP.set(step), t0

    def leave(self, token: Any) -> None:
        """The trigger's messages are built: this task is no longer in the step."""
        _STEP.reset(token)

    async def triggered(self, step: Step, t0: int, committed: bool, finished: bool, topic: str,
                        error: BaseException | None = None) -> None:
        """The trigger step is over (its script returned, or it failed)."""
        self.m.step_duration.record((time.time_ns() - t0) / 1e6, {**self._base, "hotmesh.activity.type": "trigger",
                                                                   "hotmesh.activity.leg": "trigger"})
        outcome = "error" if error is not None else "ok" if committed else "dropped"
        self.m.steps.add(1, {**self._base, "hotmesh.activity.type": "trigger", "hotmesh.activity.leg": "trigger",
                             "outcome": outcome})
        if committed:
            self.m.jobs_started.add(1, {**self._base, "hotmesh.topic": topic})
        message = None if error is None else (getattr(error, "message", None) or str(error) or type(error).__name__)
        self._end(step.span, "error" if error else "success", getattr(error, "code", 500) if error else 200,
                  message)
        if finished:
            await self._job_done(step.jid)

    # -- engine steps --------------------------------------------------------------------------
    async def step(self, message: dict[str, Any], kind: str | None, atp: str,
                   run: Callable[[], Awaitable[None]]) -> None:
        """Run one engine step (``run``) inside its span, and count it."""
        meta = message["metadata"]
        t0 = time.time_ns()
        leg = LEGS.get(kind or "", "2")
        trc = meta.get("trc")
        if not _valid(trc, ZERO_TRACE) and meta.get("jid"):
            # a message minted without the job's context (a web hook's signal, a due timer, a
            # signal activity): the job hash has it; the messages this step sends carry it on
            trc = await self._job_context(meta)
        deliveries = DELIVERIES.get()
        step = Step(str(meta.get("jid", "")), "", "", "")
        if _valid(trc, ZERO_TRACE):
            attrs = self._attrs(meta, atp, leg)
            if deliveries > 1:
                attrs["hotmesh.deliveries"] = deliveries
            span = self._start(f"step {meta.get('aid', '')} {leg}", trc, meta.get("spn"), t0, attrs)
            if deliveries > 1:
                span.add_event("redelivered", {"hotmesh.deliveries": deliveries})
            step = Step(step.jid, trc, str(meta.get("spn")), f"{span.get_span_context().span_id:016x}", span)
        if deliveries > 1:
            self.m.redeliveries.add(1, {**self._base, "hotmesh.role": "engine"})
        token = _STEP.set(step)
        error: BaseException | None = None
        try:
            await run()
        except BaseException as exc:
            error = exc
            raise
        finally:
            _STEP.reset(token)
            status = str(message.get("status") or "success")
            given = message.get("code")
            code = given if isinstance(given, int) else 200
            if step.failed:
                status = "error"
            outcome = ("error" if error is not None else "failed" if step.failed
                       else "ok" if step.committed else "dropped")
            labels = {**self._base, "hotmesh.activity.type": atp, "hotmesh.activity.leg": leg}
            self.m.step_duration.record((time.time_ns() - t0) / 1e6, labels)
            self.m.steps.add(1, {**labels, "outcome": outcome})
            text = None
            if error is not None:
                text = getattr(error, "message", None) or str(error) or type(error).__name__
                status, code = "error", int(getattr(error, "code", 500) or 500)
            elif step.failed or status == "error":
                data = message.get("data")
                text = str(data.get("message", "error")) if isinstance(data, dict) else "error"
            self._end(step.span, status, code, text)
        if step.finished:
            await self._job_done(step.jid)

    async def _job_context(self, meta: dict[str, Any]) -> str | None:
        """The job's trace id and span (``m/trc``, ``m/spn``), set into ``meta``; None if it has none."""
        try:
            trc, spn = await self.read_fields(str(meta["jid"]), ["m/trc", "m/spn"])
        except Exception as exc:  # noqa: BLE001 - telemetry never fails a step
            log.debug("job %s: no trace context (%s)", meta.get("jid"), exc)
            return None
        if not _valid(trc, ZERO_TRACE):
            return None
        meta["trc"], meta["spn"] = trc, spn
        return trc

    async def _job_done(self, jid: str) -> None:
        """A step of this process completed job ``jid``: count it and record the job span."""
        try:
            topic, trc, spn, tps, jc, err = await self.read_fields(jid, list(JOB_FIELDS))
        except Exception as exc:  # noqa: BLE001 - telemetry never fails a step
            log.debug("job %s: no job span (%s)", jid, exc)
            return
        labels = {**self._base, "hotmesh.topic": topic or ""}
        (self.m.jobs_failed if err else self.m.jobs_completed).add(1, labels)
        if not (_valid(trc, ZERO_TRACE) and _valid(spn, ZERO_SPAN)):
            return
        assert trc is not None and spn is not None
        from .util import parse_timestamp
        start_ms = parse_timestamp(jc)
        now = time.time_ns()
        start = start_ms * 1_000_000 if start_ms else now
        attrs = {"hotmesh.app": self.app_id, "hotmesh.job.id": jid, "hotmesh.topic": topic or "",
                 "hotmesh.engine.guid": self.guid, "hotmesh.status": "error" if err else "success"}
        context = self._remote(trc, tps)
        token = _FORCE.set((int(trc, 16), int(spn, 16)))
        try:
            span = self.tracer.start_span(f"job {topic or ''}", context=context, start_time=min(start, now),
                                          attributes=attrs, kind=self._kinds.SERVER)
        finally:
            _FORCE.reset(token)
        message = None
        if err:
            try:
                import json
                message = str(json.loads(err).get("message", err))
            except (ValueError, AttributeError):
                message = str(err)
        self._end(span, "error" if err else "success", 500 if err else 200, message)

    # -- worker callbacks ----------------------------------------------------------------------
    async def work(self, topic: str, meta: dict[str, Any],
                   call: Callable[[], Awaitable[tuple[str, int, Any]]]) -> tuple[str, int, Any]:
        """Run a worker callback (``call``) inside its span ``worker <topic>`` (the current span
        while it runs, so a job it starts joins the trace), and record its latency."""
        t0 = time.time_ns()
        trc = meta.get("trc")
        deliveries = DELIVERIES.get()
        span = None
        if _valid(trc, ZERO_TRACE):
            attrs = {**self._attrs(meta, "worker", "worker"), "hotmesh.topic": topic}
            del attrs["hotmesh.activity.leg"]
            if deliveries > 1:
                attrs["hotmesh.deliveries"] = deliveries
            span = self._start(f"worker {topic}", str(trc), meta.get("l1s") or meta.get("spn"), t0, attrs,
                               self._kinds.CONSUMER)
            if deliveries > 1:
                span.add_event("redelivered", {"hotmesh.deliveries": deliveries})
        if deliveries > 1:
            self.m.redeliveries.add(1, {**self._base, "hotmesh.role": "worker"})
        status, code, out = "error", 500, None
        error: str | None = None
        try:
            if span is not None:
                with self._trace.use_span(span, end_on_exit=False, record_exception=False,
                                          set_status_on_exception=False):
                    status, code, out = await call()
            else:
                status, code, out = await call()
        except BaseException as exc:
            error = str(exc) or type(exc).__name__
            raise
        finally:
            if status == "error" and error is None:
                error = str(out.get("message", "error")) if isinstance(out, dict) else "error"
            self.m.worker_duration.record((time.time_ns() - t0) / 1e6,
                                          {**self._base, "hotmesh.topic": topic, "hotmesh.status": status})
            self._end(span, status, code, error)
        return status, code, out

    # -- counters and the timers gauge ---------------------------------------------------------
    def dead_letter(self, role: str) -> None:
        self.m.dead_letters.add(1, {**self._base, "hotmesh.role": role})

    def sample_timers(self, zcard: Callable[[], Awaitable[Any]]) -> None:
        """Read the number of pending timers every ``TIMER_SAMPLE_SECONDS`` (for the gauge)."""
        async def loop() -> None:
            while True:
                try:
                    self.m.pending_timers[self.app_id] = int(await zcard())
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - the next sample tries again
                    log.debug("timers sample failed: %s", exc)
                await asyncio.sleep(TIMER_SAMPLE_SECONDS)
        self._sampler = asyncio.create_task(loop(), name="hotmesh timers gauge")

    async def close(self) -> None:
        if self._sampler is not None:
            self._sampler.cancel()
            with contextlib.suppress(BaseException):
                await self._sampler
            self._sampler = None
