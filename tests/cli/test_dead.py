"""hotmesh dead list|show|replay|discard against a running engine process."""

from __future__ import annotations

import redis

from hotmesh_core.keys import Keys

from .conftest import Cli, Fleet, eventually


def test_dead_letters_from_the_command_line(cli: Cli, fleet: Fleet, app_id: str, sync_redis: redis.Redis) -> None:
    keys = Keys(app_id)
    assert cli("dead", "list").stdout.strip() == f"no dead letters in app {app_id}"
    sync_redis.xadd(keys.engine_stream(), {"message": "{not json"})
    letters = eventually(lambda: cli("dead", "list", "--json").json())
    assert len(letters) == 1 and letters[0]["stream"] == keys.engine_stream()
    assert letters[0]["message"] == "{not json" and letters[0]["reason"]
    first = letters[0]["id"]
    table = cli("dead", "list").stdout.splitlines()
    assert table[0].split()[:2] == ["ID", "WHEN"] and table[1].startswith(first)
    assert cli("dead", "show", first).json()["message"] == "{not json"
    replayed = cli("dead", "replay", first)
    assert replayed.code == 0 and replayed.stdout.strip()
    # the engine reads the replayed message again and, still unparseable, dead-letters it again
    again = eventually(lambda: [x for x in cli("dead", "list", "--json").json() if x["id"] != first])
    assert [x["message"] for x in again] == ["{not json"]
    assert cli("dead", "show", first).error == f"error: no dead letter {first} in app {app_id}"
    assert cli("dead", "discard", again[0]["id"]).stdout.strip() == f"discarded {again[0]['id']}"
    assert cli("dead", "list", "--json").json() == []
    assert cli("dead", "discard", again[0]["id"]).code == 1
    bad = cli("dead", "show", "nonsense")
    assert bad.code == 1 and bad.error.startswith("error: a dead letter id looks like 1700000000000-0")
