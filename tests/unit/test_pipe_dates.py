"""@pipe time functions: @date (JavaScript Date semantics in local time) and @cron.nextDelay.

T is 2024-01-02T03:04:05.678Z, a Tuesday. Local-time tests pin the process time zone with TZ.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hotmesh_core.errors import PipeError
from hotmesh_core.pipe import UNDEFINED
from hotmesh_core.pipe.functions import call, cron

T = 1704164645678
ISO = "2024-01-02T03:04:05.678Z"
HOUR = 3_600_000
DAY = 24 * HOUR
NAN = float("nan")


def fn(reference: str, *arguments: Any) -> Any:
    return call(reference, arguments)


def is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


@pytest.fixture
def zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Set the process's local time zone for one test."""

    def use(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()

    use("UTC")
    yield use
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("zone")
class TestDateInputs:
    @pytest.mark.parametrize(
        "value",
        [T, str(T), ISO, "2024-01-02T04:04:05.678+01:00", "2024-01-02T03:04:05.678",
         datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC), float(T)],
    )
    def test_accepted_forms(self, value: Any) -> None:
        assert fn("date.getTime", value) == T

    def test_date_only_iso_is_utc_midnight(self) -> None:
        assert fn("date.valueOf", "2024-01-02") == 1704153600000

    @pytest.mark.parametrize("value", ["garbage", None, UNDEFINED, True, {}, [T]])
    def test_rejected_forms(self, value: Any) -> None:
        with pytest.raises(PipeError, match="invalid date"):
            fn("date.getTime", value)

    def test_invalid_time_values_read_as_nan(self) -> None:
        assert is_nan(fn("date.getTime", NAN))
        assert is_nan(fn("date.getUTCFullYear", 9e15))
        assert fn("date.toString", NAN) == "Invalid Date"
        assert fn("date.toJSON", NAN) is None
        with pytest.raises(PipeError, match="invalid time value"):
            fn("date.toISOString", NAN)

    def test_get_date_instance_and_from_iso_string(self) -> None:
        expected = datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
        assert fn("date.getDateInstance", T) == expected
        assert fn("date.fromISOString", ISO) == expected

    def test_now_is_epoch_milliseconds(self) -> None:
        before = time.time() * 1000
        value = fn("date.now")
        assert isinstance(value, int)
        assert before - 1 <= value <= time.time() * 1000 + 1

    @pytest.mark.parametrize(
        ("text", "expected"),
        [(ISO, T), ("Tue, 02 Jan 2024 03:04:05 GMT", T - 678), ("Tue Jan 02 2024 03:04:05 GMT+0000 (UTC)", T - 678),
         ("1/2/2024, 3:04:05 AM", T - 678), ("2024-01-02 03:04:05", T - 678), ("2024", 1704067200000),
         ("2024-02-30", 1709251200000), ("2024-01-02T03:04:05.1234567Z", T - 678 + 123)],
    )
    def test_parse(self, text: str, expected: int) -> None:
        assert fn("date.parse", text) == expected

    @pytest.mark.parametrize("text", ["nope", "2024-13-01", "2024-02-32", "2024-01-02T25:00:00Z"])
    def test_parse_nan(self, text: str) -> None:
        assert is_nan(fn("date.parse", text))


class TestDateGetters:
    def test_utc_getters(self) -> None:
        assert fn("date.getUTCFullYear", T) == 2024
        assert fn("date.getUTCMonth", T) == 0
        assert fn("date.getUTCDate", T) == 2
        assert fn("date.getUTCDay", T) == 2
        assert fn("date.getUTCHours", T) == 3
        assert fn("date.getUTCMinutes", T) == 4
        assert fn("date.getUTCSeconds", T) == 5
        assert fn("date.getUTCMilliseconds", T) == 678

    def test_local_getters_in_utc(self, zone: Callable[[str], None]) -> None:
        assert [fn(f"date.get{name}", T) for name in
                ("FullYear", "Month", "Date", "Day", "Hours", "Minutes", "Seconds", "Milliseconds")] == [
            2024, 0, 2, 2, 3, 4, 5, 678]
        assert fn("date.getTimezoneOffset", T) == 0

    def test_local_getters_in_new_york(self, zone: Callable[[str], None]) -> None:
        zone("America/New_York")
        assert fn("date.getFullYear", T) == 2024
        assert fn("date.getMonth", T) == 0
        assert fn("date.getDate", T) == 1
        assert fn("date.getDay", T) == 1
        assert fn("date.getHours", T) == 22
        assert fn("date.getTimezoneOffset", T) == 300
        assert fn("date.getTimezoneOffset", "2024-07-01T12:00:00Z") == 240
        assert fn("date.getHours", "2024-07-01T12:00:00Z") == 8
        assert fn("date.getUTCHours", T) == 3

    def test_local_date_time_string_without_offset_is_local(self, zone: Callable[[str], None]) -> None:
        zone("America/New_York")
        assert fn("date.getTime", "2024-01-01T22:04:05.678") == T


@pytest.mark.usefixtures("zone")
class TestDateSetters:
    @pytest.mark.parametrize(
        ("name", "arguments", "expected"),
        [
            ("setMilliseconds", (0,), T - 678),
            ("setSeconds", (0,), T - 5000),
            ("setSeconds", (0, 0), T - 5678),
            ("setMinutes", (0,), T - 4 * 60_000),
            ("setHours", (0,), T - 3 * HOUR),
            ("setHours", (25,), T + 22 * HOUR),
            ("setDate", (0,), T - 2 * DAY),
            ("setMonth", (12,), 1735787045678),
            ("setMonth", (1, 30), 1709262245678),
            ("setFullYear", (2025,), T + 366 * DAY),
            ("setTime", (0,), 0),
            ("setUTCDate", (15,), T + 13 * DAY),
            ("setUTCFullYear", (2000, 0, 1), 946695845678),
            ("setUTCHours", (12, 30), 1704198605678),
            ("setUTCMinutes", (59, 59, 999), T + 55 * 60_000 + 54_321),
            ("setUTCMonth", (5,), 1717297445678),
            ("setUTCSeconds", (61,), T + 56_000),
            ("setUTCMilliseconds", (1000,), T + 322),
        ],
    )
    def test_setters_return_epoch_milliseconds(self, name: str, arguments: tuple[Any, ...], expected: int) -> None:
        assert fn(f"date.{name}", ISO, *arguments) == expected

    def test_omitted_optional_arguments_keep_the_field(self) -> None:
        assert fn("date.setMinutes", T, 5, UNDEFINED) == T + 60_000

    def test_invalid_inputs_give_nan(self) -> None:
        assert is_nan(fn("date.setHours", T, "x"))
        assert is_nan(fn("date.setHours", T))
        assert is_nan(fn("date.setMinutes", NAN, 1))
        assert fn("date.setFullYear", NAN, 2000) == 946684800000  # an invalid date starts from +0

    def test_local_setters_in_new_york(self, zone: Callable[[str], None]) -> None:
        zone("America/New_York")
        assert fn("date.setHours", T, 0) == T - 22 * HOUR
        # 02:30 does not exist on 2024-03-10: read with the offset before the change (03:30 EDT).
        assert fn("date.toISOString", fn("date.setHours", "2024-03-10T12:00:00Z", 2, 30)) == (
            "2024-03-10T07:30:00.000Z")
        # 01:30 happens twice on 2024-11-03: the earlier one (EDT).
        assert fn("date.toISOString", fn("date.setHours", "2024-11-03T12:00:00Z", 1, 30)) == (
            "2024-11-03T05:30:00.000Z")


@pytest.mark.usefixtures("zone")
class TestDateFormatting:
    def test_iso_formats(self) -> None:
        assert fn("date.toISOString", T) == ISO
        assert fn("date.toJSON", T) == ISO
        assert fn("date.toISOXString", T) == "20240102030405.678"
        assert re.fullmatch(r"\d{14}\.\d{3}", fn("date.toISOXString"))

    def test_iso_string_outside_four_digit_years(self) -> None:
        assert fn("date.toISOString", -62198755200000) == "-000001-01-01T00:00:00.000Z"

    def test_strings(self) -> None:
        assert fn("date.toDateString", T) == "Tue Jan 02 2024"
        assert fn("date.toString", T) == "Tue Jan 02 2024 03:04:05 GMT+0000 (Coordinated Universal Time)"

    def test_locale_strings_use_the_en_us_layout(self) -> None:
        assert fn("date.toLocaleString", T) == "1/2/2024, 3:04:05 AM"
        assert fn("date.toLocaleString", T, "en-US") == "1/2/2024, 3:04:05 AM"
        assert fn("date.toLocaleDateString", T) == "1/2/2024"
        assert fn("date.toLocaleTimeString", T) == "3:04:05 AM"
        assert fn("date.toLocaleTimeString", "2024-01-02T15:00:00Z") == "3:00:00 PM"
        assert fn("date.toLocaleTimeString", "2024-01-02T00:00:00Z") == "12:00:00 AM"
        assert fn("date.toLocaleTimeString", "2024-01-02T12:00:00Z") == "12:00:00 PM"

    def test_locale_time_zone_option(self) -> None:
        options = {"timeZone": "America/New_York"}
        assert fn("date.toLocaleString", T, "en-US", options) == "1/1/2024, 10:04:05 PM"
        assert fn("date.toLocaleDateString", T, "en-US", {"timeZone": "UTC"}) == "1/2/2024"
        with pytest.raises(PipeError, match="invalid time zone"):
            fn("date.toLocaleString", T, "en-US", {"timeZone": "Mars/Olympus"})

    def test_to_string_in_new_york(self, zone: Callable[[str], None]) -> None:
        zone("America/New_York")
        assert fn("date.toString", T).startswith("Mon Jan 01 2024 22:04:05 GMT-0500 (")
        assert fn("date.toLocaleString", T) == "1/1/2024, 10:04:05 PM"
        assert fn("date.toDateString", T) == "Mon Jan 01 2024"

    def test_utc(self) -> None:
        assert fn("date.UTC", 2024, 0, 2, 3, 4, 5, 678) == T
        assert fn("date.UTC", 99, 0) == 915148800000
        assert fn("date.UTC", 2024) == 1704067200000
        assert fn("date.UTC", 2024, 12) == 1735689600000
        assert is_nan(fn("date.UTC", "x"))


class TestCronNextOccurrence:
    AFTER = datetime(2024, 1, 1, 10, 15, 30, tzinfo=UTC)  # a Monday

    @pytest.mark.parametrize(
        ("expression", "expected"),
        [
            ("*/15 * * * *", datetime(2024, 1, 1, 10, 30, tzinfo=UTC)),
            ("0 9 * * 1-5", datetime(2024, 1, 2, 9, 0, tzinfo=UTC)),
            ("30 8 1,15 * *", datetime(2024, 1, 15, 8, 30, tzinfo=UTC)),
            ("0 0 * * SUN", datetime(2024, 1, 7, tzinfo=UTC)),
            ("0 0 * * 7", datetime(2024, 1, 7, tzinfo=UTC)),
            ("0 12 13 * 5", datetime(2024, 1, 5, 12, 0, tzinfo=UTC)),  # the 13th OR a Friday
            ("0 0 1 JAN *", datetime(2025, 1, 1, tzinfo=UTC)),
            ("5/20 * * * *", datetime(2024, 1, 1, 10, 25, tzinfo=UTC)),
            ("16 10 * * *", datetime(2024, 1, 1, 10, 16, tzinfo=UTC)),
            ("15 10 * * *", datetime(2024, 1, 2, 10, 15, tzinfo=UTC)),
            ("0 0 29 2 *", datetime(2024, 2, 29, tzinfo=UTC)),
            ("0-10/5 3 * * *", datetime(2024, 1, 2, 3, 0, tzinfo=UTC)),
        ],
    )
    def test_next_occurrence(self, expression: str, expected: datetime) -> None:
        assert cron.next_occurrence(expression, self.AFTER) == expected

    def test_never_matching_expression(self) -> None:
        assert cron.next_occurrence("0 0 30 2 *", self.AFTER) is None


class TestCronNextDelay:
    def test_seconds_until_next_utc_midnight(self) -> None:
        now = datetime.now(UTC)
        midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        delay = fn("cron.nextDelay", "0 0 * * *")
        assert isinstance(delay, int)
        assert delay >= 5
        assert abs(delay - max(5, round((midnight - now).total_seconds()))) <= 2

    def test_every_minute_is_at_least_the_fidelity(self) -> None:
        assert 5 <= fn("cron.nextDelay", "* * * * *") <= 61

    def test_fidelity_is_the_minimum(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(cron, "FIDELITY_SECONDS", 120)
        assert fn("cron.nextDelay", "* * * * *") == 120

    @pytest.mark.parametrize(("value", "expected"), [("1", 1), ("abc", 5), ("0", 1)])
    def test_fidelity_from_the_environment(self, monkeypatch: pytest.MonkeyPatch, value: str, expected: int) -> None:
        monkeypatch.setenv("HMSH_FIDELITY_SECONDS", value)
        assert cron._fidelity_from_env() == expected

    @pytest.mark.parametrize(
        "expression",
        ["not a cron", "60 * * * *", "* * * *", "* * * * * *", "0 24 * * *", "0 0 0 * *", "0 0 * 13 *",
         "*/0 * * * *", "5-1 * * * *", "0 0 30 2 *", "1,,2 * * * *", None, 5, UNDEFINED],
    )
    def test_invalid_is_minus_one(self, expression: Any) -> None:
        assert fn("cron.nextDelay", expression) == -1
