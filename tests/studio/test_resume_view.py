"""The run detail's resume form, history and failed attempts, from export snapshots (no server)."""

from __future__ import annotations

from typing import Any

from studio.inspector import inspector_html
from studio.resume import ResumePanel, attempt_rows, failed_executions, history_html

FAILED = {
    "status": "0", "metadata": {"err": '{"code": 402, "message": "limit"}'},
    "activities": [
        {"aid": "order", "dad": ",0", "type": "trigger", "error": None, "updated": "20261205120000.000",
         "output": {"amount": 250}},
        {"aid": "charge", "dad": ",0,0", "type": "worker", "error": '{"message": "limit", "code": 402}',
         "created": "20261205120000.100", "updated": "20261205120000.300", "input": {"amount": 250}},
    ],
    "history": [],
}

RESUMED = {
    "status": "0", "metadata": {}, "activities": [], "rerun_of": "H-original",
    "history": [
        {"kind": "resume", "at": "20261205120100.000", "activity": "charge", "dad": ",0,0", "edited": True,
         "input": {"amount": 80}, "failed": {"address": ",0,0", "error": {"message": "limit", "code": 402},
                                            "input": {"amount": 250}, "created": "20261205120000.100",
                                            "updated": "20261205120000.300"}},
        {"kind": "rerun", "at": "20261205120200.000", "to": "H-copy"},
    ],
}


def test_failed_executions_and_history() -> None:
    assert [a["aid"] for a in failed_executions(FAILED)] == ["charge"]
    assert failed_executions(None) == []
    assert "No resume or re-run yet" in history_html(FAILED)
    text = history_html(RESUMED)
    assert "re-run of job <code>H-original</code>" in text
    assert "resumed from charge</b> with edited input" in text and "&quot;amount&quot;: 80" in text
    assert "the failed attempt: limit" in text and "re-run</b> as job <code>H-copy</code>" in text


def test_attempt_rows_put_the_failed_attempt_on_the_timeline() -> None:
    [row] = attempt_rows(RESUMED)
    assert row["aid"] == "charge" and row["status"] == "failed" and row["dad"] == ",0,0"
    assert row["end"] - row["start"] == 200


def test_inspector_lists_the_failed_attempts_a_resume_replaced() -> None:
    body = inspector_html(None, "charge", RESUMED, "done")
    assert "Failed attempt 1 (resumed 2026-12-05 12:01:00.000 UTC)" in body and "&quot;amount&quot;: 250" in body
    assert "Failed attempt" not in inspector_html(None, "order", RESUMED, "done")


async def test_resume_form_prefills_the_input_and_sends_only_an_edit() -> None:
    calls: list[tuple[str, Any]] = []
    said: list[str] = []

    async def action(aid: str, data: dict[str, Any] | None) -> None:
        calls.append((aid, data))

    form = ResumePanel(action, lambda text, kind: said.append(text))
    form.show(FAILED, failed=False, disabled=False)
    assert not form.panel.visible
    form.show(FAILED, failed=True, disabled=False)
    assert form.panel.visible and form.button.label == "Resume from charge"
    assert form.editor.value.replace(" ", "").replace("\n", "") == '{"amount":250}'
    await form._clicked()
    form.editor.param.update(value='{"amount": 80}', value_input='{"amount": 80}')
    await form._clicked()
    form.editor.param.update(value="[1]", value_input="[1]")
    await form._clicked()
    form.editor.param.update(value="{oops", value_input="{oops")
    await form._clicked()
    assert calls == [("charge", None), ("charge", {"amount": 80})]
    assert said[0] == "Invalid input: it must be a JSON object" and said[1].startswith("Invalid input:")
