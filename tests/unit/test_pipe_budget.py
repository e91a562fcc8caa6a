"""The time budget of one step's mappings (``pipe.evaluator.time_budget``): spent evaluation time
stops the mapping with ``PipeError``; time between evaluations (the step's Redis round trips) does
not count; without a budget nothing is measured."""

from __future__ import annotations

import time

import pytest

from hotmesh_core.errors import PipeError
from hotmesh_core.pipe import map_rules, resolve
from hotmesh_core.pipe.evaluator import time_budget

BIG = {"t": {"output": {"data": {"s": "abcdefghi," * 99_999}}}}     # about 1M characters
SPLIT_JOIN = {"@pipe": [["{t.output.data.s}", ","], ["{@string.split}", ","], ["{@array.join}"]]}


def test_a_spent_budget_stops_the_mapping_with_a_pipe_error() -> None:
    rows = {f"k{i}": SPLIT_JOIN for i in range(84)}                # the probe
    with time_budget(0.05, "activity 'a1'"), pytest.raises(PipeError) as caught:
        map_rules(rows, BIG)
    assert str(caught.value).startswith("activity 'a1': its mappings ran past their time budget of 50 ms "
                                        "(stopped after {@")


def test_the_budget_counts_evaluation_time_only() -> None:
    small = {"@pipe": [["a", "b"], ["{@string.concat}"]]}
    with time_budget(0.2, "activity 'a1'") as budget:
        assert resolve(small, {}) == "ab"
        time.sleep(0.3)                                            # a Redis round trip, say
        assert resolve(small, {}) == "ab"
    assert budget is not None and budget.spent < 0.2


def test_budgets_end_with_their_block_and_zero_means_none() -> None:
    with time_budget(0.0, "activity 'a1'") as budget:
        assert budget is None
        assert resolve(SPLIT_JOIN, BIG) == BIG["t"]["output"]["data"]["s"]
    with time_budget(1e-9, "activity 'a1'"), pytest.raises(PipeError):
        resolve(SPLIT_JOIN, BIG)
    assert resolve(SPLIT_JOIN, BIG) == BIG["t"]["output"]["data"]["s"]     # the block's budget is gone
