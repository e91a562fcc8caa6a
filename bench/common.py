"""Helpers shared by the bench scripts: the machine, figures, output, Redis URLs and servers.

The scripts import it as ``common`` (``bench/`` is each script's directory, hence on ``sys.path``).
Nothing here calls hotmesh_core's Redis access; the redis-server launcher is the project's own
``hotmesh_core.redis_server`` (imported when a server is started, so that the scripts can put the
copy of ``hotmesh_core/`` they measure on ``sys.path`` first).
"""

from __future__ import annotations

import calendar
import contextlib
import json
import math
import os
import platform
import shutil
import socket
import ssl
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
NPROC = os.cpu_count() or 1

# ---------- the bench app (bench/bench.yaml, the reference's flows) ----------
BENCH_APP = "bench"
BENCH_JOB_PREFIX = f"hmsh:{BENCH_APP}:j:"
BENCH_TOPICS = {"trigger": "bench.trigger", "seq": "bench.seq", "fan": "bench.fan"}
BENCH_WORKER_TOPICS = {"seq": ["bench.w1", "bench.w2", "bench.w3"],
                       "fan": ["bench.f1", "bench.f2", "bench.f3", "bench.f4", "bench.f5"]}
ALL_WORKER_TOPICS = BENCH_WORKER_TOPICS["seq"] + BENCH_WORKER_TOPICS["fan"]
# commands issued by the harness itself (measurement), excluded from hotmesh_core's counts (as bench.js)
HARNESS_CMDS = frozenset({"info", "config|resetstat", "config|set", "config|get", "subscribe", "ping", "dbsize",
                          "memory|usage"})


def echo(topic: str) -> Callable[[Any], Any]:
    """The bench workers' callback: echo the input with a suffix (as ``bench.js``)."""
    async def callback(message: Any) -> dict[str, Any]:
        return {"y": f"{(message.data or {}).get('x')}.{topic}"}
    return callback


# ---------- the machine ----------
def cpu_model() -> str:
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def version_of(dist: str) -> str:
    try:
        return importlib_metadata.version(dist)
    except importlib_metadata.PackageNotFoundError:
        return "?"


def proc_stat() -> dict[str, int] | None:
    """``{"total", "idle", "steal"}`` jiffies since boot, machine-wide (None where there is no /proc)."""
    try:
        with open("/proc/stat") as fh:
            fields = [int(x) for x in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return {"total": sum(fields), "idle": fields[3] + fields[4], "steal": fields[7] if len(fields) > 7 else 0}


def busy_cores(s0: dict[str, int] | None, s1: dict[str, int] | None, wall: float) -> float | None:
    """Cores busy on the whole machine between two ``proc_stat`` readings ``wall`` seconds apart."""
    if not s0 or not s1 or wall <= 0:
        return None
    busy = (s1["total"] - s1["idle"]) - (s0["total"] - s0["idle"])
    return busy / CLK_TCK / wall


def proc_cpu_seconds(pid: int) -> float | None:
    """utime + stime of one process (seconds), from /proc/<pid>/stat."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            text = fh.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()    # after "pid (comm) ": field 3 (state) is fields[0]
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_status_kb(pid: int | str = "self") -> dict[str, int]:
    """VmRSS / VmHWM (kB) and Threads of one process, {} if it cannot be read."""
    out: dict[str, int] = {}
    with contextlib.suppress(OSError), open(f"/proc/{pid}/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "Threads"):
                out[key] = int(value.split()[0])
    return out


def proc_memory_bytes(pid: int | str = "self") -> dict[str, int]:
    """VmRSS and VmHWM of one process in bytes, {} if it cannot be read."""
    return {k: v * 1024 for k, v in proc_status_kb(pid).items() if k in ("VmRSS", "VmHWM")}


def meminfo() -> dict[str, int]:
    """/proc/meminfo in bytes."""
    out: dict[str, int] = {}
    with contextlib.suppress(OSError), open("/proc/meminfo") as fh:
        for line in fh:
            name, _, rest = line.partition(":")
            parts = rest.split()
            if parts and parts[0].isdigit():
                out[name] = int(parts[0]) * (1024 if len(parts) > 1 and parts[1] == "kB" else 1)
    return out


# ---------- figures ----------
def pct(sorted_values: Sequence[float], p: float) -> float | None:
    """The reference's percentile: nearest rank, ceil(p/100 * n) - 1; None for no values."""
    if not sorted_values:
        return None
    idx = min(len(sorted_values) - 1, max(0, math.ceil(p / 100 * len(sorted_values)) - 1))
    return sorted_values[idx]


def change_pct(before: float | None, after: float | None) -> float | None:
    """(after - before) / before in %, None when either is missing or before is 0."""
    if before is None or after is None or before == 0:
        return None
    return 100 * (after - before) / abs(before)


def human(n: float | None) -> str:
    """Bytes as B / KiB / MiB / GiB."""
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{value:.0f} B"
        value /= 1024
    return f"{value:.1f} GiB"


def ju_ms(value: str, cache: dict[str, int]) -> int | None:
    """``YYYYMMDDHHmmss.sss`` (UTC, hotmesh_core's timestamp) -> epoch ms; ``cache`` keeps the seconds part."""
    try:
        head = value[:14]
        base = cache.get(head)
        if base is None:
            base = calendar.timegm(time.strptime(head, "%Y%m%d%H%M%S")) * 1000
            cache[head] = base
        return base + int(value[15:18])
    except (ValueError, TypeError):
        return None


# ---------- output ----------
def cell(value: Any, spec: str = "") -> str:
    """A table cell: ``-`` for None, else ``format(value, spec)``."""
    return "-" if value is None else format(value, spec)


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]], align: str) -> str:
    """A markdown table; ``align`` has one letter per column, ``l`` or ``r``."""
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def append_line(path: Path | None, line: str) -> None:
    """Append one line to ``path`` (its directory made), nothing if ``path`` is None."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fh.write(line + "\n")


def write_result(result: dict[str, Any], out: Path | None, default: Callable[[Any], Any] | None = None) -> None:
    """The result as one JSON line: appended to ``out`` (if given) and printed on stdout."""
    line = json.dumps(result, default=default)
    append_line(out, line)
    print(line, flush=True)


# ---------- copies of the code measured ----------
def copy_core(dest: Path) -> Path:
    """Copy the working tree's ``hotmesh_core/`` (as it is now) into ``dest/hotmesh_core``; returns ``dest``."""
    shutil.copytree(REPO / "hotmesh_core", dest / "hotmesh_core",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


def export_ref(ref: str, dest: Path) -> Path:
    """``git archive <ref> hotmesh_core`` into ``dest/src`` (the working tree is left alone); returns it."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = dest / "src.tar"
    with archive.open("wb") as fh:
        subprocess.run(["git", "-C", str(REPO), "archive", ref, "hotmesh_core"], stdout=fh, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(dest / "src", filter="data")
    archive.unlink()
    return dest / "src"


def git_head(ref: str | None = None) -> str:
    """Short sha of ``ref`` (default HEAD), "" when git cannot tell."""
    try:
        return subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", ref or "HEAD"], capture_output=True,
                              text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def core_dirty() -> bool:
    """Uncommitted changes in ``hotmesh_core/``? (never takes .git/index.lock)."""
    try:
        return bool(subprocess.run(["git", "--no-optional-locks", "-C", str(REPO), "status", "--porcelain", "--",
                                    "hotmesh_core"], capture_output=True, text=True, timeout=5).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        return False


def put_repo_on_path() -> None:
    """Make ``import hotmesh_core`` find this repository's package, after the ``$PYTHONPATH`` entries
    (run.py passes the copy it measures there) and before site-packages (an editable install of
    another checkout)."""
    repo = str(REPO)
    if repo not in sys.path:
        entries = [x for x in os.environ.get("PYTHONPATH", "").split(os.pathsep) if x]
        sys.path.insert(min(len(sys.path), 1 + len(entries)), repo)


# ---------- redis URLs and clients ----------
def redis_url(port: int, host: str = "127.0.0.1") -> str:
    return f"redis://{host}:{port}/0"


def is_tls(url: str) -> bool:
    return urlsplit(url).scheme == "rediss"


def with_query(url: str, **params: Any) -> str:
    """``url`` with these query parameters added (or replaced); None values are left out."""
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    query.update({k: str(v) for k, v in params.items() if v is not None})
    return urlunsplit(parts._replace(query=urlencode(query, safe="/")))


def redacted(url: str) -> str:
    """``url`` without a password (for logs and JSON)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


def sync_client(url: str, **options: Any) -> Any:
    """A plain redis-py client of the harness (``rediss://`` URLs: TLS with the URL's ssl_* options)."""
    import redis

    return redis.Redis.from_url(url, decode_responses=True, **options)


def async_client(url: str, **options: Any) -> Any:
    """An asyncio redis-py client of the harness (``rediss://``: TLS, as ``sync_client``)."""
    import redis.asyncio as aioredis

    return aioredis.Redis.from_url(url, decode_responses=True, **options)


def stream_backlog(admin: Any, streams: Iterable[str]) -> tuple[bool, int]:
    """(drained, work left) of consumer-group streams, read with a sync redis-py client: drained = no
    pending and no undelivered entry in any group; work left = pending + the group's lag (when Redis
    can tell it, else 1 for "something undelivered")."""
    from redis.exceptions import ResponseError

    drained = True
    work = 0
    for stream in streams:
        try:
            last = admin.xinfo_stream(stream)["last-generated-id"]
            groups = admin.xinfo_groups(stream)
        except ResponseError:
            continue
        for group in groups:
            pending = int(group.get("pending") or 0)
            delivered = group.get("last-delivered-id")
            lag = group.get("lag")
            undelivered = delivered != last
            work += pending + (int(lag) if lag is not None else int(undelivered))
            if pending or undelivered:
                drained = False
    return drained, work


# ---------- redis-server ----------
@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    cert: Path
    key: Path


def make_tls_files(directory: Path, host: str = "127.0.0.1") -> TlsFiles:
    """A throwaway CA and a server certificate for ``host`` (and localhost), made with ``openssl``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key, ca, key, csr, cert = (directory / n for n in ("ca.key", "ca.pem", "server.key", "server.csr",
                                                           "server.pem"))
    ext = directory / "server.ext"
    ext.write_text(f"subjectAltName=IP:{host},DNS:localhost\nbasicConstraints=critical,CA:FALSE\n"
                   "keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
                   "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    steps = [
        ["openssl", "req", "-x509", *ec, "-keyout", ca_key, "-out", ca, "-days", "2",
         "-subj", "/CN=hotmesh-bench throwaway CA", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
        ["openssl", "req", "-new", *ec, "-keyout", key, "-out", csr, "-subj", f"/CN={host}"],
        ["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial", "-out", cert,
         "-days", "2", "-extfile", ext],
    ]
    for step in steps:
        done = subprocess.run([str(x) for x in step], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(map(str, step[:3]))} failed: {done.stderr.strip()[-500:]}")
    key.chmod(0o600)
    ca_key.chmod(0o600)
    return TlsFiles(ca=ca, cert=cert, key=key)


def tls_redis_server() -> Any:
    """A private redis-server that speaks TLS only: ``--port 0 --tls-port <free>``, a throwaway CA and
    server certificate (in the server's own temp dir, removed by ``stop``), clients not asked for
    certificates. ``.url`` is ``rediss://127.0.0.1:<port>/0?ssl_ca_certs=<ca.pem>``; ``.tls_files`` the files."""
    from hotmesh_core.redis_server import RedisServer, free_port

    class TlsRedisServer(RedisServer):
        def __init__(self) -> None:
            port = free_port()
            super().__init__(port=port)
            self.tls_files = make_tls_files(self.data_dir / "tls")
            # RedisServer.start passes ``--port <port>``; the later ``--port 0`` wins: no plain TCP
            self.extra_args = ["--port", "0", "--tls-port", str(port), "--tls-cert-file", str(self.tls_files.cert),
                               "--tls-key-file", str(self.tls_files.key), "--tls-ca-cert-file", str(self.tls_files.ca),
                               "--tls-auth-clients", "no"]

        def start(self, timeout: float = 10.0) -> TlsRedisServer:
            super().start(timeout)
            self.url = with_query(redis_url(int(self.port or 0)).replace("redis://", "rediss://", 1),
                                  ssl_ca_certs=self.tls_files.ca)
            return self

        def _ping(self) -> bool:
            return tls_ping(int(self.port or 0), self.tls_files.ca)

    return TlsRedisServer()


def tls_ping(port: int, ca: Path, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """PING over TLS, the server's certificate checked against ``ca`` (and ``host``)."""
    try:
        context = ssl.create_default_context(cafile=str(ca))
        with socket.create_connection((host, port), timeout=timeout) as raw, \
                context.wrap_socket(raw, server_hostname=host) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except (OSError, ssl.SSLError):
        return False


def start_redis(tls: bool = False) -> Any:
    """A private redis-server on a free loopback port, no persistence (``hotmesh_core.RedisServer``);
    with ``tls`` the TLS-only one of ``tls_redis_server``. ``.url``, ``.port``, ``.stop()``."""
    if tls:
        return tls_redis_server().start()
    from hotmesh_core.redis_server import RedisServer

    return RedisServer(port=0).start()


def redis_cli_tls_ping(port: int, ca: Path) -> str:
    """``redis-cli --tls --cacert <ca> -p <port> ping`` (its output, or why it did not run)."""
    cli = shutil.which("redis-cli")
    if cli is None:
        return "redis-cli not found"
    done = subprocess.run([cli, "--tls", "--cacert", str(ca), "-h", "127.0.0.1", "-p", str(port), "ping"],
                          capture_output=True, text=True, timeout=10)
    return (done.stdout + done.stderr).strip()
