"""The studio page: a Bootstrap template (served locally), the app picker, and one tab per view.

One ``Studio`` per browser session. Server-wide state (HotMesh instances, the event hub) lives in
``runtime``; everything here is per session and torn down when the session is destroyed.
"""

from __future__ import annotations

import asyncio
import html
from functools import partial
from typing import Any

import panel as pn

from .access import LOCAL, Access
from .events import every
from .offline import keep_stylesheets_local
from .overview import REFRESH_MS
from .runtime import StudioRuntime, describe_error
from .session import TABS, AppSession
from .theme import CSS, GRAPH_ICON


def configure_panel() -> None:
    """Offline: resources from this server, no template that pulls web fonts, no CDN icons."""
    keep_stylesheets_local()
    pn.config.raw_css = [*[c for c in pn.config.raw_css if c != CSS], CSS]
    pn.extension("codeeditor", "tabulator", notifications=False, sizing_mode="stretch_width")


class Studio:
    def __init__(self, runtime: StudioRuntime, access: Access = LOCAL) -> None:
        configure_panel()
        self.runtime = runtime
        self.access = access
        self.sessions: dict[str, AppSession] = {}
        self.current: AppSession | None = None
        self.app_select = pn.widgets.Select(label="App", options=[], css_classes=["hm-app-select"])
        self.sidebar_info = pn.pane.HTML("", sizing_mode="stretch_width")
        self.banner = pn.pane.Alert("Connecting to Redis and starting the example apps…", alert_type="info",
                                    sizing_mode="stretch_width", css_classes=["hm-banner"])
        self.retry = pn.widgets.Button(label="Retry", color="primary", visible=False, width=90)
        self.retry.on_click(self._retry)
        self.tabs = pn.Tabs(*[(name, pn.Column()) for name in TABS], sizing_mode="stretch_width",
                            css_classes=["hm-tabs"])
        self.area = pn.Column(self.tabs, sizing_mode="stretch_width")
        self.app_select.param.watch(self._on_app, "value")
        self.template = pn.template.BootstrapTemplate(
            title="HotMesh Studio", header_background="#0f172a", sidebar_width=270,
            sidebar=[pn.pane.HTML(f"<div class='hm-brand'>{GRAPH_ICON} Workflows on Redis</div>"),
                     pn.pane.HTML(_who(access), css_classes=["hm-who"]), self.app_select, self.sidebar_info],
            main=[pn.Column(pn.Row(self.banner, self.retry), self.area, sizing_mode="stretch_width")])
        self._ticker: Any = None
        self._overview_ticker: Any = None
        self._ticks = 0
        self._switching = asyncio.Lock()
        # Start once the page is up; the onload callback itself only schedules the start.
        pn.state.onload(lambda: pn.state.execute(self._start))
        pn.state.on_session_destroyed(self._destroyed)

    def servable(self) -> Any:
        return self.template.servable(title="HotMesh Studio")

    # -- start ---------------------------------------------------------------------------------
    async def _start(self) -> None:
        ok = await self.runtime.ensure_started()
        if not ok:
            self.banner.alert_type, self.banner.object = "danger", self.runtime.error
            self.banner.visible, self.retry.visible, self.area.visible = True, True, False
            return
        if self._ticker is None:
            self.runtime.session_opened()
            self._ticker = every(self._tick, 250)
            self._overview_ticker = every(self._overview_tick, REFRESH_MS)
        self.banner.visible, self.retry.visible, self.area.visible = False, False, True
        apps = list(self.runtime.apps)
        args = _query()
        wanted = args.get("app") if args.get("app") in apps else (apps[0] if apps else None)
        if wanted is not None:
            self.app_select.param.update(options=apps, value=wanted)
            await self.select_app(wanted)
        if args.get("job"):
            await self.open_job(args["job"])

    async def _retry(self, _event: Any = None) -> None:
        self.banner.alert_type, self.banner.object = "info", "Retrying…"
        await self._start()

    def _destroyed(self, _context: Any) -> None:
        if self._ticker is not None:
            self._ticker.stop()
            self.runtime.session_closed()
        if self._overview_ticker is not None:
            self._overview_ticker.stop()
        for session in self.sessions.values():
            session.close()

    # -- navigation ----------------------------------------------------------------------------
    async def _on_app(self, event: Any) -> None:
        await self.select_app(event.new)

    async def select_app(self, app_id: str) -> None:
        async with self._switching:        # one switch at a time; a stale request is dropped
            if app_id != self.app_select.value or app_id not in self.runtime.apps:
                return
            if self.current is not None and self.current.handle.app_id == app_id:
                return
            session = self.sessions.get(app_id)
            if session is None:
                session = self.sessions[app_id] = AppSession(
                    self.runtime.apps[app_id], self.runtime.hub, self.open_job, self.show_tab,
                    self.refresh_sidebar, self.access, self.runtime.overview_stats(app_id),
                    self.runtime.run_index(app_id))
            self.current = session
            try:
                await session.load()
                await session.ensure(TABS[0])      # the overview, the tab shown first
            except Exception as exc:  # noqa: BLE001 - e.g. Redis went away: say so, keep serving
                self.banner.alert_type, self.banner.object = "danger", describe_error(exc, self.runtime.redis_url)
                self.banner.visible = True
            # One new Tabs swapped in at once (one document update); tabs render when first shown.
            self.tabs = pn.Tabs(*[(name, session.slots[name]) for name in TABS], dynamic=True,
                                sizing_mode="stretch_width", css_classes=["hm-tabs"])
            self.tabs.param.watch(self._tab_changed, "active")
            self.area.objects = [self.tabs]
            self.refresh_sidebar()

    def show_tab(self, name: str) -> None:
        self.tabs.active = TABS.index(name)

    def refresh_sidebar(self) -> None:
        if self.current is None:
            return
        app = self.current.active
        graphs = "".join(f"<li>{html.escape(g.subscribes)}</li>" for g in app.graphs) if app else ""
        url = self.runtime.redis_url or ""
        self.sidebar_info.object = (
            f"<div class='hm-muted'>active version</div><div class='hm-title hm-active-version'>"
            f"{html.escape(app.version) if app else '—'}</div><div class='hm-muted'>graphs</div><ul>{graphs}</ul>"
            f"<div class='hm-muted'>redis</div><code style='font-size:11px'>{html.escape(url)}</code>")

    async def open_job(self, jid: str) -> None:
        if self.current is None:
            return
        session = self.current
        await session.ensure("Run detail")
        self.show_tab("Run detail")
        await session.open(jid)

    def _tab_changed(self, event: Any) -> None:
        if self.current is not None:
            pn.state.execute(partial(self._build_tab, self.current, TABS[event.new]))

    async def _build_tab(self, session: AppSession, name: str) -> None:
        try:
            await session.ensure(name)
        except Exception as exc:  # noqa: BLE001 - shown in the page
            self.banner.alert_type, self.banner.object = "danger", describe_error(exc, self.runtime.redis_url)
            self.banner.visible = True

    async def _overview_tick(self) -> None:
        """Refresh the overview while it is the tab shown (its reads cost Redis commands)."""
        session = self.current
        if session is not None and session.overview is not None and TABS[self.tabs.active] == "Overview":
            await session.overview.refresh()

    async def _tick(self) -> None:
        if self.current is None:
            return
        self._ticks += 1
        try:
            await self.current.tick()
            if self._ticks % 8 == 0 and TABS[self.tabs.active] == "Fleet" and self.current.fleet is not None:
                await self.current.fleet.load()          # the roll call, every 2 s while shown
                if self.current.dead_letters is not None and not self.current.dead_letters.selected():
                    await self.current.dead_letters.load()
        except Exception as exc:  # noqa: BLE001 - Redis hiccup: the next tick retries
            if self.current.runs is not None:
                self.current.runs.message.object = f"Live update failed: {describe_error(exc)}"
                self.current.runs.message.visible = True


def _who(access: Access) -> str:
    """Who the page serves; a viewer is told the actions are off before trying one."""
    if access.user is None:
        return "<div class='hm-muted'>local session (no sign-in)</div>"
    note = "" if access.can_edit else "<div class='hm-muted hm-read-only'>read-only: actions are off</div>"
    return (f"<div class='hm-muted'>signed in as <b class='hm-user'>{html.escape(access.user)}</b> "
            f"({access.role}) · <a href='/logout'>sign out</a></div>{note}")


def _query() -> dict[str, str]:
    try:
        params = pn.state.session_args or {}
    except Exception:  # noqa: BLE001 - not in a server session
        return {}
    return {k: (v[0].decode() if isinstance(v[0], bytes) else str(v[0])) for k, v in params.items() if v}
