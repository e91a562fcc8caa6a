"""Page helpers for the browser tests: tabs, Bokeh model data, clicking a node of a DAG."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

NODE_JS = """
([plotName, sourceName, aid]) => {
  for (const doc of Bokeh.documents) {
    const plot = doc.get_model_by_name(plotName);
    const source = doc.get_model_by_name(sourceName);
    if (!plot || !source) continue;
    const i = Array.from(source.data.id).indexOf(aid);
    if (i < 0) return null;
    const view = Bokeh.index.find_one(plot);
    if (!view) return null;
    const sx = view.frame.x_scale.compute(source.data.x[i]);
    const sy = view.frame.y_scale.compute(source.data.y[i]);
    const canvas = view.canvas_view.el.getBoundingClientRect();
    if (!Number.isFinite(sx) || !Number.isFinite(sy)) return null;   // not laid out yet
    return {x: canvas.left + sx, y: canvas.top + sy};
  }
  return null;
}
"""

DATA_JS = """
([name, columns]) => {
  for (const doc of Bokeh.documents) {
    const source = doc.get_model_by_name(name);
    if (!source) continue;
    const out = {};
    for (const c of columns) out[c] = Array.from(source.data[c] || []);
    return out;
  }
  return null;
}
"""


def open_studio(page: Any, url: str, app_id: str) -> None:
    """Open the studio on ``app_id`` and go to its 'Apps & graphs' tab (the overview comes first)."""
    page.goto(f"{url}?app={app_id}")
    show_apps(page, app_id)


def show_apps(page: Any, app_id: str) -> None:
    """Once the studio shows ``app_id``'s overview (its first page), switch to 'Apps & graphs'."""
    page.locator(".hm-overview-summary .hm-tiles").wait_for()
    tab(page, "Apps & graphs")
    page.locator(".hm-app-summary").filter(has_text=f"App {app_id}").wait_for()


def text(page: Any, css: str) -> str:
    """The rendered text of a Panel component (its content lives in a shadow root)."""
    locator = page.locator(css).locator("div").first
    return str(locator.inner_text()) if locator.count() else ""


def tab(page: Any, name: str) -> None:
    header = page.locator(".bk-tab").filter(has_text=re.compile(f"^{re.escape(name)}$")).first
    header.click()
    wait_for(lambda: "bk-active" in (header.get_attribute("class") or ""), what=f"tab {name} active")


def source_data(page: Any, name: str, *columns: str) -> dict[str, list[Any]] | None:
    result: dict[str, list[Any]] | None = page.evaluate(DATA_JS, [name, list(columns)])
    return result


def statuses(page: Any, name: str = "detail-nodes") -> dict[str, str]:
    data = source_data(page, name, "id", "status")
    return dict(zip(data["id"], data["status"], strict=True)) if data else {}


def node_point(page: Any, prefix: str, aid: str) -> dict[str, float] | None:
    point: dict[str, float] | None = page.evaluate(NODE_JS, [f"{prefix}-plot", f"{prefix}-nodes", aid])
    return point


def click_node(page: Any, prefix: str, aid: str) -> None:
    point = wait_for(lambda: node_point(page, prefix, aid), what=f"node {aid} on {prefix}")
    page.mouse.click(point["x"], point["y"])


def wait_for(check: Callable[[], Any], timeout: float = 30.0, what: str = "condition",
             interval: float = 0.1) -> Any:
    """Poll ``check`` until it returns something truthy (the browser-side twin of assert_eventually)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"{what} not met within {timeout}s (last: {last!r})")
