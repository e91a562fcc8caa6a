"""Studio sign-in without a browser: password hashes, the users file, roles, which binds are refused,
the editor's $ref errors, and a viewer's handlers refusing on a real Redis (nothing written)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from tornado.web import create_signed_value

from hotmesh_core import HotMesh
from hotmesh_core.cli import cli
from studio.access import LOCAL, Access, ReadOnlyError, ReadOnlyMesh, decide, read_only, signed_user
from studio.app_hooks import serve_command_refusal
from studio.auth import (
    Account,
    AuthConfig,
    AuthConfigError,
    bind_refusal,
    from_environment,
    hash_password,
    is_loopback,
    load_users,
    verify_password,
)
from studio.deadletters import DeadLettersView
from studio.editor import EditorView, check_manifest, conceal
from studio.fleet import FleetView
from studio.job import JobView
from studio.serve import SignIn, panel_arguments
from studio.start import StartJob
from studio.versions import VersionsView

from ..helpers import assert_eventually
from .apps import SLEEPY_YAML


# -- passwords and users ---------------------------------------------------------------------------
def test_hash_and_verify() -> None:
    first, second = hash_password("s3cret"), hash_password("s3cret")
    assert first.startswith("scrypt$16384$8$1$") and first != second      # a fresh salt each time
    assert verify_password("s3cret", first) and verify_password("s3cret", second)
    assert not verify_password("s3cret ", first) and not verify_password("", first)
    assert not verify_password("s3cret", "plain-text") and not verify_password("s3cret", "scrypt$3$8$1$x$y")
    with pytest.raises(AuthConfigError):
        hash_password("")


def test_users_file_toml_and_json(tmp_path: Path) -> None:
    toml = tmp_path / "users.toml"
    toml.write_text(f'[users.ed]\npassword_hash = "{hash_password("a")}"\nrole = "editor"\n'
                    f'[users.vi]\npassword_hash = "{hash_password("b")}"\n[oauth]\neditors = ["octo"]\n')
    config = load_users(toml)
    assert config.check("ed", "a") is not None and config.check("ed", "b") is None
    assert config.check("nobody", "a") is None
    assert config.role_of("ed", oauth=False) == "editor" and config.role_of("vi", oauth=False) == "viewer"
    assert config.role_of("octo", oauth=True) == "editor" and config.role_of("ed", oauth=True) == "viewer"
    data = tmp_path / "users.json"
    data.write_text(json.dumps({"users": {"x": {"password_hash": hash_password("c"), "role": "viewer"}}}))
    assert load_users(data).check("x", "c") is not None
    for bad in ('[users.x]\npassword_hash = "nope"\n', f'[users.x]\npassword_hash = "{hash_password("a")}"\n'
                'role = "admin"\n', '[users.x]\nrole = "editor"\n', "[people]\n", "not = [toml"):
        toml.write_text(bad)
        with pytest.raises(AuthConfigError):
            load_users(toml)


def test_one_user_and_editors_from_the_environment() -> None:
    env = {"HOTMESH_STUDIO_PASSWORD_HASH": hash_password("pw"), "HOTMESH_STUDIO_EDITORS": "a@x, b@y"}
    config = from_environment(env, editors=("c",))
    assert config.check("admin", "pw") is not None and config.role_of("admin", oauth=False) == "editor"
    assert config.editors == {"a@x", "b@y", "c"}
    assert not from_environment({}).has_users


# -- binds and sessions ----------------------------------------------------------------------------
def test_loopback_addresses() -> None:
    assert all(is_loopback(a) for a in ("127.0.0.1", "localhost", "::1", "127.3.4.5", "::ffff:127.0.0.1"))
    assert not any(is_loopback(a) for a in (None, "", "0.0.0.0", "::", "192.168.1.4", "studio.example"))
    assert bind_refusal("127.0.0.1", False) is None and bind_refusal("0.0.0.0", True) is None
    assert "without sign-in" in (bind_refusal("0.0.0.0", False) or "")


def test_hotmesh_studio_refuses_a_public_address_without_sign_in(tmp_path: Path) -> None:
    runner = CliRunner()
    for address in ("0.0.0.0", "192.0.2.7", "::"):
        result = runner.invoke(cli, ["studio", "--address", address])
        assert result.exit_code == 2 and "refusing to serve the studio" in result.output, result.output
    users = tmp_path / "users.toml"
    users.write_text(f'[users.ed]\npassword_hash = "{hash_password("a")}"\n')
    both = runner.invoke(cli, ["studio", "--address", "0.0.0.0", "--users", str(users), "--oauth-provider", "github"])
    assert both.exit_code == 2 and "choose one way to sign in" in both.output


def test_hash_password_command() -> None:
    result = CliRunner().invoke(cli, ["studio", "hash-password", "--stdin"], input="correct horse\n")
    assert result.exit_code == 0
    assert verify_password("correct horse", result.output.strip())
    assert CliRunner().invoke(cli, ["studio", "hash-password", "--stdin"], input="\n").exit_code == 2


def test_panel_arguments_carry_the_sign_in(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PANEL_OAUTH_PROVIDER", "PANEL_COOKIE_SECRET", "BOKEH_COOKIE_SECRET"):
        monkeypatch.delenv(name, raising=False)
    folder = Path("/x/studio")
    assert panel_arguments(folder, 5006, "127.0.0.1", False, sign_in=SignIn())[-1] == "localhost:5006"
    users = SignIn(AuthConfig({"ed": load_account()}))
    args = panel_arguments(folder, 5006, "0.0.0.0", False, sign_in=users)
    assert args[args.index("--auth-module") + 1] == "/x/studio/auth_module.py"
    assert len(args[args.index("--cookie-secret") + 1]) >= 32          # a random one when none is given
    oauth = SignIn(oauth_provider="github", oauth={"key": "id", "secret": "shh"}, cookie_secret="c" * 32)
    oauth.check("0.0.0.0")
    assert oauth.arguments(folder) == ["--cookie-secret", "c" * 32, "--oauth-provider", "github",
                                       "--oauth-key", "id", "--oauth-secret", "shh"]
    with pytest.raises(AuthConfigError):
        SignIn().check("0.0.0.0")


def load_account() -> Any:
    return from_environment({"HOTMESH_STUDIO_PASSWORD_HASH": hash_password("x")}).accounts["admin"]


def test_panel_serve_command_lines() -> None:
    assert serve_command_refusal(["panel", "serve", "studio", "--address", "0.0.0.0"], {})
    assert serve_command_refusal(["panel", "serve", "studio", "--address", "10.1.2.3", "--port", "1"], {})
    assert serve_command_refusal(["panel", "serve", "studio", "--address", "127.0.0.1"], {}) is None
    assert serve_command_refusal(["panel", "serve", "studio"], {}) is None     # refused per session instead
    assert serve_command_refusal(["panel", "serve", "studio", "--address", "0.0.0.0", "--auth-module",
                                  "studio/auth_module.py"], {}) is None
    assert serve_command_refusal(["panel", "serve", "studio", "--address", "0.0.0.0"],
                                 {"PANEL_OAUTH_PROVIDER": "github"}) is None
    assert serve_command_refusal(["hotmesh", "studio"], {}) is None


def test_session_access() -> None:
    config = AuthConfig({"vi": Account("vi", hash_password("x"))}, frozenset({"octo"}))
    assert decide("127.0.0.1", None, False, False, config) == LOCAL
    refused = decide("192.0.2.9", None, False, False, config)
    assert isinstance(refused, str) and "192.0.2.9" in refused and "hash-password" in refused
    assert decide("192.0.2.9", "vi", True, False, config) == Access("vi", "viewer")
    assert decide("192.0.2.9", "octo", True, True, config) == Access("octo", "editor")
    assert isinstance(decide("127.0.0.1", None, True, False, config), str)   # sign-in on: no user, no page
    secret = "k" * 32
    good = create_signed_value(secret, "user", "vi").decode()
    assert signed_user({"user": good}, secret) == "vi"
    assert signed_user({"user": good}, "other" * 8) is None and signed_user({"user": "vi"}, secret) is None
    assert signed_user({"is_guest": "1"}, secret) is None


# -- editor errors ---------------------------------------------------------------------------------
DOC = """app:
  id: demo
  version: '1'
  settings:
    $ref: REF
  graphs:
    - subscribes: a.b
      activities:
        t: { type: trigger }
"""


def test_editor_ref_errors_do_not_tell_the_servers_files_apart(tmp_path: Path) -> None:
    app, outside = tmp_path / "app", tmp_path / "outside"
    (app / "subdir").mkdir(parents=True)
    outside.mkdir()
    (outside / "exists.yaml").write_text("a: 1\n")
    (app / "inside.yaml").symlink_to(outside / "exists.yaml")
    (app / "dangling.yaml").symlink_to(outside / "missing.yaml")
    seen = set()
    for ref in ("../outside/exists.yaml", "../outside/missing.yaml", "missing.yaml", "subdir", "inside.yaml",
                "dangling.yaml", str(outside / "exists.yaml")[1:]):
        [error] = check_manifest(DOC.replace("REF", ref), app).errors
        seen.add((error["message"].replace(ref, "REF"), error["line"], error["column"], error["file"]))
    assert seen == {("$ref 'REF': no readable file at this path in the app folder", 5, None, None)}
    # a file the server may not read (tests run as root here, so the compiler's error is given as is)
    unreadable = {"message": "cannot read manifest: Permission denied", "line": None, "column": None,
                  "file": str((app / "locked.yaml").resolve()), "activity": None}
    error = conceal(unreadable, DOC.replace("REF", "locked.yaml"), app)
    assert (error["message"], error["line"], error["file"]) == (
        "$ref 'locked.yaml': no readable file at this path in the app folder", 5, None)


def test_editor_names_app_files_relative_to_the_app_folder(tmp_path: Path) -> None:
    (tmp_path / "settings.yaml").write_text("a: [unclosed\n")
    [error] = check_manifest(DOC.replace("REF", "settings.yaml"), tmp_path).errors
    assert error["file"] == "settings.yaml" and str(tmp_path) not in json.dumps(error)


# -- a viewer changes nothing (a real Redis) --------------------------------------------------------
async def test_viewer_handlers_refuse_and_write_nothing(mesh: Any, app_id: str, sync_redis: Any) -> None:
    hm: HotMesh = await mesh(SLEEPY_YAML)
    jid = await hm.pub("approval.start", {"id": "ask-1"})
    await assert_eventually(lambda: _waiting(hm, jid))
    viewer = ReadOnlyMesh(hm)
    assert read_only(viewer) and not read_only(hm)
    versions_before, jobs_before = await hm.versions(), await hm.list_jobs(limit=100)
    throttles_before = sync_redis.hgetall(hm.keys.throttles())
    sync_redis.xadd(f"hmsh:{app_id}:x:", {"message": "{broken"})
    await assert_eventually(lambda: _letters(hm))

    editor = EditorView(viewer, app_id=app_id)
    editor.load(SLEEPY_YAML.replace("{APP}", app_id).replace("version: '1'", "version: '2'"))
    assert editor.check.ok and editor.deploy_button.disabled and editor.review.activate_button.disabled
    await editor._deploy(None)
    assert "Read-only" in editor.outcome.object
    assert await editor._review()            # a viewer may look at the review; activating stays off
    assert editor.review.panel.visible and editor.review.activate_button.disabled
    editor.review.gate.deployed = True
    await editor.review._activate()          # the panel ignores a viewer's (crafted) click
    await editor._activate()                 # and under it, the mesh refuses
    assert "Read-only" in editor.outcome.object
    versions = VersionsView(viewer)
    await versions.load()
    assert versions.activate_button.disabled
    await versions._activate()
    start = StartJob(viewer)
    start.set_app(await hm.compiled("1"))
    assert start.button.disabled
    await start._start()
    fleet = FleetView(viewer)
    assert fleet.apply_button.disabled and fleet.pause_button.disabled and fleet.resume_button.disabled
    await fleet.set_throttle(-1)
    letters = DeadLettersView(viewer)
    await letters.load()
    letters.table.selection = [0]
    assert letters.selected() is not None and letters.replay_button.disabled and letters.discard_button.disabled
    await letters._replay()
    await letters._discard()
    job = JobView(viewer)
    await job.open(jid)
    assert job.interrupt_button.disabled and job.hook_button.disabled and job.rerun_button.disabled
    job.hook_topic.value = "approval.answer"
    job.hook_data.value = json.dumps({"id": jid, "answer": "yes"})
    await job._signal()
    await job._interrupt()
    await job._rerun()
    job.close()
    for message in (versions.outcome.object, start.message.object, fleet.message.object,
                    letters.message.object, job.message.object):
        assert message.startswith("Read-only"), message
    with pytest.raises(ReadOnlyError):            # beneath the handlers: the mesh itself refuses
        await viewer.hook("approval.answer", {"id": jid, "answer": "yes"})

    assert await hm.versions() == versions_before and await hm.active_version() == "1"
    assert await hm.list_jobs(limit=100) == jobs_before
    assert sync_redis.hgetall(hm.keys.throttles()) == throttles_before
    assert len(await hm.dead_letters()) == 1
    assert (await hm.export(jid))["status"] == (await _still(hm, jid))


async def _waiting(hm: HotMesh, jid: str) -> bool:
    export = await hm.export(jid)
    return any(a["aid"] == "wait" for a in export.get("activities", []))


async def _letters(hm: HotMesh) -> bool:
    return len(await hm.dead_letters()) == 1


async def _still(hm: HotMesh, jid: str) -> Any:
    export = await hm.export(jid)
    assert not export["metadata"].get("err"), "the job was interrupted"
    assert "answer" not in json.dumps(export.get("data", {})), "the signal went through"
    return export["status"]
