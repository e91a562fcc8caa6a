"""The core stays light (no Panel, Bokeh, networkx or graphviz on import), logs through NullHandler
under "hotmesh", finds its packaged example apps, and ``hotmesh studio`` / ``hotmesh examples``
behave. Fast: no wheel (``test_wheel.py`` does the same from an installed wheel)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from hotmesh_core.cli import cli
from hotmesh_core.examples import app_path, apps_dir, example_apps, notebooks_dir

ROOT = Path(__file__).resolve().parents[2]
STUDIO_ONLY = ("panel", "bokeh", "networkx", "graphviz")


def test_importing_the_core_imports_no_studio_dependency() -> None:
    probe = ("import json, logging, sys\n"
             "import hotmesh_core, hotmesh_core.cli, hotmesh_core.demo, hotmesh_core.examples, hotmesh_core.sync\n"
             "handlers = sorted({type(h).__name__ for h in logging.getLogger('hotmesh').handlers})\n"
             f"print(json.dumps({{'loaded': sorted(m for m in sys.modules if m.split('.')[0] in {STUDIO_ONLY!r}), "
             "'handlers': handlers}))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT)
    assert json.loads(out.stdout) == {"loaded": [], "handlers": ["NullHandler"]}


def test_every_library_logger_is_under_hotmesh() -> None:
    names = {m.group(1) for folder in ("hotmesh_core", "studio") for path in (ROOT / folder).rglob("*.py")
             for m in re.finditer(r"logging\.getLogger\(([^)]*)\)", path.read_text())}
    assert names and all(re.fullmatch(r'"hotmesh(\.[a-z_]+)*"', name) for name in names), names


def test_the_example_apps_and_notebooks_are_found() -> None:
    assert app_path("demo") == apps_dir() / "demo" / "app.yaml"
    assert {a.app_id for a in example_apps()} >= {"demo", "orders"}
    assert (notebooks_dir() / "01-quickstart.ipynb").is_file()


def test_hotmesh_examples_prints_an_apps_folder() -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["examples", "demo"])
    assert result.exit_code == 0 and Path(result.output.strip()) == app_path("demo").parent
    listing = runner.invoke(cli, ["--json", "examples"])
    assert {row["name"] for row in json.loads(listing.output)} >= {"demo", "orders"}
    assert runner.invoke(cli, ["examples", "nope"]).exit_code == 2


def test_hotmesh_studio_arguments(tmp_path: Path) -> None:
    from studio.serve import panel_arguments

    folder = Path("/x/studio")
    args = panel_arguments(folder, 5006, "127.0.0.1", show=False)
    assert args == ["/x/studio", "--address", "127.0.0.1", "--port", "5006",
                    "--allow-websocket-origin", "127.0.0.1:5006", "--allow-websocket-origin", "localhost:5006"]
    args = panel_arguments(folder, 80, "studio.example", show=True, allow=("proxy:443",))
    assert args[-5:] == ["--allow-websocket-origin", "studio.example:80", "--allow-websocket-origin", "proxy:443",
                         "--show"]
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(cli, ["studio", "--apps", str(empty)])
    assert result.exit_code == 2 and "holds no app" in result.output
