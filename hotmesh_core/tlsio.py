"""TLS on asyncio's default event loop without ``asyncio.sslproto``.

asyncio's own TLS transport runs every record through Python-level buffers (``SSLProtocol`` with a
``MemoryBIO`` pair, a read-ahead buffer and a write backlog): on ``rediss://`` it costs a third of
a small command's round trip, where uvloop's C transport costs a tenth (bench/README.md, TLS). This
transport lets OpenSSL read and write the socket itself: a non-blocking ``ssl.SSLSocket`` driven by
the loop's ``add_reader``/``add_writer`` callbacks, the way the socket module is driven for plain
TCP. It implements the four transport methods the Wire's protocols use (``write``, ``close``,
``abort``, ``is_closing``) and the protocol callbacks they expect (``connection_made``,
``data_received``, ``connection_lost``).

OpenSSL rules honoured: a write that raises ``SSLWantWriteError`` is retried with the same bytes
(CPython sets ``SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER``, so the buffer may move but not change), and
every readable event reads until ``SSLWantReadError``, since one socket read can decrypt more than
one record. Used only on loops with ``add_reader`` (the selector loop); uvloop keeps its own.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from typing import Any

READ_SIZE = 256 * 1024


def usable(loop: asyncio.AbstractEventLoop) -> bool:
    """True on asyncio's selector loop (not uvloop, which has a C TLS transport of its own, and
    not the Windows proactor loop, which has no ``add_reader``)."""
    return isinstance(loop, asyncio.SelectorEventLoop)


async def open_tls(loop: asyncio.AbstractEventLoop, factory: Any, host: str, port: int,
                   context: ssl.SSLContext, server_hostname: str | None) -> Any:
    """Connect, do the TLS handshake and start ``factory()``'s protocol; returns the protocol."""
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    error: OSError | None = None
    for family, kind, proto, _, address in infos:
        raw = socket.socket(family, kind, proto)
        try:
            raw.setblocking(False)
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            await loop.sock_connect(raw, address)
            break
        except OSError as exc:
            raw.close()
            error = exc
    else:
        raise error or OSError(f"cannot resolve {host}")
    try:
        tls = context.wrap_socket(raw, server_hostname=server_hostname, do_handshake_on_connect=False)
        await _handshake(loop, tls)
    except BaseException:
        raw.close()
        raise
    protocol = factory()
    _SSLSocketTransport(loop, tls, protocol)
    return protocol


async def _handshake(loop: asyncio.AbstractEventLoop, tls: ssl.SSLSocket) -> None:
    fd = tls.fileno()
    while True:
        try:
            tls.do_handshake()
            return
        except ssl.SSLWantReadError:
            await _ready(fd, loop.add_reader, loop.remove_reader)
        except ssl.SSLWantWriteError:
            await _ready(fd, loop.add_writer, loop.remove_writer)


async def _ready(fd: int, add: Any, remove: Any) -> None:
    """Wait until ``fd`` is readable (``add_reader``) or writable (``add_writer``)."""
    ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    add(fd, _set, ready)
    try:
        await ready
    finally:
        remove(fd)


def _set(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _SSLSocketTransport(asyncio.Transport):
    """A stream transport over a connected, handshaken, non-blocking ``SSLSocket``."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: ssl.SSLSocket, protocol: Any) -> None:
        super().__init__()
        self._loop = loop
        self._sock = sock
        self._fd = sock.fileno()
        self._protocol = protocol
        self._pending = bytearray()         # bytes a write could not hand to OpenSSL yet
        self._writing = False               # a writer callback is registered
        self._closing = False
        self._lost = False
        protocol.connection_made(self)
        loop.add_reader(self._fd, self._on_readable)

    # -- reading -------------------------------------------------------------------------------
    def _on_readable(self) -> None:
        while not self._lost:
            try:
                data = self._sock.recv(READ_SIZE)
            except ssl.SSLWantReadError:
                return
            except ssl.SSLWantWriteError:       # the peer asked for a renegotiation write
                self._start_writing()
                return
            except (OSError, ssl.SSLError) as exc:
                self._lose(exc)
                return
            if not data:                        # orderly close by the server
                self._lose(None)
                return
            self._protocol.data_received(data)

    # -- writing -------------------------------------------------------------------------------
    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing or self._lost or not data:
            return
        if self._pending:                       # keep the order: behind what is waiting
            self._pending += data
            return
        try:
            sent = self._sock.send(data)
        except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
            sent = 0
        except (OSError, ssl.SSLError) as exc:
            self._lose(exc)
            return
        if sent < len(data):
            self._pending += memoryview(data)[sent:]
            self._start_writing()

    def _start_writing(self) -> None:
        if not self._writing and not self._lost:
            self._writing = True
            self._loop.add_writer(self._fd, self._on_writable)

    def _on_writable(self) -> None:
        while self._pending and not self._lost:
            try:
                sent = self._sock.send(self._pending)
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
                return
            except (OSError, ssl.SSLError) as exc:
                self._lose(exc)
                return
            del self._pending[:sent]
        if self._writing:
            self._writing = False
            self._loop.remove_writer(self._fd)
        if self._closing and not self._lost:
            self._lose(None)
        elif not self._pending:
            self._on_readable()                 # a renegotiation write may have unblocked a read

    def get_write_buffer_size(self) -> int:
        return len(self._pending)

    # -- closing -------------------------------------------------------------------------------
    def is_closing(self) -> bool:
        return self._closing or self._lost

    def close(self) -> None:
        """Close after what is queued has been written."""
        if self._closing or self._lost:
            return
        self._closing = True
        if not self._pending:
            self._lose(None)

    def abort(self) -> None:
        self._closing = True
        self._lose(None)

    def _lose(self, exc: BaseException | None) -> None:
        if self._lost:
            return
        self._lost = True
        self._closing = True
        self._loop.remove_reader(self._fd)
        if self._writing:
            self._writing = False
            self._loop.remove_writer(self._fd)
        self._pending.clear()
        self._sock.close()
        self._loop.call_soon(self._protocol.connection_lost, exc)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name == "ssl_object":
            return self._sock
        if name == "peercert":
            return self._sock.getpeercert()
        if name == "socket":
            return self._sock
        return default
