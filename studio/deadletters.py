"""Dead letters: the messages an app could not handle, with where they came from and why; replay
one onto its stream (after fixing what made it fail) or discard it.

Shown under the fleet (``Fleet`` tab), refreshed with it."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import panel as pn

from hotmesh_core.deadletters import DeadLetter

from .access import read_only, refusal
from .mesh import Mesh
from .runtime import describe_error
from .theme import TABLE_CSS, AlertType

COLUMNS = ["id", "when (UTC)", "stream", "reason"]
LIMIT = 200


def letter_rows(letters: list[DeadLetter]) -> list[dict[str, str]]:
    return [{"id": x.id, "when (UTC)": datetime.fromtimestamp(x.at_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S"),
             "stream": x.stream, "reason": x.reason} for x in letters]


class DeadLettersView:
    def __init__(self, mesh: Mesh) -> None:
        self.mesh = mesh
        self.letters: list[DeadLetter] = []
        self.title = pn.pane.HTML("<div class='hm-card-title'>Dead letters</div>", sizing_mode="stretch_width")
        self.table = pn.widgets.Tabulator(pd.DataFrame(columns=COLUMNS), show_index=False, disabled=True,
                                          selectable=1, theme="bootstrap5", sizing_mode="stretch_width",
                                          layout="fit_data_stretch", css_classes=["hm-dead-table"],
                                          stylesheets=[TABLE_CSS])
        self.table.param.watch(self._selected, "selection")
        self.message_text = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["hm-dead-message"])
        self.replay_button = pn.widgets.Button(label="Replay", color="primary", width=90, disabled=True,
                                               css_classes=["hm-dead-replay"])
        self.discard_button = pn.widgets.Button(label="Discard", color="danger", width=90, disabled=True,
                                                css_classes=["hm-dead-discard"])
        self.replay_button.on_click(self._replay)
        self.discard_button.on_click(self._discard)
        self.message = pn.pane.Alert("", alert_type="info", visible=False, sizing_mode="stretch_width",
                                     css_classes=["hm-dead-alert"])
        self.panel = pn.Column(self.title, self.table, self.message_text,
                               pn.Row(self.replay_button, self.discard_button), self.message,
                               sizing_mode="stretch_width")

    async def load(self) -> None:
        try:
            self.letters = await self.mesh.dead_letters(LIMIT)
        except Exception as exc:  # noqa: BLE001 - shown in the page
            self._say(f"Could not read the dead letters: {describe_error(exc)}", "danger")
            return
        count = len(self.letters)
        self.title.object = (f"<div class='hm-card-title'>Dead letters ({count}{'+' if count >= LIMIT else ''})"
                             "</div>")
        self.table.value = pd.DataFrame(letter_rows(self.letters), columns=COLUMNS)
        self._selected()

    def selected(self) -> DeadLetter | None:
        rows = list(self.table.selection or [])
        return self.letters[rows[0]] if rows and rows[0] < len(self.letters) else None

    def _selected(self, _event: Any = None) -> None:
        letter = self.selected()
        self.replay_button.disabled = self.discard_button.disabled = letter is None or read_only(self.mesh)
        self.message_text.object = "" if letter is None else (
            f"<pre class='hm-code'>{html.escape(letter.message[:4000])}</pre>")

    async def _replay(self, _event: Any = None) -> None:
        letter = self.selected()
        if read_only(self.mesh):
            return self._say(refusal("replay a dead letter"), "danger")
        if letter is None:
            return
        try:
            new_id = await self.mesh.replay_dead_letter(letter.id)
            self._say(f"Replayed {letter.id} onto {letter.stream} as {new_id}." if new_id
                      else f"{letter.id} is gone already.", "info")
        except Exception as exc:  # noqa: BLE001 - shown in the page
            self._say(f"Replay failed: {describe_error(exc)}", "danger")
        self.table.selection = []
        await self.load()

    async def _discard(self, _event: Any = None) -> None:
        letter = self.selected()
        if read_only(self.mesh):
            return self._say(refusal("discard a dead letter"), "danger")
        if letter is None:
            return
        try:
            gone = await self.mesh.discard_dead_letter(letter.id)
            self._say(f"Discarded {letter.id}." if gone else f"{letter.id} is gone already.", "info")
        except Exception as exc:  # noqa: BLE001 - shown in the page
            self._say(f"Discard failed: {describe_error(exc)}", "danger")
        self.table.selection = []
        await self.load()

    def _say(self, text: str, kind: AlertType) -> None:
        self.message.alert_type, self.message.object, self.message.visible = kind, text, True
