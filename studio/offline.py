"""Keep every resource on this server (the studio must work with no network).

Panel 1.9 rewrites the stylesheets of components created after the page loaded (a tab shown for
the first time, a form built later) to its CDN when the template's design or a component's properties are computed for a model
that is not yet attached to the document (``Design._apply_params`` and
``Reactive._get_properties`` then fall back to ``CDN_DIST``). Served pages would then fetch ``loading.css`` from cdn.holoviz.org. This wraps
``patch_stylesheet`` so that, whenever resources are served locally, a CDN target becomes the
local dist path. The browser tests fail on any request that leaves 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_patched = False


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
