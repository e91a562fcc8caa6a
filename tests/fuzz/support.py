"""What the fuzz properties share: the hang guard, and snapshots of a whole Redis database."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any
from urllib.parse import urlsplit


class Hang(AssertionError):
    """One example ran past its hard limit: a loop that does not end is a failure, not a wait."""


class _Interrupted(BaseException):
    """Raised inside the code under test: a BaseException, so no ``except Exception`` there (the
    pipe registry turns every Exception into a PipeError) can swallow it."""


@contextmanager
def hang_guard(seconds: float = 20.0) -> Iterator[None]:
    """Interrupt the example with ``Hang`` after ``seconds`` (SIGALRM, main thread only).

    Hypothesis' ``deadline`` only judges an example once it returns, so a real hang would block
    the run forever; this raises inside it instead. pytest-timeout's own alarm (the session's
    120 s per test) is put back afterwards with the time it had left.
    """
    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise _Interrupted

    previous = signal.signal(signal.SIGALRM, interrupt)
    outer_delay, outer_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    except _Interrupted:
        raise Hang(f"example still running after {seconds} s") from None
    finally:
        left = signal.setitimer(signal.ITIMER_REAL, 0)[0]
        signal.signal(signal.SIGALRM, previous)
        if outer_delay:
            spent = seconds - left
            signal.setitimer(signal.ITIMER_REAL, max(outer_delay - spent, 0.001), outer_interval)


def database_url(url: str, db: int) -> str:
    """``url`` pointing at logical database ``db`` of the same server."""
    return urlsplit(url)._replace(path=f"/{db}").geturl()


def snapshot(client: Any) -> dict[bytes, bytes]:
    """Every key of the client's database with its serialized value (``DUMP``: type and content).

    Used on a database no engine reads, so any difference is a write by the call under test."""
    return {key: client.dump(key) for key in client.scan_iter(count=1000)}
