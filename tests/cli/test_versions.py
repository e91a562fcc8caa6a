"""plan, deploy and activate."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from hotmesh_core.cli import cli as hotmesh_cli
from hotmesh_core.sync import SyncHotMesh

from .apps import INVALID, V1, V2, V3, write
from .conftest import Cli, Fleet


def test_plan_valid_manifest_offline(cli: Cli, app_id: str, tmp_path: Path) -> None:
    """Without Redis, plan still validates; the table names the graphs and counts the activities."""
    path = write(tmp_path, "app.yaml", V1, app_id)
    offline = {k: v for k, v in cli.env.items() if k not in ("REDIS_URL", "HOTMESH_APP")}
    result = cli("plan", str(path), env=offline)
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"app {app_id} version 1: 3 graph(s), 6 activities"
    assert lines[1].split() == ["SUBSCRIBES", "PUBLISHES", "ACTIVITIES"]
    assert [line.split() for line in lines[2:5]] == [["cli.double", "-", "2"], ["cli.fail", "-", "2"],
                                                     ["cli.wait", "-", "2"]]
    assert "warnings: none" in lines
    assert "breaking changes: not checked (needs --redis-url)" in lines


def test_plan_invalid_manifest_is_located(cli: Cli, app_id: str, tmp_path: Path) -> None:
    path = write(tmp_path, "broken.yaml", INVALID, app_id)
    w1 = path.read_text().splitlines().index("        w1:") + 1     # the activity's key, or its body
    result = cli("plan", str(path))
    assert result.code == 1
    assert result.error in {f"error: {path}:{line}: activity 'w1': a worker activity needs a 'topic'"
                            for line in (w1, w1 + 1)}
    assert result.stdout == ""
    assert cli("deploy", str(path)).code == 1       # deploy refuses it the same way


def test_plan_reports_breaking_changes_against_the_active_version(cli: Cli, app_id: str, redis_url: str,
                                                                  tmp_path: Path) -> None:
    member = SyncHotMesh(app_id, redis_url, engine=True)     # an engine, so the quorum can form
    try:
        member.activate(member.deploy(write(tmp_path, "v1.yaml", V1, app_id)))
        report = cli("plan", str(write(tmp_path, "v3.yaml", V3, app_id)), "--json").json()
        assert report["version"] == "3" and report["active"] == "1"
        assert "graph 'cli.wait' was removed" in report["breaking"]
        assert "activity 'h1' (graph 'cli.wait') was removed" in report["breaking"]
        assert report["graphs"] == [{"subscribes": "cli.double", "publishes": None, "activities": 2},
                                    {"subscribes": "cli.fail", "publishes": None, "activities": 2}]
        table = cli("plan", str(write(tmp_path, "v2.yaml", V2, app_id)))
        assert table.code == 0 and "breaking changes against active version 1: none" in table.stdout
    finally:
        member.stop()


def test_deploy_then_activate_switches_new_jobs(cli: Cli, fleet: Fleet, app_id: str, tmp_path: Path) -> None:
    before = cli("pubsub", "cli.double", "--data", '{"x": 1}').json()
    assert before["metadata"]["vrs"] == "1" and before["data"] == {"y": 2}
    deployed = cli("deploy", str(write(tmp_path, "v2.yaml", V2, app_id)))
    assert (deployed.code, deployed.stdout) == (0, "2\n")
    assert cli("activate", "2").stdout == f"activated version 2 of app {app_id}\n"
    after = cli("pubsub", "cli.double", "--data", '{"x": 4}').json()
    assert after["metadata"]["vrs"] == "2" and after["data"] == {"y": 8, "version": 2}
    assert cli("--json", "activate", "2").json() == {"app": app_id, "version": "2", "activated": True}
    missing = cli("activate", "9")
    assert missing.code == 1 and "'9'" in missing.error and "never deployed" in missing.error


def test_deploy_refuses_a_manifest_of_another_app(tmp_path: Path) -> None:
    """In-process: checked before any connection (the URL points nowhere)."""
    path = write(tmp_path, "app.yaml", V1, "mine")
    result = CliRunner().invoke(hotmesh_cli, ["--redis-url", "redis://127.0.0.1:1/0", "--app", "theirs",
                                              "deploy", str(path)])
    assert result.exit_code == 1
    assert result.output == (f"error: {path}: manifest app.id 'mine' does not match this app 'theirs'\n")
