"""The app the CLI tests deploy (``{APP}`` is replaced by the test's app id)."""

from __future__ import annotations

from pathlib import Path

V1 = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: cli.double
      expire: 60
      activities:
        t1: { type: trigger, stats: { id: '{$self.input.data.id}' } }
        w1:
          type: worker
          topic: cli.double.work
          input: { maps: { x: '{t1.output.data.x}', sleep: '{t1.output.data.sleep}' } }
          job: { maps: { y: '{$self.output.data.y}' } }
      transitions:
        t1: [ { to: w1 } ]
    - subscribes: cli.fail
      expire: 60
      activities:
        f0: { type: trigger }
        f1: { type: worker, topic: cli.fail.work }
      transitions:
        f0: [ { to: f1 } ]
    - subscribes: cli.wait
      expire: 60
      activities:
        h0: { type: trigger, stats: { id: '{$self.input.data.id}' } }
        h1: { type: hook, job: { maps: { answer: '{$self.hook.data.answer}' } } }
      transitions:
        h0: [ { to: h1 } ]
      hooks:
        cli.resume:
          - to: h1
            conditions:
              match:
                - expected: '{$job.metadata.jid}'
                  actual: '{$self.hook.data.id}'
"""

# v2 adds an activity after the worker (a hot deploy that is not breaking).
V2 = V1.replace("version: '1'", "version: '2'").replace(
    "        t1: [ { to: w1 } ]\n",
    "        t1: [ { to: w1 } ]\n        w1: [ { to: mark } ]\n").replace(
    "          job: { maps: { y: '{$self.output.data.y}' } }\n",
    "          job: { maps: { y: '{$self.output.data.y}' } }\n"
    "        mark: { type: hook, job: { maps: { version: 2 } } }\n")

# v3 drops the cli.wait graph: breaking for jobs still waiting on v1.
V3 = V1.replace("version: '1'", "version: '3'").split("    - subscribes: cli.wait")[0]

# worker w1 has no topic (line 13 of the file, counting the leading blank line).
INVALID = V1.replace("          topic: cli.double.work\n", "")


def write(tmp_path: Path, name: str, text: str, app_id: str) -> Path:
    path = tmp_path / name
    path.write_text(text.replace("{APP}", app_id))
    return path
