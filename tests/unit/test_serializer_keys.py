"""Value encoding, key minting and id validation."""

from __future__ import annotations

import math

import pytest

from hotmesh_core.errors import ValidationError
from hotmesh_core.keys import JobFields, Keys, check_id
from hotmesh_core.serializer import decode, encode, unflatten


@pytest.mark.parametrize("value, text", [
    ("x", "x"), (14, "/d14"), (1.5, "/d1.5"), (2.0, "/d2"), (True, "/t"), (False, "/f"), (None, "/n"),
    ({"k": [1]}, '/s{"k":[1]}'), ([1, "a"], '/s[1,"a"]'), ("/t", '/s"/t"'), ("", ""),
])
def test_encode_decode(value: object, text: str) -> None:
    assert encode(value) == text
    assert decode(text) == value


def test_nan_and_infinity() -> None:
    assert math.isnan(decode(encode(float("nan"))))
    assert decode(encode(float("inf"))) == float("inf")


def test_unflatten() -> None:
    assert unflatten({"a/b": 1, "a/c": 2, "d": 3}) == {"a": {"b": 1, "c": 2}, "d": 3}


def test_keys_reference_names() -> None:
    keys = Keys("demo")
    assert keys.app_registry() == "hmsh:demo:a:"
    assert keys.legacy_app_registry() == "hmsh:a:demo"
    assert keys.engine_stream() == "hmsh:demo:x:"
    assert keys.worker_stream("work.do") == "hmsh:demo:x:work.do"
    assert keys.job("j1") == "hmsh:demo:j:j1"
    assert keys.quorum_channel("abc") == "hmsh:demo:q:abc"
    assert JobFields.ledger("a1", ",0,0") == "l/a1,0,0"


def test_sharded_layout_puts_job_and_stream_in_one_slot() -> None:
    keys = Keys("demo", shards=4)
    job, stream = keys.job("order-17"), keys.engine_stream("order-17")
    tag = job[job.index("{"): job.index("}") + 1]
    assert tag in stream and len(keys.engine_streams()) == 4


@pytest.mark.parametrize("bad", ["", "a:b", "a*", "a b", "x" * 129, None, 5, "a[1]"])
def test_check_id_rejects(bad: object) -> None:
    with pytest.raises(ValidationError):
        check_id("job id", bad)


def test_check_id_accepts() -> None:
    assert check_id("topic", "order.placed-v2_x") == "order.placed-v2_x"
