"""A loop-stall detector: a warning that names the code blocking the event loop.

One coroutine on the loop stamps the time every ``interval`` seconds; a daemon thread (the loop
cannot watch itself while it is blocked) reads the stamp and, when it is older than ``threshold``,
looks at the loop thread's current stack (``sys._current_frames``) and logs what runs there: the
worker callback (its topic and function) when the stack passes through ``WorkerRunner._run_callback``,
else the innermost frame. A stall is reported once, when it is seen, and its length when it ends.
An ``async def`` callback that calls ``time.sleep(3)`` holds every job of the process for 3 s;
this is how a team finds it.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType

log = logging.getLogger("hotmesh.stall")


def describe(frame: FrameType | None) -> str:
    """What the stack ending at ``frame`` is doing: the worker callback it is in, or its innermost
    function (``file:line``)."""
    innermost = frame
    callee: FrameType | None = None
    while frame is not None:
        if frame.f_code.co_name == "_run_callback":     # worker.WorkerRunner: its callee is the callback
            runner = frame.f_locals.get("self")
            worker = getattr(runner, "worker", None)
            topic = getattr(worker, "topic", None)
            if topic is not None:
                name = callee.f_code.co_qualname if callee is not None else "?"
                where = f"{callee.f_code.co_filename}:{callee.f_lineno}" if callee is not None else "?"
                return f"the callback {name} of worker '{topic}' ({where})"
        callee, frame = frame, frame.f_back
    if innermost is None:
        return "unknown code"
    return f"{innermost.f_code.co_qualname} ({innermost.f_code.co_filename}:{innermost.f_lineno})"


class LoopWatch:
    """Warn when the running loop is blocked longer than ``threshold`` seconds."""

    def __init__(self, threshold: float, *, interval: float = 0.1,
                 report: Callable[[str], None] | None = None) -> None:
        self.threshold = threshold
        self.interval = interval
        self.report = report or (lambda text: log.warning("%s", text))
        self.stalls = 0
        self._stamp = time.monotonic()
        self._loop_thread: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.threshold <= 0 or self._task is not None:
            return
        self._loop_thread = threading.get_ident()
        self._stamp = time.monotonic()
        self._task = asyncio.get_running_loop().create_task(self._beat(), name="hotmesh loop watch")
        self._thread = threading.Thread(target=self._watch, name="hotmesh loop watch", daemon=True)
        self._thread.start()

    async def _beat(self) -> None:
        while True:
            self._stamp = time.monotonic()
            await asyncio.sleep(self.interval)

    def _watch(self) -> None:
        stalled_since: float | None = None
        while not self._stop.wait(self.interval):
            late = time.monotonic() - self._stamp
            if late > self.threshold and stalled_since is None:
                stalled_since = self._stamp
                self.stalls += 1
                frame = sys._current_frames().get(self._loop_thread or 0)
                self.report(f"the event loop has been blocked for {late:.1f} s by {describe(frame)}: "
                            "every job of this process waits meanwhile. An async def callback must not "
                            "block (await asyncio.sleep, not time.sleep); a plain def callback runs in a "
                            "thread")
            elif late <= self.threshold and stalled_since is not None:
                self.report(f"the event loop ran again after {self._stamp - stalled_since:.1f} s blocked")
                stalled_since = None

    def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            self._task = None


_shared: dict[asyncio.AbstractEventLoop, tuple[LoopWatch, int]] = {}


def watch_loop(threshold: float) -> Callable[[], None]:
    """Watch the running loop (one watch per loop, however many HotMesh instances share it; the
    first one's ``threshold`` holds); returns the release, which stops the watch with its last user."""
    if threshold <= 0:
        return lambda: None
    loop = asyncio.get_running_loop()
    watch, users = _shared.get(loop, (None, 0))
    if watch is None:
        watch = LoopWatch(threshold)
        watch.start()
    _shared[loop] = (watch, users + 1)
    released = False

    def release() -> None:
        nonlocal released
        if released:
            return
        released = True
        current, count = _shared.get(loop, (None, 0))
        if current is None:
            return
        if count <= 1:
            del _shared[loop]
            current.stop()
        else:
            _shared[loop] = (current, count - 1)
    return release
