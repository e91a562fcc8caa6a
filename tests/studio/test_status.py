"""JobState: statuses from export snapshots and live events, in any order, with counts and timings."""

from __future__ import annotations

from studio.status import JobState, ledger_status, parse_ts


def event(aid: str, status: str, dad: str = ",0,0", ts: int = 1000, **extra):
    return {"type": "activity", "jid": "j1", "aid": aid, "dad": dad, "atp": extra.pop("atp", "worker"),
            "status": status, "code": 200, "ts": ts, "js": extra.pop("js", 1), "finished": 0, **extra}


EXPORT = {
    "status": "1", "metadata": {"jid": "j1", "tpc": "demo.greet", "vrs": "1"},
    "activities": [
        {"aid": "start", "dad": ",0", "type": "trigger", "ledger": None, "created": "20250101120000.000",
         "updated": "20250101120000.000", "error": None},
        {"aid": "compose", "dad": ",0,0", "type": "worker", "ledger": 889000000000000,
         "created": "20250101120000.010", "updated": "20250101120000.010", "error": None},
    ],
}


def test_snapshot_statuses_from_ledgers() -> None:
    state = JobState("j1")
    assert state.load_export(EXPORT) == {"start", "compose"}
    assert state.statuses(["start", "compose", "shout"]) == {
        "start": ("done", 1), "compose": ("running", 1), "shout": ("pending", 0)}
    assert state.job_status == "running"


def test_events_move_nodes_forward_never_back() -> None:
    state = JobState("j1")
    state.load_export(EXPORT)
    changed = state.apply([event("compose", "done", ts=2000), event("shout", "running", dad=",0,0,0", ts=2100)])
    assert changed == {"compose", "shout"}
    assert state.node_status("compose") == "done" and state.node_status("shout") == "running"
    # a late 'running' for compose (buffered before the snapshot) does not undo 'done'
    state.apply([event("compose", "running", ts=1500)])
    assert state.node_status("compose") == "done"


def test_order_does_not_matter() -> None:
    events = [event("start", "started", dad=",0", atp="trigger", ts=900), event("compose", "running", ts=1000),
              event("compose", "done", ts=1800), event("shout", "running", dad=",0,0,0", ts=1900),
              event("shout", "done", dad=",0,0,0", ts=2500, js=0, finished=1)]
    forward, backward = JobState("j1"), JobState("j1")
    forward.apply(events)
    backward.apply(list(reversed(events)))
    aids = ["start", "compose", "shout"]
    assert forward.statuses(aids) == backward.statuses(aids) == {
        "start": ("done", 1), "compose": ("done", 1), "shout": ("done", 1)}
    assert forward.job_status == backward.job_status == "done"


def test_repeated_executions_count_and_timeline() -> None:
    state = JobState("j1")
    state.apply([event("wait", "running", ts=1000), event("wait", "running", dad=",0,1", ts=1500),
                 event("wait", "done", dad=",0,1", ts=1700), event("wait", "done", ts=1200)])
    assert state.statuses(["wait"]) == {"wait": ("done", 2)}
    rows = state.timeline(now_ms=5000)
    assert [(r["dad"], r["start"], r["end"], r["status"]) for r in rows] == [
        (",0,0", 1000, 1200, "done"), (",0,1", 1500, 1700, "done")]


def test_interrupt_marks_open_nodes() -> None:
    state = JobState("j1")
    state.load_export(EXPORT)
    state.apply([{"type": "activity", "jid": "j1", "aid": "", "dad": ",0", "atp": "job",
                  "status": "interrupted", "code": 410, "ts": 3000, "js": -999999999, "finished": 1}])
    assert state.job_status == "interrupted"
    assert state.statuses(["start", "compose"]) == {"start": ("done", 1), "compose": ("interrupted", 1)}
    snapshot = JobState("j1")
    snapshot.load_export({**EXPORT, "status": "-999999999", "metadata": {"err": '{"code": 410}'}})
    assert snapshot.node_status("compose") == "interrupted"


def test_failed_activity_and_job() -> None:
    state = JobState("j1")
    state.apply([event("compose", "running"), event("compose", "failed", ts=1300, js=0, finished=1)])
    assert state.node_status("compose") == "failed" and state.job_status == "failed"


def test_events_of_other_jobs_are_ignored() -> None:
    state = JobState("j1")
    assert state.apply([{**event("compose", "done"), "jid": "other"}]) == set()


def test_ledger_and_timestamps() -> None:
    assert ledger_status(999000000000000, "worker") == "pending"
    assert ledger_status(889000000000000, "worker") == "running"
    assert ledger_status(888000001000001, "worker") == "done"
    assert ledger_status(None, "trigger") == "done"
    assert parse_ts("19700101000001.500") == 1500
    assert parse_ts("garbage") is None
