"""Help on every command, and the one-line errors for missing settings, dead Redis and bad input."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from hotmesh_core.cli import cli as hotmesh_cli

from .conftest import ROOT, Cli

COMMANDS = ["deploy", "plan", "activate", "pub", "pubsub", "state", "status", "export", "scrub", "hook",
            "interrupt", "resume", "rerun", "jobs", "roll-call", "throttle", "engine", "worker", "redis", "demo"]


def test_help_of_every_command(cli: Cli) -> None:
    """The installed ``hotmesh`` entry point lists every command; each command's help renders.

    Only the top level runs as a subprocess here (one Python start-up costs about a second on a
    loaded 2-core box); every command also runs for real in the other tests.
    """
    entry = os.path.join(os.path.dirname(sys.executable), "hotmesh")
    top = subprocess.run([entry, "--help"], cwd=ROOT, env=cli.env, capture_output=True, text=True, timeout=30)
    assert top.returncode == 0 and top.stdout.startswith("Usage: hotmesh [OPTIONS] COMMAND"), top.stderr
    for name in COMMANDS:
        assert f"\n  {name} " in top.stdout, name
    assert "--redis-url" in top.stdout and "--app" in top.stdout and "--json" in top.stdout
    helps = {}
    for name in COMMANDS:
        result = CliRunner().invoke(hotmesh_cli, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert result.output.startswith(f"Usage: hotmesh {name} "), result.output
        helps[name] = result.output
    assert "TOPIC=MODULE:FUNCTION" in helps["worker"]
    assert "--no-throw" in helps["interrupt"] and "--descend" in helps["interrupt"]
    assert "--activity" in helps["resume"] and "--replace" in helps["rerun"] and "resume" in helps["jobs"]
    assert "--data-file" in helps["pub"] and "--timeout" in helps["pubsub"]
    assert "MS|pause|resume" in helps["throttle"] and "--delay" in helps["roll-call"]
    assert "--port" in helps["redis"] and "--dir" in helps["redis"]


def test_missing_redis_url_and_app_are_named(cli: Cli) -> None:
    no_url = {k: v for k, v in cli.env.items() if k != "REDIS_URL"}
    result = cli("status", "some-job", env=no_url)
    assert result.code == 2
    assert result.error == ("error: no Redis URL: pass --redis-url or set REDIS_URL "
                            "(start one with 'hotmesh redis')")
    no_app = {k: v for k, v in cli.env.items() if k != "HOTMESH_APP"}
    result = cli("pub", "cli.double", "--data", "{}", env=no_app)
    assert result.code == 2 and result.error == "error: no app id: pass --app or set HOTMESH_APP"


def test_unreachable_redis_fails_fast_with_one_line(cli: Cli) -> None:
    with socket.socket() as sock:      # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    result = cli("--redis-url", f"redis://:secret@127.0.0.1:{port}/0", "status", "job-1")
    assert result.code == 1
    assert result.error.startswith(f"error: cannot reach Redis at redis://:***@127.0.0.1:{port}/0: ")
    assert "secret" not in result.stderr
    assert time.monotonic() - started < 15         # not the library's 30 s of reconnect backoff
    result = cli("--redis-url", "http://127.0.0.1:1", "status", "job-1")
    assert result.code == 1 and result.error.startswith("error: invalid Redis URL 'http://127.0.0.1:1'")


def test_bad_input_is_one_line_exit_2(cli: Cli) -> None:
    result = cli("pub", "cli.double", "--data", "{not json")
    assert result.code == 2 and result.error.startswith("error: invalid JSON in --data: ")
    result = cli("pub", "cli.double", input="[1, 2]")
    assert result.code == 2
    assert result.error == "error: the data in stdin must be a JSON object, not list"
    result = cli("worker", "t.x=no_such_module_here:run")
    assert result.code == 2 and result.error.startswith("error: cannot import module 'no_such_module_here'")


@pytest.mark.parametrize(("args", "message"), [
    (["worker", "no-equals-sign"], "error: worker 'no-equals-sign' must read TOPIC=module:function"),
    (["worker", "t.x=tests.cli.workers:missing"], "has no attribute 'missing'"),
    (["worker", "t.x=tests.cli.workers:not_callable"], "error: worker 't.x=tests.cli.workers:not_callable': "
                                                       "not_callable is not callable"),
    (["worker", "t.x=tests/cli/nowhere.py:run"], "nowhere.py' does not exist"),
    (["worker", "a.b=tests.cli.workers:double", "a.b=tests.cli.workers:fail"], "a topic is given twice"),
    (["throttle", "fast"], "'fast' is not a number of milliseconds, 'pause' or 'resume'"),
    (["throttle", "-5"], "milliseconds must be 0 or more (-1 pauses)"),
    (["redis", "--port", "7000", "--socket"], "error: give --port or --socket, not both"),
    (["hook", "t.x", "--data", "{}", "--data-file", "-"], "error: give --data or --data-file, not both"),
])
def test_usage_errors_exit_2(args: list[str], message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process (fast): these fail before any connection is made."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("HOTMESH_APP", "never-used")
    result = CliRunner().invoke(hotmesh_cli, args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
