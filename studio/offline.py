"""Keep every resource on this server (the studio must work with no network).

Panel 1.9 rewrites the stylesheets of components created after the page loaded (a tab shown for
the first time, a form built later) to its CDN when the template's design or a component's properties are computed for a model
that is not yet attached to the document (``Design._apply_params`` and
``Reactive._get_properties`` then fall back to ``CDN_DIST``). Served pages would then fetch ``loading.css`` from cdn.holoviz.org. This wraps
``patch_stylesheet`` so that, whenever resources are served locally, a CDN target becomes the
local dist path. The browser tests fail on any request that leaves 127.0.0.1.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

_patched = False
_inline_patched = False


def keep_stylesheets_local() -> None:
    global _patched
    from panel import reactive
    from panel.io import resources

    if _patched:
        return
    _patched = True
    original: Callable[[Any, str], None] = resources.patch_stylesheet

    def patch_stylesheet(stylesheet: Any, dist_url: str) -> None:
        if dist_url == resources.CDN_DIST and not resources.use_cdn():
            dist_url = resources.get_dist_path(cdn=False)
        original(stylesheet, dist_url)

    resources.patch_stylesheet = patch_stylesheet      # used by Design._apply_params
    # imported by name for _get_properties/_update_model; panel.reactive does not re-export it
    reactive.patch_stylesheet = patch_stylesheet       # type: ignore[attr-defined]


def keep_notebook_stylesheets_inline() -> None:
    """In a notebook, keep the stylesheets of a component's later updates inline, as Panel keeps
    those of the first render.

    With ``pn.extension(inline=True)`` Panel turns every stylesheet of a displayed output into an
    ``InlineStyleSheet`` (``patch_inline_stylesheets``), but an HTML pane whose ``object`` changes
    later (a live header, the overview's tiles) recomputes its properties and sends
    ``ImportedStyleSheet``s that point at cdn.holoviz.org: offline, the browser fails to fetch them.
    This gives those updates inline copies of Panel's own files (one model per document and file,
    so a later update refers to it instead of sending the CSS again). Server sessions (the studio)
    are left alone: ``keep_stylesheets_local`` serves theirs.
    """
    global _inline_patched
    from bokeh.models import ImportedStyleSheet
    from panel import reactive
    from panel.config import config
    from panel.io.notebook import replace_inline_css

    if _inline_patched:
        return
    _inline_patched = True
    original = reactive.Reactive._get_properties
    copies: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()

    def inline(sheet: Any, doc: Any) -> Any:
        if not isinstance(sheet, ImportedStyleSheet) or doc is None:
            return sheet
        known = copies.setdefault(doc, {})
        url = str(sheet.url)
        if url not in known:
            known[url] = replace_inline_css(sheet)
        return known[url]

    def _get_properties(self: Any, doc: Any) -> dict[str, Any]:
        properties: dict[str, Any] = original(self, doc)
        sheets = properties.get("stylesheets")
        if sheets and config.inline and doc is not None and doc.session_context is None:
            properties["stylesheets"] = [inline(sheet, doc) for sheet in sheets]
        return properties

    reactive.Reactive._get_properties = _get_properties    # type: ignore[method-assign]
