"""Caps on the work one expression may do (reliability spec, section 4: "No eval in @pipe").

A mapping runs inside the engine on every activity leg, so a hostile or careless manifest must not be
able to stall the engine or exhaust its memory. Each cap raises ``PipeError`` when exceeded. The
evaluator reads these attributes at call time, so a deployment may tune them here.
"""

from __future__ import annotations

MAX_PIPE_ROWS = 256
"""Rows in one ``@pipe`` (or ``@reduce`` body); nested pipes count separately."""

MAX_PIPE_DEPTH = 32
"""Nesting depth of ``@pipe`` / ``@reduce`` objects inside one another."""

MAX_REDUCE_ITERATIONS = 100_000
"""Total ``@reduce`` iterations across one top-level evaluation (nested reduces share the budget)."""

MAX_OUTPUT_SIZE = 1_000_000
"""Characters in a produced string, or items in a produced array (repeat, padStart, concat, push...)."""
