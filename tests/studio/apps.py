"""The apps the browser tests serve: the demo app with slower workers (so a job's nodes are seen
running), and a 'sleepy' app with a long sleep (interrupt) and a web hook (signal). Each app id
carries the test process id, so the studio's keys and channels never meet other tests'."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PREFIX = f"st{os.getpid()}"
DEMO = f"{PREFIX}-demo"
SLEEPY = f"{PREFIX}-sleepy"
REVIEW = f"{PREFIX}-review"      # the versions test changes its active version: an app of its own

SLOW_WORKERS = '''
import asyncio
from hotmesh_core import WorkerMessage

async def compose(message: WorkerMessage):
    await asyncio.sleep(2.5)      # long enough to see it running even on a busy 2-core machine
    return {"message": f"{message.data.get('greeting', 'hello')}, {message.data['name']}!"}

async def shout(message: WorkerMessage):
    await asyncio.sleep(1.5)
    return {"text": message.data["text"].upper()}

WORKERS = {"demo.compose": compose, "demo.shout": shout}
EXAMPLE = {"topic": "demo.greet", "data": {"name": "world", "shout": True}}
'''

SLEEPY_YAML = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: nap.start
      expire: 300
      activities:
        begin: { type: trigger, title: Nap requested, stats: { id: '{$self.input.data.id}' } }
        nap: { type: hook, title: Sleep a minute, sleep: 60 }
        after: { type: hook, title: Woke up, job: { maps: { woke: true } } }
      transitions:
        begin: [ { to: nap } ]
        nap: [ { to: after } ]
    - subscribes: approval.start
      expire: 300
      activities:
        ask: { type: trigger, title: Approval requested, stats: { id: '{$self.input.data.id}' } }
        wait: { type: hook, title: Wait for the signal, job: { maps: { answer: '{$self.hook.data.answer}' } } }
        decided: { type: hook, title: Decided }
      transitions:
        ask: [ { to: wait } ]
        wait: [ { to: decided } ]
      hooks:
        approval.answer:
          - to: wait
            conditions:
              match:
                - expected: '{$job.metadata.jid}'
                  actual: '{$self.hook.data.id}'
"""

SLEEPY_WORKERS = '''
WORKERS = {}
EXAMPLE = {"topic": "nap.start", "data": {"id": "nap-1"}}
'''


FAST_WORKERS = '''
from hotmesh_core import WorkerMessage

async def compose(message: WorkerMessage):
    return {"message": f"{message.data.get('greeting', 'hello')}, {message.data['name']}!"}

async def shout(message: WorkerMessage):
    return {"text": message.data["text"].upper()}

WORKERS = {"demo.compose": compose, "demo.shout": shout}
EXAMPLE = {"topic": "demo.greet", "data": {"name": "world", "shout": True}}
'''

SHOUT_ACTIVITY = """        shout:
          title: Shout it
          type: worker
          topic: demo.shout
          input:
            maps:
              text: '{compose.output.data.message}'
          job:
            maps:
              message: '{$self.output.data.text}'
"""
SHOUT_TRANSITION = """          - to: shout
            conditions:
              match:
                - expected: true
                  actual: '{start.output.data.shout}'
"""
AUDIT_ACTIVITY = """        audit:
          title: Audit the greeting
          type: hook
"""
AUDIT_TRANSITION = """          - to: audit
            conditions: { code: 200 }
"""


def demo_v2(text: str, version: str = "2") -> str:
    """The demo app as its next version: 'shout' removed (a breaking change), 'audit' added after
    'compose' (so 'compose' changes too)."""
    for part in (SHOUT_ACTIVITY, SHOUT_TRANSITION, "version: '1'"):
        assert part in text, part
    text = text.replace(SHOUT_ACTIVITY, "").replace(SHOUT_TRANSITION, "").replace("version: '1'", f"version: '{version}'")
    text = text.replace("      transitions:\n", AUDIT_ACTIVITY + "      transitions:\n", 1)
    return text.replace("            conditions: { code: 200 }\n", "            conditions: { code: 200 }\n"
                        + AUDIT_TRANSITION, 1)


def make_assets(target: Path) -> Path:
    """``target/apps/{demo,sleepy,review}`` with unique app ids; returns ``target`` (HOTMESH_ASSETS)."""
    demo = target / "apps" / "demo"
    demo.mkdir(parents=True)
    text = (ROOT / "assets" / "apps" / "demo" / "app.yaml").read_text()
    (demo / "app.yaml").write_text(text.replace("id: demo", f"id: {DEMO}", 1))
    (demo / "workers.py").write_text(SLOW_WORKERS)
    sleepy = target / "apps" / "sleepy"
    sleepy.mkdir(parents=True)
    (sleepy / "app.yaml").write_text(SLEEPY_YAML.replace("{APP}", SLEEPY))
    (sleepy / "workers.py").write_text(SLEEPY_WORKERS)
    review = target / "apps" / "review"
    review.mkdir(parents=True)
    (review / "app.yaml").write_text(text.replace("id: demo", f"id: {REVIEW}", 1))
    (review / "workers.py").write_text(FAST_WORKERS)
    return target


def copy_orders(target: Path) -> None:
    shutil.copytree(ROOT / "assets" / "apps" / "orders", target / "apps" / "orders")


LARGE = f"{PREFIX}-large"
LARGE_WORKERS = '''
import asyncio

async def work(message):
    await asyncio.sleep(0.3)       # a 50-step branch runs many seconds: colours are seen changing
    return {"ok": True}

WORKERS = {"large.work": work}
EXAMPLE = {"topic": "large.go", "data": {"customer": 0}}
'''


def large_manifest(app_id: str, count: int = 200) -> str:
    """A trigger and four branches of sequential workers, ``count`` activities in all; every tenth
    step also has a side hook behind a condition (never taken, so it stays pending)."""
    lines = ["app:", f"  id: {app_id}", "  version: '1'", "  graphs:", "    - subscribes: large.go",
             "      expire: 600", "      activities:", "        go: { type: trigger }"]
    transitions: dict[str, list[str]] = {"go": []}
    tips = ["go"] * 4
    made, step = 1, 0
    while made < count:
        for branch in range(4):
            if made >= count:
                break
            aid = f"b{branch}s{step}"
            lines.append(f"        {aid}: {{ type: worker, topic: large.work }}")
            transitions.setdefault(tips[branch], []).append(f"          - to: {aid}")
            tips[branch] = aid
            made += 1
            if step % 10 == 9 and made < count:
                side = f"b{branch}h{step}"
                lines.append(f"        {side}: {{ type: hook }}")
                transitions[aid] = [f"          - to: {side}", "            conditions:", "              match:",
                                    "                - expected: true",
                                    f"                  actual: '{{{aid}.output.data.retry}}'"]
                made += 1
        step += 1
    lines.append("      transitions:")
    for parent, targets in transitions.items():
        lines += [f"        {parent}:", *targets]
    return "\n".join(lines) + "\n"


def make_large_assets(target: Path) -> Path:
    """``target/apps/large``: one app of 200 activities (HOTMESH_ASSETS)."""
    large = target / "apps" / "large"
    large.mkdir(parents=True)
    (large / "app.yaml").write_text(large_manifest(LARGE))
    (large / "workers.py").write_text(LARGE_WORKERS)
    return target
