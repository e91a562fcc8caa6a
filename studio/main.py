"""Entry point of ``panel serve studio``: Bokeh's directory-app format runs this once per session."""

import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("studio") is None:   # `panel serve studio` in a checkout with nothing installed
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from studio.app import Studio  # noqa: E402
from studio.runtime import shared  # noqa: E402

Studio(shared()).servable()
