"""Runs search: the query parser (pure), the comparisons, and the in-memory run index against a
real redis-server with jobs run by an engine (inputs, job data, failures, live updates)."""

from __future__ import annotations

from typing import Any

import pytest

from hotmesh_core import JobError
from studio.query import FieldClause, QueryError, parse
from studio.run_index import MISSING, RunIndex, compare, make_row
from studio.runs import RunsTable

ORDERS = """
app:
  id: {APP}
  version: '1'
  graphs:
    - subscribes: order.place
      expire: 600
      activities:
        take: { type: trigger }
        price:
          type: worker
          topic: order.price
          input: { maps: { customer: '{take.output.data.customer}', items: '{take.output.data.items}' } }
          job: { maps: { total: '{$self.output.data.total}', receipt: '{$self.output.data.receipt}' } }
      transitions:
        take: [ { to: price } ]
"""


async def price(message: Any) -> dict[str, Any]:
    customer = message.data["customer"]
    if customer == 13:
        raise ValueError("no price for customer 13")
    return {"total": customer * 10, "receipt": {"lines": message.data["items"], "paid": customer % 2 == 0}}


# -- the parser ------------------------------------------------------------------------------------
def test_parse_every_kind_of_clause() -> None:
    query = parse("status:failed,interrupted graph:order.place version:1,2 since:15m job-1 id:ab "
                  "and data.customer = 42 data.name contains \"ann lee\" output.total>=10.5 output.ok != true")
    assert query.statuses == {"failed", "interrupted"} and query.topics == {"order.place"}
    assert query.versions == {"1", "2"} and query.since_seconds == 900 and query.id_prefixes == ("job-1", "ab")
    assert query.fields == (FieldClause("data", ("customer",), "=", 42),
                            FieldClause("data", ("name",), "contains", "ann lee"),
                            FieldClause("output", ("total",), ">=", 10.5),
                            FieldClause("output", ("ok",), "!=", True))
    assert [f.name for f in query.output_fields] == ["output.total", "output.ok"]
    assert parse("after:2026-12-01 before:2026-12-01T10:30").after_ms == 1_796_083_200_000
    assert parse("before:2026-12-01T10:30").before_ms == 1_796_121_000_000
    assert parse("data.a.b=x").fields == (FieldClause("data", ("a", "b"), "=", "x"),)
    assert parse("data.n = 7.0").fields[0].value == 7.0 and parse("data.n = null").fields[0].value is None
    assert parse("").empty and parse("   ").empty and not parse("status:done").empty


@pytest.mark.parametrize(("text", "column", "words"), [
    ("data.customer =", 15, "expected a value"),
    ("data.customer 42", 14, "expected an operator"),
    ("data.customer", 13, "found end of query"),
    ("customer = 42", 0, "starts with data."),
    ("data. = 1", 0, "not a field path"),
    ("status:nope", 7, "unknown status 'nope'"),
    ("status:", 7, "needs a value"),
    ("colour:red", 0, "unknown filter 'colour:'"),
    ("since:5 minutes", 6, "not a duration"),
    ("after:yesterday", 6, "not a time"),
    ("data.x < true", 9, "takes a number or text"),
    ('data.x = "abc', 9, "unterminated string"),
    ("status:done = 4", 12, "unexpected '='"),
])
def test_malformed_queries_say_where(text: str, column: int, words: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse(text)
    assert caught.value.column == column and words in caught.value.message
    assert caught.value.pointer(text).splitlines()[1] == " " * column + "^"


def test_comparisons() -> None:
    values = [42, "42", 41.5, "abc", None, MISSING, [1, 42], {"a": 1}, True]

    def hits(op: str, value: Any) -> list[int]:
        return [n for n, hit in enumerate(compare(values, FieldClause("data", ("x",), op, value))) if hit]

    assert hits("=", 42) == [0, 1]                      # a number matches a numeric string too
    assert hits("=", "abc") == [3] and hits("=", None) == [4] and hits("=", True) == [8]
    assert hits("!=", 42) == [2, 3, 4, 6, 7, 8]          # never a run without the field (5)
    assert hits(">", 41) == [0, 1, 2] and hits("<=", 41.5) == [2] and hits("<", 0) == []
    assert hits(">", "ab") == [3] and hits("<", "5") == [1]     # text order, strings only
    assert hits("contains", "B") == [3] and hits("contains", 42) == [0, 1, 6]
    assert hits("contains", '"a"') == [7]


# -- the index against Redis -----------------------------------------------------------------------
async def run_orders(hm: Any, customers: list[int]) -> dict[int, str]:
    jids: dict[int, str] = {}
    for customer in customers:
        try:
            out = await hm.pubsub("order.place", {"customer": customer, "items": [f"i{customer}"],
                                                  "name": f"Customer {customer}"}, timeout=10)
            jids[customer] = out["metadata"]["jid"]
        except JobError as exc:
            jids[customer] = exc.job_id
    return jids


async def test_index_builds_with_progress_and_filters_in_memory(mesh: Any) -> None:
    hm = await mesh(ORDERS, workers={"order.price": price})
    jids = await run_orders(hm, list(range(10, 22)))
    index = RunIndex(hm, batch=5)
    seen: list[tuple[int, int]] = []
    index._progressed = lambda done, total: seen.append((done, total))    # type: ignore[method-assign]
    await index.load()
    assert len(index.frame) == 12 and seen == [(5, 12), (10, 12), (12, 12)]
    assert list(index.frame["created_ms"]) == sorted(index.frame["created_ms"], reverse=True)

    def found(text: str) -> set[str]:
        return set(index.frame["jid"][index.match(parse(text))])

    assert found("data.customer = 14") == {jids[14]}
    assert found("status:failed") == {jids[13]}
    assert found("data.customer > 18 status:done") == {jids[19], jids[20], jids[21]}
    assert found("data.customer != 10 data.customer <= 12") == {jids[11], jids[12]}
    assert found('data.name contains "customer 2"') == {jids[20], jids[21]}
    assert found("data.items.0 = i15") == {jids[15]}
    assert found(f"id:{jids[16]}") == {jids[16]} and found(jids[17][:-1] + "?") == set()
    assert found("graph:order.place version:1 since:1h") == set(jids.values())
    assert found("graph:other") == set() and found("version:2") == set()
    assert found("data.customer = 99") == set() and found("data.missing = 1") == set()


async def test_output_fields_are_read_for_candidates_then_cached(mesh: Any) -> None:
    hm = await mesh(ORDERS, workers={"order.price": price})
    jids = await run_orders(hm, [10, 11, 12, 13])
    index = RunIndex(hm)
    await index.load()
    query = parse("status:done output.total >= 110")
    assert list(index.frame["jid"][index.match(query)]) == []        # not read yet: no match
    missing = index.missing(query)
    assert set(missing) == {jids[10], jids[11], jids[12]}             # the failed run is no candidate
    reads: list[tuple[int, int]] = []
    await index.read_outputs([c.path for c in query.output_fields], missing, lambda d, t: reads.append((d, t)))
    assert reads == [(3, 3)] and index.missing(query) == []
    assert set(index.frame["jid"][index.match(query)]) == {jids[11], jids[12]}
    nested = parse("output.receipt.paid = true")             # an object written as one job-data field
    await index.read_outputs([nested.fields[0].path], index.missing(nested))
    assert set(index.frame["jid"][index.match(nested)]) == {jids[10], jids[12]}
    assert index.outputs[("receipt", "paid")][jids[13]] is MISSING      # failed: no job data

    by_customer = parse("data.customer >= 12")
    assert set(index.frame["jid"][index.match(by_customer)]) == {jids[12], jids[13]}
    new = (await run_orders(hm, [30]))[30]                   # a live event for a new job
    index.push({"jid": new, "atp": "trigger", "status": "done", "ts": 1})
    index.push({"jid": jids[10], "aid": "price", "atp": "worker", "status": "done", "finished": 1, "ts": 2})
    assert await index.sync() == 2
    assert index.frame["jid"].iloc[0] == new and len(index.frame) == 5
    assert jids[10] not in index.outputs[("total",)]         # its cached value may be stale
    assert set(index.missing(query)) == {new, jids[10]}
    assert set(index.frame["jid"][index.match(by_customer)]) == {jids[12], jids[13], new}   # columns follow
    # the cached column stays row for row with the frame (newest first; two runs started in the same
    # millisecond may come in either order)
    customers = {jid: c for c, jid in {**jids, 30: new}.items()}
    assert index._columns[("customer",)][0].tolist() == [str(customers[j]) for j in index.frame["jid"]]


async def test_runs_table_search_box(mesh: Any) -> None:
    hm = await mesh(ORDERS, workers={"order.price": price})
    jids = await run_orders(hm, [40, 41, 42, 43])
    table = RunsTable(hm)
    await table.load()
    assert not table.progress.visible and len(table.table.value) == 4
    assert table.set_query("data.customer = 42")
    assert list(table.table.value["jid"]) == [jids[42]] and "1 of 4 runs" in table.count.object
    assert not table.set_query("data.customer = ")
    assert table.search_error.visible and "expected a value" in table.search_error.object
    assert list(table.table.value["jid"]) == [jids[42]]      # the last good query still applies
    assert table.set_query("output.total > 405")
    assert "being read" in table.count.object
    assert table._reading is not None
    await table._reading
    assert set(table.table.value["jid"]) == {jids[41], jids[42], jids[43]}
    table.status.value = "done"                              # the widgets and the query combine
    table.set_query("data.customer < 42")
    assert set(table.table.value["jid"]) == {jids[40], jids[41]}
    second = RunsTable(hm, index=table.index)                # a second page on the shared index
    await second.load(refresh=False)
    assert len(second.table.value) == 4


def test_upsert_keeps_newest_first_and_the_columns_in_step() -> None:
    def row(jid: str, created: int, customer: int, semaphore: str = "0") -> dict[str, Any]:
        return make_row(jid, created, [semaphore, "t", "1", None, None, None], f'{{"customer": {customer}}}')

    index = RunIndex(None, limit=3)            # type: ignore[arg-type]   (no Redis: rows are given)
    index.upsert([row("a", 1_000, 1), row("b", 2_000, 2)])
    assert list(index.frame["jid"]) == ["b", "a"]
    query = parse("data.customer >= 2")
    assert list(index.frame["jid"][index.match(query)]) == ["b"]
    index.upsert([row("a", 1_000, 5, semaphore="1"), row("c", 3_000, 3)])     # one changed, one new on top
    assert list(index.frame["jid"]) == ["c", "b", "a"] and index.frame["status"].tolist() == ["done", "done", "running"]
    assert list(index.frame["jid"][index.match(query)]) == ["c", "b", "a"]
    index.upsert([row("d", 1_500, 9)])        # a late event for an older run: sorted in, the oldest leaves
    assert list(index.frame["jid"]) == ["c", "b", "d"] and len(index._positions) == 3
    assert list(index.frame["jid"][index.match(query)]) == ["c", "b", "d"]
    index.upsert([row("e", 4_000, 0)])         # past the limit: the oldest leaves, the columns too
    assert list(index.frame["jid"]) == ["e", "c", "b"]
    assert list(index.frame["jid"][index.match(query)]) == ["c", "b"]
    assert [len(c) for c in index._columns[("customer",)]] == [3, 3, 3]
