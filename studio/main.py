"""Entry point of ``panel serve studio``: Bokeh's directory-app format runs this once per session.

Each session first learns who it serves (``studio.access``): a refused one (another machine while
sign-in is off) gets a page saying why and nothing else; a viewer gets views that cannot change.
"""

import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("studio") is None:   # `panel serve studio` in a checkout with nothing installed
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from studio.access import refused_page, session_access  # noqa: E402
from studio.app import Studio  # noqa: E402
from studio.runtime import shared  # noqa: E402

access = session_access()
if isinstance(access, str):
    refused_page(access).servable(title="HotMesh Studio")
else:
    Studio(shared(), access).servable()
