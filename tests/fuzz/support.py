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


def snapshot(client: Any) -> dict[bytes, tuple[bytes, Any]]:
    """Every key of the client's database with its type and content, compared by value.

    Not ``DUMP``: a big hash's serialization follows its hash table's iteration order, which a
    mere read can change (incremental rehashing). Used on a database no engine reads, so any
    difference is a write by the call under test."""
    readers: dict[bytes, Any] = {
        b"string": client.get, b"hash": client.hgetall, b"set": client.smembers,
        b"list": lambda key: client.lrange(key, 0, -1),
        b"zset": lambda key: client.zrange(key, 0, -1, withscores=True),
        b"stream": lambda key: (client.xrange(key), [(g["name"], g["last-delivered-id"], g["pending"])
                                                     for g in client.xinfo_groups(key)]),
    }
    out: dict[bytes, tuple[bytes, Any]] = {}
    for key in client.scan_iter(count=1000):
        kind = client.type(key)
        out[key] = (kind, readers[kind](key) if kind in readers else client.dump(key))
    return out
