"""The studio's sign-in page and Bokeh's user hook; ``auth_module.py`` is the file Bokeh loads as
its ``--auth-module`` (``hotmesh studio --users FILE`` passes it; from a checkout:
``panel serve studio --auth-module studio/auth_module.py --cookie-secret ...`` with
``HOTMESH_STUDIO_USERS=FILE``).

Bokeh asks ``get_user`` before it serves the page or opens its websocket, and sends whoever has no
user to ``login_url``. The login form checks the password against the scrypt hash in a thread (a
check costs about 50 ms, which also slows guessing) and sets a signed, http-only ``user`` cookie;
the session reads its role from that cookie (``studio.access``). The page is self-contained: it
loads nothing from another host.
"""

from __future__ import annotations

import asyncio
import html
from typing import Any

from tornado.web import RequestHandler

from . import access
from .auth import current

COOKIE_DAYS = 7
LOGIN_URL = "/login"
LOGOUT_URL = "/logout"

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>HotMesh Studio: sign in</title>
<style>body{{font-family:system-ui,sans-serif;background:#0f172a;display:flex;justify-content:center;
align-items:center;height:100vh;margin:0}}form{{background:#fff;padding:28px 32px;border-radius:8px;
width:300px}}h1{{font-size:20px;margin:0 0 16px}}label{{display:block;font-size:13px;margin-top:10px}}
input{{width:100%;box-sizing:border-box;padding:7px;margin-top:4px;border:1px solid #cbd5e1;border-radius:4px}}
button{{margin-top:18px;width:100%;padding:8px;background:#2563eb;color:#fff;border:0;border-radius:4px;
font-size:14px}}.error{{color:#b91c1c;font-size:13px;margin-top:12px}}</style></head>
<body><form method="post" action="{action}"><h1>HotMesh Studio</h1>
<input type="hidden" name="next" value="{next}">
<label>User <input name="username" autocomplete="username" autofocus required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button>{error}</form></body></html>"""


def activate() -> None:
    """This process signs users in with the studio's users: read them now (a bad file fails the start,
    not the first login) and tell the sessions that sign-in is on."""
    current()
    access.LOGIN_MODULE_ACTIVE = True


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path on this server only (no open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def get_user(request_handler: RequestHandler) -> str | None:
    raw = request_handler.get_secure_cookie("user", max_age_days=COOKIE_DAYS)
    name = raw.decode() if raw else None
    return name if name is not None and name in current().accounts else None   # a removed user is out


class LoginHandler(RequestHandler):
    def get(self) -> None:
        self._form(self.get_argument("next", "/"), "")

    async def post(self) -> None:
        name = self.get_argument("username", "")
        password = self.get_argument("password", "")
        target = safe_next(self.get_argument("next", "/"))
        account = await asyncio.to_thread(current().check, name, password)
        if account is None:
            self.set_status(401)
            self._form(target, "Wrong user name or password.")
            return
        self.set_secure_cookie("user", account.name, expires_days=COOKIE_DAYS, httponly=True, samesite="Lax")
        self.redirect(target)

    def _form(self, target: str, error: str) -> None:
        self.set_header("Cache-Control", "no-store")
        self.write(PAGE.format(action=html.escape(self.request.path), next=html.escape(safe_next(target)),
                               error=f"<div class='error'>{html.escape(error)}</div>" if error else ""))

    def data_received(self, chunk: bytes) -> Any:    # tornado's abstract method (no streaming here)
        return None


class LogoutHandler(RequestHandler):
    def get(self) -> None:
        self.clear_cookie("user")
        self.redirect(LOGIN_URL)

    def data_received(self, chunk: bytes) -> Any:
        return None
