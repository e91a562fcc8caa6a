"""``python -m hotmesh_core.cli``: the same as the ``hotmesh`` command."""

from . import main

main()
