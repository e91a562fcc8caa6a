#!/usr/bin/env python
"""Run hotmesh_core's benchmark and the reference HotMesh 0.3.32 harness on ONE redis-server.

    .venv/bin/python bench/run.py [--n 1000] [--lat 200] [--reps 1] [--scenarios trigger,seq,fan]
                                  [--no-reference] [--json out.json] [--ref HEAD] [--baseline REF] [--tls]

Starts one redis-server on a free loopback port, runs ``bench/hotmesh_bench.py`` for every
scenario and repetition, then (unless ``--no-reference``) ``../shared/reference/run.sh`` with
``REDIS_PORT``, ``N``, ``LAT`` and ``SCENARIOS`` on the same server (both FLUSHDB it, so they run
one after the other), and prints one markdown table: scenario, phase, figure, python, reference,
ratio (python / reference; medians over the repetitions). ``--baseline REF`` also runs the Python
side for git commit REF (``git archive``), interleaved with the current one on the same server, and
prints a before/after table (baseline, current, change %, reference). ``--tls`` runs the Python side
over TLS (a TLS-only redis-server with a throwaway CA; the reference is skipped: its ioredis options
are fixed in ``bench.js``). Logs and raw JSON lines go to ``bench/results/<timestamp>/``.

Figures only: nothing here asserts on timings.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from common import (  # noqa: E402
    change_pct,
    copy_core,
    core_dirty,
    export_ref,
    git_head,
    markdown_table,
    redacted,
    start_redis,
)

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_REFERENCE = Path(os.environ.get("HOTMESH_REFERENCE_DIR") or REPO.parent / "shared" / "reference")
SCENARIOS = ("trigger", "seq", "fan")
LABELS = {"trigger": "trigger", "seq": "trigger→w→w→w", "fan": "trigger→5 parallel w"}
PHASES = ("pub", "pubsub_concurrent", "pubsub_sequential")

Getter = Callable[[dict[str, Any]], float | None]


# ---------- the figures of the table ----------
def _ph(phase: str, key: str) -> Getter:
    def get(result: dict[str, Any]) -> float | None:
        value = result.get("phases", {}).get(phase, {}).get(key)
        return float(value) if isinstance(value, int | float) else None
    return get


def _lat(key: str) -> Getter:
    def get(result: dict[str, Any]) -> float | None:
        value = result.get("phases", {}).get("pubsub_sequential", {}).get("latencyMs", {}).get(key)
        return float(value) if isinstance(value, int | float) else None
    return get


def _cpu_ms(phase: str) -> Getter:
    def get(result: dict[str, Any]) -> float | None:
        ph = result.get("phases", {}).get(phase)
        if not ph:
            return None
        sec = ph.get("pythonCpuSec", ph.get("nodeCpuSec"))
        return None if sec is None else 1000 * float(sec) / float(ph["workflows"])
    return get


def _cpu_util(phase: str) -> Getter:
    def get(result: dict[str, Any]) -> float | None:
        ph = result.get("phases", {}).get(phase)
        if not ph:
            return None
        value = ph.get("pythonCpuUtil", ph.get("nodeCpuUtil"))
        return None if value is None else float(value)
    return get


def _redis_cpu_ms(phase: str) -> Getter:
    def get(result: dict[str, Any]) -> float | None:
        ph = result.get("phases", {}).get(phase)
        if not ph:
            return None
        return 1000 * float(ph["redisCpuSec"]) / float(ph["workflows"])
    return get


def _idle(result: dict[str, Any]) -> float | None:
    value = result.get("idle", {}).get("commandsPerSec")
    return float(value) if isinstance(value, int | float) else None


@dataclass(frozen=True)
class Figure:
    phase: str          # the phase name shown in the table
    name: str
    get: Getter
    digits: int = 1
    ratio: bool = True


def figures() -> list[Figure]:
    out: list[Figure] = []
    for phase in PHASES:
        out.append(Figure(phase, "workflows/s", _ph(phase, "workflowsPerSec"), 1))
        if phase == "pubsub_sequential":
            out += [Figure(phase, "latency p50 ms", _lat("p50"), 2),
                    Figure(phase, "latency p90 ms", _lat("p90"), 2),
                    Figure(phase, "latency p99 ms", _lat("p99"), 2)]
        out += [
            Figure(phase, "redis cmds/wf", _ph(phase, "redisCommandsPerWorkflow"), 2),
            Figure(phase, "round trips/wf", _ph(phase, "clientRoundTripsPerWorkflow"), 2),
            Figure(phase, "redis usec/wf", _ph(phase, "redisUsecPerWorkflow"), 1),
            Figure(phase, "process CPU ms/wf", _cpu_ms(phase), 2),
            Figure(phase, "process CPU util", _cpu_util(phase), 2),
            Figure(phase, "redis CPU ms/wf", _redis_cpu_ms(phase), 2),
            Figure(phase, "redis CPU util", _ph(phase, "redisCpuUtil"), 2),
            Figure(phase, "other load on box, cores", _ph(phase, "otherBusyCores"), 2, ratio=False),
        ]
        if phase == "pub":
            out += [Figure(phase, "all pub calls returned s", _ph(phase, "pubCallsReturnedSec"), 2),
                    Figure(phase, "bytes/job at completion", _ph(phase, "bytesPerJobAtCompletion"), 0),
                    Figure(phase, "bytes/job after settle", _ph(phase, "bytesPerJobAfterSettle"), 0)]
    out.append(Figure("idle", "redis cmds/s", _idle, 2))
    out += [Figure("kept", "bytes/completed job", _kept("usedMemoryDeltaPerJob"), 0),
            Figure("kept", "dataset bytes/completed job", _kept("usedMemoryDatasetDeltaPerJob"), 0),
            Figure("kept", "job hash MEMORY USAGE", _kept("jobHashMemoryUsageAvg"), 0),
            Figure("kept", "job hash fields", _kept("jobHashFieldsAvg"), 0),
            Figure("expired", "bytes/job left (connections closed)", _left, 1)]
    return out


def _kept(key: str) -> Getter:
    """A figure of the layout probe (``layout.py`` / ``layout.js``: completed jobs kept, weighed)."""
    def get(result: dict[str, Any]) -> float | None:
        value = result.get("kept", {}).get(key)
        return float(value) if isinstance(value, int | float) else None
    return get


def _left(result: dict[str, Any]) -> float | None:
    value = result.get("kept", {}).get("residue", {}).get("bytesPerJobLeft")
    return float(value) if isinstance(value, int | float) else None


#: the rows of the short table (README): (phase, figure)
SUMMARY = [("pub", "workflows/s"), ("pub", "redis cmds/wf"), ("pub", "round trips/wf"),
           ("pub", "process CPU ms/wf"), ("pubsub_concurrent", "workflows/s"),
           ("pubsub_sequential", "latency p50 ms"), ("pubsub_sequential", "latency p99 ms"),
           ("kept", "bytes/completed job"), ("kept", "dataset bytes/completed job"),
           ("kept", "job hash MEMORY USAGE"),
           ("pub", "bytes/job at completion"), ("pub", "bytes/job after settle"),
           ("expired", "bytes/job left (connections closed)"), ("idle", "redis cmds/s")]


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def fmt(value: float | None, digits: int) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}"


def ratio(py: float | None, ref: float | None) -> str:
    if py is None or ref is None or ref == 0:
        return "-"
    return f"{py / ref:.2f}"


@dataclass
class Row:
    scenario: str
    phase: str
    figure: str
    python: float | None
    reference: float | None
    digits: int
    note: str = ""
    ratio: bool = True
    baseline: float | None = None
    baseline_note: str = ""

    def cells(self) -> list[str]:
        py = fmt(self.python, self.digits) if self.note == "" else self.note
        return [LABELS.get(self.scenario, self.scenario), self.phase, self.figure, py,
                fmt(self.reference, self.digits),
                ratio(self.python, self.reference) if self.ratio else "-"]

    def change(self) -> float | None:
        """current vs baseline, in % (None where either is missing, or for a figure without ratio)."""
        return change_pct(self.baseline, self.python) if self.ratio else None

    def before_after_cells(self) -> list[str]:
        base = fmt(self.baseline, self.digits) if self.baseline_note == "" else self.baseline_note
        now = fmt(self.python, self.digits) if self.note == "" else self.note
        change = self.change()
        return [LABELS.get(self.scenario, self.scenario), self.phase, self.figure, base, now,
                "-" if change is None else f"{change:+.1f}%", fmt(self.reference, self.digits)]


def _medians(runs: list[dict[str, Any]], fig: Figure) -> tuple[float | None, str]:
    """The median of a figure over runs, and "FAILED" when it is missing because a run failed."""
    values = [v for v in (fig.get(x) for x in runs) if v is not None]
    if values:
        return median(values), ""
    failed = any(fig.phase in x.get("errors", {}) or "setup" in x.get("errors", {}) for x in runs) or not runs
    return None, "FAILED" if failed else ""


def build_rows(scenarios: list[str], py: list[dict[str, Any]], ref: list[dict[str, Any]],
               base: list[dict[str, Any]] | None = None) -> list[Row]:
    rows: list[Row] = []
    for scenario in scenarios:
        py_runs = [x for x in py if x.get("scenario") == scenario]
        ref_runs = [x for x in ref if x.get("scenario") == scenario]
        base_runs = [x for x in base or [] if x.get("scenario") == scenario]
        for fig in figures():
            pv, note = _medians(py_runs, fig)
            rv = median([v for v in (fig.get(x) for x in ref_runs) if v is not None])
            bv, base_note = _medians(base_runs, fig) if base is not None else (None, "")
            rows.append(Row(scenario, fig.phase, fig.name, pv, rv, fig.digits, note, fig.ratio, bv, base_note))
    return rows


def summary(rows: list[Row]) -> list[Row]:
    order = {key: n for n, key in enumerate(SUMMARY)}
    picked = [row for row in rows if (row.phase, row.figure) in order]
    return sorted(picked, key=lambda r: (r.scenario != "trigger", r.scenario, order[(r.phase, r.figure)]))


def markdown(rows: list[Row]) -> str:
    return markdown_table(["scenario", "phase", "figure", "python", "reference", "ratio"],
                          (row.cells() for row in rows), "lllrrr")


def before_after(rows: list[Row], baseline: str, current: str) -> str:
    return markdown_table(["scenario", "phase", "figure", f"baseline {baseline}", f"current {current}", "change",
                           "reference"], (row.before_after_cells() for row in rows), "lllrrrr")


# ---------- processes ----------
def redis_version(server: Any) -> str:
    return subprocess.run([server.binary, "--version"], capture_output=True, text=True).stdout.strip()


def run_logged(cmd: list[str], *, env: dict[str, str], cwd: Path, log: Path, timeout: float,
               echo: Callable[[str], bool], stdout_to: IO[str] | None = None) -> tuple[int | None, str]:
    """Run ``cmd`` (its own process group), tee stderr+stdout to ``log``, echo selected lines.

    Returns (exit code or None on timeout, captured stdout).
    """
    captured: list[str] = []
    with log.open("w") as fh:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)

        def pump(stream: IO[str], keep: bool) -> None:
            for line in stream:
                fh.write(line)
                fh.flush()
                if keep:
                    captured.append(line)
                if echo(line):
                    print("   " + line.rstrip(), file=sys.stderr, flush=True)

        assert proc.stdout is not None and proc.stderr is not None
        threads = [threading.Thread(target=pump, args=(proc.stdout, True), daemon=True),
                   threading.Thread(target=pump, args=(proc.stderr, False), daemon=True)]
        for t in threads:
            t.start()
        try:
            code: int | None = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            code = None
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)     # the child's own group only
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for t in threads:
            t.join(5)
    return code, "".join(captured)


def tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            out.append(json.loads(line))
    return out


def snapshot_tree(dest: Path) -> Path:
    """Copy the working tree's ``hotmesh_core/`` (as it is now) into ``dest/src``."""
    return copy_core(dest / "src")


def git_describe(ref: str | None) -> str:
    sha = git_head(ref)
    if not sha:
        return "?"
    if ref:
        return f"{ref} ({sha}, exported with git archive)"
    return (f"working tree on {sha}" + (" with uncommitted changes in hotmesh_core/" if core_dirty() else "")
            + ", copied at start")


# ---------- main ----------
@dataclass
class Outcome:
    python: list[dict[str, Any]] = field(default_factory=list)
    baseline: list[dict[str, Any]] = field(default_factory=list)
    reference: list[dict[str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    reference_tables: str = ""


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description="hotmesh_core vs reference HotMesh, side by side on one Redis")
    p.add_argument("--n", type=int, default=1000, help="jobs per throughput phase (default 1000)")
    p.add_argument("--lat", type=int, default=200, help="sequential pubsub calls (default 200)")
    p.add_argument("--reps", type=int, default=1, help="repetitions (separate processes; default 1)")
    p.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma or space separated")
    p.add_argument("--no-reference", action="store_true", help="Python figures only")
    p.add_argument("--no-layout", action="store_true", help="skip weighing completed jobs (layout.py / layout.js)")
    p.add_argument("--json", type=Path, default=None, help="write all results and the table here")
    p.add_argument("--reference-dir", type=Path, default=DEFAULT_REFERENCE)
    p.add_argument("--ref", default=None,
                   help="benchmark this git commit of hotmesh_core (git archive) instead of the working tree")
    p.add_argument("--baseline", default=None, metavar="REF",
                   help="also run the python side for this git commit (git archive), on the same server, and "
                        "print a before/after table")
    p.add_argument("--tls", action="store_true",
                   help="redis-server over TLS only (throwaway CA); python side only: the reference is skipped")
    p.add_argument("--concurrency", type=int, default=0,
                   help="python only: bound on in-flight pub/pubsub calls (0: all N at once, like bench.js)")
    p.add_argument("--max-connections", type=int, default=0,
                   help="python only: redis-py pool size of the HotMesh client (0: hotmesh_core's default)")
    p.add_argument("--profile", default=None, choices=list(PHASES),
                   help="python only: cProfile this phase (slows it) and print the top functions")
    p.add_argument("--uvloop", action="store_true",
                   help="python only: the benchmark processes run on uvloop (hotmesh_bench.py --uvloop)")
    p.add_argument("--tracing", action="store_true",
                   help="python only: Settings.tracing on with OpenTelemetry SDK providers (hotmesh_bench.py --tracing)")
    p.add_argument("--timeout", type=float, default=900, help="seconds per python run / whole reference run")
    p.add_argument("--out-dir", type=Path, default=None, help="default bench/results/<timestamp>")
    a = p.parse_args()
    a.scenarios = [s for s in re.split(r"[,\s]+", a.scenarios) if s]
    unknown = [s for s in a.scenarios if s not in SCENARIOS]
    if unknown:
        p.error(f"unknown scenarios {unknown}; choose from {', '.join(SCENARIOS)}")
    return a


@dataclass
class Side:
    """One version of hotmesh_core measured by the Python harness."""

    name: str            # "python" (the current one) or "baseline"
    src: Path            # what goes first on PYTHONPATH
    results: Path
    runs: list[dict[str, Any]]


def python_env(src: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_PORT"}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(src), *filter(None, [env.get("PYTHONPATH")])])
    return env


def run_python(args: argparse.Namespace, url: str, out_dir: Path, outcome: Outcome) -> None:
    # one consistent copy of the package for every run: the working tree may change meanwhile
    sides = [Side("python", export_ref(args.ref, out_dir) if args.ref else snapshot_tree(out_dir),
                  out_dir / "python.jsonl", outcome.python)]
    if args.baseline:
        (out_dir / "baseline").mkdir(exist_ok=True)
        sides.append(Side("baseline", export_ref(args.baseline, out_dir / "baseline"), out_dir / "baseline.jsonl",
                          outcome.baseline))
    for rep in range(1, args.reps + 1):
        for scenario in args.scenarios:
            # baseline and current one after the other; the order alternates with the repetition
            for side in sides[::-1] if rep % 2 else sides:
                run_python_once(args, url, out_dir, outcome, side, scenario, rep)


def run_python_once(args: argparse.Namespace, url: str, out_dir: Path, outcome: Outcome, side: Side,
                    scenario: str, rep: int) -> None:
    print(f"== {side.name} {scenario} rep {rep}", file=sys.stderr, flush=True)
    cmd = [sys.executable, str(HERE / "hotmesh_bench.py"), "--scenario", scenario, "--n", str(args.n),
           "--lat", str(args.lat), "--rep", str(rep), "--out", str(side.results), "--redis-url", url,
           "--concurrency", str(args.concurrency), "--max-connections", str(args.max_connections)]
    if args.profile:
        cmd += ["--profile", args.profile]
    if args.tracing:
        cmd += ["--tracing"]
    if args.uvloop:
        cmd += ["--uvloop"]
    before = len(read_jsonl(side.results))
    log = out_dir / f"{side.name}.{scenario}.{rep}.log"
    code, _ = run_logged(cmd, env=python_env(side.src), cwd=REPO, log=log, timeout=args.timeout,
                         echo=lambda line: line.startswith(("[", "BENCH ERROR")))
    got = read_jsonl(side.results)[before:]
    if code is None:
        outcome.failures.append(f"{side.name} {scenario} rep {rep}: killed after {args.timeout:.0f} s "
                                f"(hang?); log {log}; last lines:\n{tail(log)}")
    elif not got:
        outcome.failures.append(f"{side.name} {scenario} rep {rep}: exit {code}, no result; log {log}; "
                                f"last lines:\n{tail(log)}")
    for result in got:
        for phase, error in result.get("errors", {}).items():
            outcome.failures.append(f"{side.name} {scenario} rep {rep} phase {phase}: "
                                    f"{_shorten(error)}\n(full log: {log})")
    side.runs += got


def _shorten(text: str, lines: int = 40) -> str:
    rows = text.rstrip().splitlines()
    return "\n".join(rows if len(rows) <= lines else rows[:8] + ["  ..."] + rows[-(lines - 9):])


def run_layout(args: argparse.Namespace, url: str, port: int, out_dir: Path, outcome: Outcome) -> None:
    """Weigh completed jobs (kept one day) on both sides: ``layout.py`` (for the baseline too) and the
    reference's ``layout.js`` (copied to ``out_dir`` first: it writes its report next to itself)."""
    sides = [("python", out_dir / "src", outcome.python)]    # the copies run_python measured
    if args.baseline:
        sides.append(("baseline", out_dir / "baseline" / "src", outcome.baseline))
    for name, src, runs in sides:
        print(f"== layout: {name} {' '.join(args.scenarios)}", file=sys.stderr, flush=True)
        log = out_dir / f"layout.{name}.log"
        code, stdout = run_logged([sys.executable, str(HERE / "layout.py"), "--redis-url", url, "--n", str(args.n),
                                   "--scenarios", ",".join(args.scenarios)], env=python_env(src), cwd=REPO,
                                  log=log, timeout=args.timeout, echo=lambda line: False)
        try:
            bulk = json.loads(stdout.strip().splitlines()[-1])["bulk"]
            runs += [{"scenario": s, "kept": v} for s, v in bulk.items()]
        except (ValueError, KeyError, IndexError):
            outcome.failures.append(f"layout.py ({name}): exit {code}; log {log}; last lines:\n{tail(log)}")
    script = args.reference_dir / "layout.js"
    if args.no_reference or shutil.which("node") is None or not script.exists():
        return
    env = dict(os.environ, REDIS_PORT=str(port), PYTHONUNBUFFERED="1")
    home = Path(os.environ.get("REF_HOME") or Path.home() / ".cache" / "hotmesh-reference")
    copy = out_dir / "reference-layout" / "layout.js"
    copy.parent.mkdir(parents=True, exist_ok=True)
    for name in ("layout.js", "bench.yaml", "package.json"):
        if (args.reference_dir / name).exists():
            shutil.copy(args.reference_dir / name, copy.parent / name)
    print(f"== layout: reference {' '.join(args.scenarios)}", file=sys.stderr, flush=True)
    log = out_dir / "layout.reference.log"
    code, _ = run_logged(["node", str(copy), "--n", str(args.n)], env=dict(env, NODE_PATH=str(home / "node_modules")),
                         cwd=copy.parent, log=log, timeout=args.timeout, echo=lambda line: False)
    report = copy.parent / "layout.json"
    if report.exists():
        bulk = json.loads(report.read_text()).get("bulk", {})
        outcome.reference += [{"scenario": s, "kept": v} for s, v in bulk.items() if s in args.scenarios]
    else:
        outcome.failures.append(f"reference layout.js: exit {code}; log {log}; last lines:\n{tail(log)}")


def run_reference(args: argparse.Namespace, port: int, out_dir: Path, outcome: Outcome) -> None:
    missing = [tool for tool in ("node", "npm", "bash") if shutil.which(tool) is None]
    script = args.reference_dir / "run.sh"
    if missing or not script.exists():
        why = f"{', '.join(missing)} not found on PATH" if missing else f"{script} not found"
        print(f"!! reference skipped: {why}; printing Python figures only", file=sys.stderr)
        outcome.notes.append(f"reference skipped: {why}")
        return
    print(f"== reference (HotMesh 0.3.32 on node) {' '.join(args.scenarios)} x {args.reps}", file=sys.stderr,
          flush=True)
    env = dict(os.environ, REDIS_PORT=str(port), N=str(args.n), LAT=str(args.lat),
               SCENARIOS=" ".join(args.scenarios))
    log = out_dir / "reference.log"
    code, stdout = run_logged(["bash", str(script), str(args.reps)], env=env, cwd=REPO, log=log,
                              timeout=args.timeout * max(1, len(args.scenarios) * args.reps),
                              echo=lambda line: line.startswith(("[", "reference run")))
    match = re.search(r"^raw results: (.+)$", stdout, re.M)
    if code is None:
        outcome.failures.append(f"reference: killed after timeout; log {log}")
    elif code != 0 and not match:
        outcome.failures.append(f"reference: exit {code}; log {log}; last lines:\n{tail(log)}")
    for line in stdout.splitlines():
        if line.startswith("reference run"):
            outcome.failures.append(f"reference: {line} (see {log})")
    if match:
        raw = Path(match.group(1).strip())
        outcome.reference = read_jsonl(raw)
        if raw.exists():
            shutil.copy(raw, out_dir / "reference.jsonl")
    outcome.reference_tables = stdout.split("raw results:")[0].strip()


def main() -> int:
    args = parse_args()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out_dir = (args.out_dir or HERE / "results" / stamp).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    outcome = Outcome()
    if args.tls and not args.no_reference:
        args.no_reference = True      # bench.js / layout.js connect with fixed ioredis options: no TLS
        outcome.notes.append("--tls: reference skipped (bench.js and layout.js take only REDIS_PORT, no TLS)")
    redis = start_redis(tls=args.tls)
    version = redis_version(redis)
    source = git_describe(args.ref)
    base_source = git_describe(args.baseline) if args.baseline else ""
    started = time.monotonic()
    try:
        print(f"redis-server on 127.0.0.1:{redis.port}{' (TLS only)' if args.tls else ''} ({version}); "
              f"results in {out_dir}", file=sys.stderr, flush=True)
        run_python(args, redis.url, out_dir, outcome)
        if not args.no_reference:
            run_reference(args, redis.port, out_dir, outcome)
        if not args.no_layout:
            run_layout(args, redis.url, redis.port, out_dir, outcome)
    except KeyboardInterrupt:
        outcome.failures.append("interrupted")
    finally:
        redis.stop()

    rows = build_rows(args.scenarios, outcome.python, outcome.reference,
                      outcome.baseline if args.baseline else None)
    env: dict[str, Any] = next((x["env"] for x in outcome.python if x.get("env")), {})
    ref_env: dict[str, Any] = next((x["env"] for x in outcome.reference if x.get("env")), {})
    print()
    print(f"N={args.n} jobs per throughput phase, LAT={args.lat} sequential pubsub calls, reps={args.reps} "
          f"(medians), one redis-server ({version.split(' sha=')[0]}), {os.cpu_count()} CPUs "
          f"({env.get('cpuModel', '?')}); {time.monotonic() - started:.0f} s in all")
    print(f"python: hotmesh_core {env.get('hotmesh_core', '?')} from {source}, Python {env.get('python', '?')}, "
          f"redis-py {env.get('redis_py', '?')}, hiredis {env.get('hiredis', '?')}; "
          f"in-flight calls: {env.get('concurrency', '?')}; pool: {env.get('maxConnections', '?')}")
    if args.baseline:
        print(f"baseline: hotmesh_core from {base_source}, same harness, same server, runs interleaved")
    if args.tls:
        print(f"redis over TLS: {redacted(redis.url)}")
    if ref_env:
        print(f"reference: @hotmeshio/hotmesh {ref_env.get('hotmesh')}, node {ref_env.get('node')}, "
              f"ioredis {ref_env.get('ioredis')}")
    elif not args.no_reference:
        print("reference: no figures")
    print("ratio = python / reference (above 1 is better for workflows/s, below 1 is better for the rest)")
    print()
    print("Summary:\n")
    print(markdown(summary(rows)))
    print("\nAll figures:\n")
    print(markdown(rows))
    if args.baseline:
        print(f"\nBefore/after: baseline {base_source} -> current {source}; change = (current - baseline) / "
              "baseline; reference from the same run\n")
        print(before_after(rows, args.baseline, args.ref or "working tree"))
    for note in outcome.notes:
        print(f"\nnote: {note}")
    if outcome.failures:
        print("\nFAILURES:")
        for failure in outcome.failures:
            print("- " + failure)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "source": source, "redis": version, "python": outcome.python,
            "reference": outcome.reference, "baselineSource": base_source or None, "baseline": outcome.baseline,
            "rows": [{"scenario": r.scenario, "phase": r.phase, "figure": r.figure, "python": r.python,
                      "reference": r.reference, "ratio": None if r.python is None or not r.reference
                      or not r.ratio else r.python / r.reference, "note": r.note,
                      **({"baseline": r.baseline, "changePct": r.change(), "baselineNote": r.baseline_note}
                         if args.baseline else {})} for r in rows],
            "failures": outcome.failures, "notes": outcome.notes, "reference_tables": outcome.reference_tables,
        }, indent=1))
        print(f"\nJSON written to {args.json}")
    return 1 if outcome.failures else 0


if __name__ == "__main__":
    sys.exit(main())
