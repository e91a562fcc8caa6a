"""Entry point of ``panel serve studio``: Bokeh's directory-app format runs this once per session."""

import sys
from pathlib import Path

_root = str(Path(__file__).resolve().parent.parent)
if _root not in sys.path:            # `studio` is not installed; import it from the checkout
    sys.path.insert(0, _root)

from studio.app import Studio  # noqa: E402
from studio.runtime import shared  # noqa: E402

Studio(shared()).servable()
