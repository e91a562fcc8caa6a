"""The file Bokeh loads with ``--auth-module``: the studio's own sign-in (see ``studio.login``)."""

import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("studio") is None:   # `panel serve studio` in a checkout with nothing installed
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from studio.login import LOGIN_URL, LOGOUT_URL, LoginHandler, LogoutHandler, activate, get_user  # noqa: E402

login_url = LOGIN_URL
logout_url = LOGOUT_URL
__all__ = ["LoginHandler", "LogoutHandler", "get_user", "login_url", "logout_url"]
activate()
