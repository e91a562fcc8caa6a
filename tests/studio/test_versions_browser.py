"""Versions in a browser: a new version pasted into the editor (one activity added, one removed),
deployed, its review shown with the breaking change, confirmed, activated; then the graph diff
between the two versions. ``panel serve studio`` in a subprocess, a real redis-server, Debian's
chromium; every request stays on 127.0.0.1 (the ``page`` fixture). The app is the 'review' test
app, which no other browser test uses: this test changes its active version."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from hotmesh_core import HotMesh

from .apps import ROOT, demo_v2
from .conftest import StudioServer, shot
from .pages import open_studio, source_data, tab, text, wait_for

pytestmark = pytest.mark.browser

LEGEND_JS = """
(name) => {
  for (const doc of Bokeh.documents) {
    const legend = doc.get_model_by_name(name);
    if (legend) return {visible: legend.visible, labels: legend.items.map((i) => i.label.value)};
  }
  return null;
}
"""


DOCS_JS = """
(name) => Bokeh.documents.map((doc) => {
  const models = Array.from(doc._all_models.values()).filter((m) => m.name == name);
  return {roots: doc.roots().length, named: models.length,
          rows: models.map((m) => (m.data && m.data.id ? m.data.id.length : -1))};
})
"""


def active_version(redis_url: str, app_id: str) -> tuple[str | None, list[str]]:
    """The active version and the deployed ones, read through the API (a client of our own, in a
    thread: Playwright's sync API owns this thread's event loop)."""
    async def read() -> tuple[str | None, list[str]]:
        client = await HotMesh.init(app_id, redis_url, engine=False)
        try:
            return await client.active_version(), [v.version for v in await client.versions()]
        finally:
            await client.stop()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, read()).result(timeout=60)


def marks(page: Any, name: str) -> dict[str, str]:
    data = source_data(page, name, "id", "status")
    return dict(zip(data["id"], data["status"], strict=True)) if data else {}


def button(page: Any, css: str) -> Any:
    return page.locator(f"{css} button")


def test_deploy_reviews_breaking_changes_before_activation(page: Any, studio_server: StudioServer,
                                                           redis_url: str) -> None:
    app_id = studio_server.apps["review"]
    open_studio(page, studio_server.url, app_id)       # the studio deploys and activates version 1
    assert active_version(redis_url, app_id) == ("1", ["1"])
    tab(page, "Editor")
    wait_for(lambda: "version 1" in text(page, ".hm-editor-status"), what="the active version in the editor")

    # paste version 2 over the document: 'shout' removed, 'audit' added after 'compose'
    v2 = demo_v2((ROOT / "assets/apps/demo/app.yaml").read_text().replace("id: demo", f"id: {app_id}", 1))
    page.locator(".hm-editor .ace_content").click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.insert_text(v2)
    status = wait_for(lambda: (lambda t: t if "version 2" in t else None)(text(page, ".hm-editor-status")),
                      what="version 2 checked")
    assert "Valid" in status and "4 activities" in status and "2 breaking change(s)" in status, status
    wait_for(lambda: button(page, ".hm-deploy").is_enabled(), what="deploy enabled")
    button(page, ".hm-deploy").click()

    wait_for(lambda: "Deployed version 2" in text(page, ".hm-deploy-outcome"), what="deploy outcome")
    body = wait_for(lambda: (lambda t: t if "2 breaking change(s)" in t else None)(text(page, ".hm-review-html")),
                    what="the review")
    assert "activity 'shout' (graph 'demo.greet') was removed" in body
    assert "transition compose -> shout was removed" in body
    for mark, aid in (("added", "audit"), ("removed", "shout"), ("changed", "compose")):
        assert page.locator(f".hm-review-html tr[data-mark='{mark}']").filter(has_text=aid).count() == 1
    activate = button(page, ".hm-review-activate")
    assert activate.is_disabled() and "Activate version 2" in activate.inner_text()
    assert "confirm the breaking changes" in text(page, ".hm-review-hint")
    assert active_version(redis_url, app_id) == ("1", ["1", "2"])      # deployed, not active

    # the preview shows the same changes in colour, with its legend on the chart
    preview = wait_for(lambda: (lambda m: m if m.get("shout") == "removed" else None)(marks(page, "preview-nodes")),
                       what="the preview's diff colours")
    assert preview["audit"] == "added" and preview["compose"] == "changed" and preview["start"] == "same"
    legend = page.evaluate(LEGEND_JS, "preview-legend")
    assert legend == {"visible": True, "labels": ["added", "removed", "changed", "unchanged"]}
    page.wait_for_timeout(400)
    shot(page, "review-before-activation")

    page.locator(".hm-review-confirm input").check()
    wait_for(lambda: activate.is_enabled(), what="activate enabled after the confirmation")
    activate.click()
    wait_for(lambda: "Activation" in text(page, ".hm-deploy-outcome"), what="activation outcome")
    assert "active on all engines" in text(page, ".hm-deploy-outcome")
    assert active_version(redis_url, app_id) == ("2", ["1", "2"])
    wait_for(lambda: button(page, ".hm-review-activate").is_disabled(), what="activate off once active")

    # the versions page: the graph diff between 1 and the active 2
    tab(page, "Versions")
    rows = page.locator(".hm-versions-table .tabulator-row")
    wait_for(lambda: rows.count() == 2 and "active" in rows.first.inner_text(), what="two versions, 2 active")
    page.wait_for_timeout(2000)        # the page redraws its diff after the activation: let the browser run
    seen: list[dict[str, str]] = [{}]

    def diff_drawn() -> dict[str, str] | None:
        seen[0] = marks(page, "diff-nodes")
        return seen[0] if seen[0].get("shout") == "removed" else None

    try:
        diff = wait_for(diff_drawn, what="the versions diff colours")
    except AssertionError as exc:
        shot(page, "graph-diff-failed")
        documents = page.evaluate(DOCS_JS, "diff-nodes")
        raise AssertionError(f"{exc}; the chart's marks: {seen[0]}; the page's Bokeh documents: {documents}; "
                             f"the text diff: {text(page, '.hm-text-diff')[:200]!r}; page errors: {page.errors}; "
                             f"console: {page.console[-10:]}") from None
    assert diff["audit"] == "added" and diff["compose"] == "changed"
    ghost = source_data(page, "diff-edges-removed", "source", "target")
    assert ghost and list(zip(ghost["source"], ghost["target"], strict=True)) == [("compose", "shout")]
    assert page.evaluate(LEGEND_JS, "diff-legend")["visible"] is True
    assert "1 added · 1 removed · 1 changed" in page.locator(".hm-diff-summary").first.inner_text()
    page.wait_for_timeout(400)
    shot(page, "graph-diff")

    # rolling back to 1 drops 'audit': the same review, the same confirmation
    page.locator(".hm-activate-version select").select_option("1")
    rollback = wait_for(lambda: (lambda t: t if "breaking change(s)" in t else None)(text(page, ".hm-activate-html")),
                        what="the roll back's review")
    assert "activity 'audit' (graph 'demo.greet') was removed" in rollback
    assert button(page, ".hm-activate").is_disabled() and "Activate version 1" in button(page, ".hm-activate").inner_text()
    assert not page.errors, page.errors
