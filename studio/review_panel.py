"""The review panel of the editor: what a version changes, and the one Activate button.

It shows a ``review.Review`` and enforces its ``Gate``: Activate stays disabled until the review
was shown, the version is deployed and, when it breaks running jobs, the user ticked the
confirmation. ``on_activate`` does the activation (the editor's, with its outcome message).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import panel as pn

from .review import Gate, Review, review_html


class ReviewPanel:
    def __init__(self, on_activate: Callable[[], Awaitable[None]], read_only: bool = False,
                 css: str = "hm-review") -> None:
        self.gate = Gate()
        self.read_only = read_only
        self._on_activate = on_activate
        self.body = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=[f"{css}-html"])
        self.confirm = pn.widgets.Checkbox(label="I understand: jobs running on the active version may fail "
                                           "or stall at what this version removes", visible=False,
                                           css_classes=[f"{css}-confirm"], sizing_mode="stretch_width")
        self.activate_button = pn.widgets.Button(label="Activate", color="primary", disabled=True, width=170,
                                                 css_classes=[f"{css}-activate"])
        self.hint = pn.pane.HTML("", align="center", css_classes=[f"{css}-hint"])
        self.confirm.param.watch(self._on_confirm, "value")
        self.activate_button.on_click(self._activate)
        self.panel = pn.Column(pn.pane.HTML("<div class='hm-card-title'>Review before activation</div>"),
                               self.body, self.confirm, pn.Row(self.activate_button, self.hint),
                               visible=False, sizing_mode="stretch_width", css_classes=[css],
                               styles={"border": "1px solid #cbd5e1", "border-radius": "8px", "padding": "4px 8px"},
                               margin=(5, 5))

    @property
    def review(self) -> Review | None:
        return self.gate.review

    def show(self, review: Review, deployed: bool = False) -> None:
        """Show ``review`` (a new review needs a new confirmation)."""
        self.gate = Gate(review, deployed=deployed, activated=review.active == review.version)
        self.body.object = review_html(review)
        self.confirm.param.update(value=False, visible=review.needs_confirmation)
        self.activate_button.label = f"Activate version {review.version}"
        self.panel.visible = True
        self.refresh()

    def mark_deployed(self, version: str) -> None:
        if self.gate.review is not None and self.gate.review.version == version:
            self.gate.deployed = True
        self.refresh()

    def mark_activated(self) -> None:
        self.gate.activated = True
        self.refresh()

    def clear(self) -> None:
        self.gate = Gate()
        self.panel.visible = False
        self.refresh()

    def _on_confirm(self, event: Any) -> None:
        self.gate.confirmed = bool(event.new)
        self.refresh()

    def refresh(self) -> None:
        reason = "a viewer cannot activate" if self.read_only else self.gate.blocked()
        self.activate_button.disabled = reason is not None
        self.hint.object = f"<span class='hm-muted'>{reason}</span>" if reason else ""

    async def _activate(self, _event: Any = None) -> None:
        if self.read_only or self.gate.blocked() is not None:      # a crafted click on the disabled button
            self.refresh()
            return
        self.activate_button.disabled = True
        await self._on_activate()
