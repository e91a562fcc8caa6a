"""Spawned child processes driven over pipes: each runs one asyncio session and answers commands.

A *session* is a module-level async function ``session(*args) -> (handlers, close)`` run in each
child (spawned: it is pickled by reference): ``handlers`` maps a command's ``op`` to an async
``handler(cmd) -> reply dict``, ``close`` is awaited at the end. The parent sends a command dict
(``{"op": ..., ...}``) to some or all children and waits for every reply; each reply carries the
child's CPU seconds (``cpu``), RSS (``rss``, bytes) and the warnings it logged (``warnings``: count
per message). ``{"op": "rusage"}`` only asks for those; ``{"op": "stop"}`` ends the session.
Used by ``waiting.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import os
import resource
import sys
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from common import proc_memory_bytes

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
Session = Callable[..., Awaitable[tuple[dict[str, Handler], Callable[[], Awaitable[Any]]]]]


class CountingLogHandler(logging.Handler):
    """Counts the WARNING+ records by level, logger and (the start of the) message."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.counts: dict[str, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        key = f"{record.levelname} {record.name}: {record.getMessage()[:120]}"
        self.counts[key] = self.counts.get(key, 0) + 1


def cpu_seconds() -> float:
    """User + system CPU seconds of this process."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def bounded(concurrency: int, count: int, one: Callable[[int], Any]) -> None:
    """Call ``one(i)`` for i in range(count), at most ``concurrency`` at a time (no task per call)."""
    items = iter(range(count))

    async def lane() -> None:
        for i in items:
            await one(i)

    await asyncio.gather(*(lane() for _ in range(max(1, min(concurrency, count)))))


# ---------- the child side ----------
def child_main(conn: Connection, session: Session, args: tuple[Any, ...], label: str) -> None:
    """Entry point of a child process (spawned)."""
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format=f"[{label}] %(levelname)s %(name)s: %(message)s")
    counter = CountingLogHandler()
    logging.getLogger().addHandler(counter)
    with contextlib.suppress(EOFError, BrokenPipeError, KeyboardInterrupt):
        asyncio.run(_serve(conn, session, args, counter))


async def _serve(conn: Connection, session: Session, args: tuple[Any, ...], counter: CountingLogHandler) -> None:
    try:
        handlers, close = await session(*args)
    except Exception:
        conn.send({"error": traceback.format_exc()})
        return
    loop = asyncio.get_running_loop()
    conn.send({"pid": os.getpid()})
    try:
        while True:
            cmd: dict[str, Any] = await loop.run_in_executor(None, conn.recv)
            op = cmd["op"]
            if op == "stop":
                break
            reply: dict[str, Any] = {}
            try:
                if op != "rusage":
                    if op not in handlers:
                        raise ValueError(f"unknown op {op!r}")
                    reply = await handlers[op](cmd)
            except Exception:
                reply = {"error": traceback.format_exc()}
            reply.update(cpu=cpu_seconds(), rss=proc_memory_bytes(os.getpid()).get("VmRSS"),
                         warnings=dict(counter.counts))
            conn.send(reply)
    finally:
        with contextlib.suppress(Exception):
            await close()
        with contextlib.suppress(Exception):
            conn.send({"stopped": True})


# ---------- the parent side ----------
@dataclass
class Child:
    index: int
    process: Any
    conn: Connection
    pid: int = 0
    cpu: float = 0.0
    rss: int | None = None
    warnings: dict[str, int] = field(default_factory=dict)


class Pool:
    """``count`` spawned children running ``session(*args)``; ``error`` is raised when a child dies
    or does not answer within ``timeout`` seconds."""

    def __init__(self, count: int, session: Session, args: tuple[Any, ...], label: str, timeout: float,
                 error: type[Exception] = RuntimeError) -> None:
        self.count = count
        self.session = session
        self.args = args
        self.label = label
        self.timeout = timeout
        self.error = error
        self.children: list[Child] = []

    def start(self, start_timeout: float = 120.0) -> None:
        ctx = multiprocessing.get_context("spawn")
        for index in range(self.count):
            parent, child = ctx.Pipe()
            process = ctx.Process(target=child_main, args=(child, self.session, self.args, f"{self.label}{index}"),
                                  name=f"{self.label}{index}", daemon=True)
            process.start()
            child.close()
            self.children.append(Child(index, process, parent))
        for child_ in self.children:
            if not child_.conn.poll(start_timeout):
                raise RuntimeError(f"process {child_.index} did not start within {start_timeout:.0f} s")
            hello = child_.conn.recv()
            if "error" in hello:
                raise RuntimeError(f"process {child_.index} failed to start:\n{hello['error']}")
            child_.pid = int(hello["pid"])

    def close(self, log: Callable[[str], None], timeout: float = 40.0) -> None:
        for child in self.children:
            with contextlib.suppress(Exception):
                child.conn.send({"op": "stop"})
        deadline = time.monotonic() + timeout
        for child in self.children:
            child.process.join(max(0.1, deadline - time.monotonic()))
            if child.process.is_alive():
                log(f"process {child.index} did not stop; terminating it")
                child.process.terminate()
                child.process.join(5)
            with contextlib.suppress(Exception):
                child.conn.close()

    def command_all(self, commands: list[dict[str, Any] | None],
                    on_tick: Callable[[], None] | None = None) -> list[dict[str, Any]]:
        """Send each child its command (None: nothing), wait for every reply; ``on_tick`` runs
        every second while waiting."""
        waiting: dict[Connection, Child] = {}
        for child, cmd in zip(self.children, commands, strict=True):
            if cmd is not None:
                child.conn.send(cmd)
                waiting[child.conn] = child
        replies: dict[int, dict[str, Any]] = {}
        deadline = time.monotonic() + self.timeout
        while waiting:
            ready = wait(list(waiting), timeout=1.0)
            for conn in ready:
                child = waiting.pop(conn)   # type: ignore[call-overload]
                try:
                    reply: dict[str, Any] = child.conn.recv()
                except EOFError:
                    raise self.error(f"process {child.index} died (exit code {child.process.exitcode})") from None
                child.cpu = float(reply.get("cpu", child.cpu))
                child.rss = reply.get("rss", child.rss)
                child.warnings = reply.get("warnings", child.warnings)
                replies[child.index] = reply
            if on_tick is not None:
                on_tick()
            if time.monotonic() > deadline:
                raise self.error(f"no reply from processes {[c.index for c in waiting.values()]} "
                                 f"within {self.timeout:.0f} s")
        return [replies[c.index] for c in self.children if c.index in replies]

    def ranges(self, count: int) -> list[tuple[int, int]]:
        """``range(count)`` split into one (lo, hi) slice per child, the first ones one longer."""
        per = count // len(self.children)
        extra = count % len(self.children)
        out: list[tuple[int, int]] = []
        lo = 0
        for i in range(len(self.children)):
            hi = lo + per + (1 if i < extra else 0)
            out.append((lo, hi))
            lo = hi
        return out

    def cpu(self) -> float:
        """The children's CPU seconds, asked for now."""
        self.command_all([{"op": "rusage"}] * len(self.children))
        return sum(c.cpu for c in self.children)
