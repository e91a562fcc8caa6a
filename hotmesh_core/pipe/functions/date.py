"""``@date``: the ``Date`` API with the date as the first argument.

A date argument may be a ``datetime`` (naive means local time), epoch milliseconds, a numeric string
of epoch milliseconds, or a date string (ISO 8601, RFC 2822, or what ``toString``/``toLocaleString``
print). Getters and setters without ``UTC`` work in the process's local time zone. Setters return the
new epoch milliseconds (NaN for an invalid date); an omitted optional setter argument keeps the current
field. Locale formatting always uses the en-US layout (``1/2/2024, 3:04:05 AM``); the ``timeZone``
option is honoured.
"""

from __future__ import annotations

import math
import re
import time as _time_module
from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ...errors import PipeError
from .. import jsdate
from ..js import NAN, UNDEFINED, describe, is_number, to_number, to_string, truthy

_NUMERIC = re.compile(r"\s*[+-]?[0-9]+(?:\.[0-9]*)?\s*")
_ISO_X_REMOVED = str.maketrans("", "", ":TZ-")

# Calendar field order used by the setters: year, month, date, hours, minutes, seconds, milliseconds.
_YEAR, _MONTH, _DATE, _HOURS, _MINUTES, _SECONDS, _MS = range(7)


def time_value(value: Any) -> int | None:
    """The epoch milliseconds of a date argument (None for an Invalid Date); raises for other values."""
    if isinstance(value, datetime):
        return jsdate.from_datetime(value)
    if is_number(value):
        return jsdate.time_clip(value)
    if isinstance(value, str):
        if _NUMERIC.fullmatch(value):
            return jsdate.time_clip(float(value))
        parsed = jsdate.parse(value)
        if parsed is not None:
            return parsed
    raise PipeError(f"@date: invalid date format {describe(value)}")


def _as_datetime(time: int | None) -> datetime:
    if time is None:
        raise PipeError("@date: invalid date")
    try:
        return jsdate.to_datetime(time)
    except OverflowError as exc:
        raise PipeError("@date: date is outside the years 1 to 9999") from exc


def get_date_instance(value: Any) -> datetime:
    """The argument as a date (``datetime`` in UTC)."""
    return _as_datetime(time_value(value))


def from_iso_string(text: Any) -> datetime:
    """``new Date(text)``."""
    return _as_datetime(time_value(to_string(text)))


def now() -> int:
    """``Date.now()``: epoch milliseconds."""
    return _time_module.time_ns() // 1_000_000


def parse(text: Any) -> int | float:
    """``Date.parse(text)``: epoch milliseconds, or NaN when the string is not a date."""
    parsed = jsdate.parse(to_string(text))
    return NAN if parsed is None else parsed


def _field_getter(index: int, utc: bool) -> Callable[[Any], int | float]:
    def getter(date: Any) -> int | float:
        time = time_value(date)
        if time is None:
            return NAN
        return jsdate.fields(time if utc else jsdate.to_local(time))[index]

    return getter


def get_time(date: Any) -> int | float:
    """Epoch milliseconds (``getTime`` and ``valueOf``)."""
    time = time_value(date)
    return NAN if time is None else time


def get_timezone_offset(date: Any) -> int | float:
    """Minutes to add to local time to get UTC (negative east of Greenwich)."""
    time = time_value(date)
    return NAN if time is None else -jsdate.offset(time) // 60_000


def _setter(first: int, last: int, utc: bool, whole_year: bool = False) -> Callable[..., int | float]:
    """A setter of the calendar fields ``first..last``; arguments after the first are optional."""

    def setter(date: Any, *arguments: Any) -> int | float:
        time = time_value(date)
        if time is None and not whole_year:
            return NAN
        base = 0 if time is None else (time if utc else jsdate.to_local(time))
        parts: list[float] = list(jsdate.fields(base)[:7])
        values = list(arguments[: last - first + 1]) or [UNDEFINED]
        for offset, value in enumerate(values):
            if offset == 0 or value is not UNDEFINED:
                parts[first + offset] = to_number(value)
        composed = jsdate.make_date(
            jsdate.make_day(parts[_YEAR], parts[_MONTH], parts[_DATE]),
            jsdate.make_time(parts[_HOURS], parts[_MINUTES], parts[_SECONDS], parts[_MS]),
        )
        clipped = jsdate.time_clip(composed if utc else jsdate.from_local(composed))
        return NAN if clipped is None else clipped

    return setter


def set_time(date: Any, time: Any = UNDEFINED) -> int | float:
    """``setTime``: the new epoch milliseconds (the date argument is only validated)."""
    time_value(date)
    clipped = jsdate.time_clip(to_number(time))
    return NAN if clipped is None else clipped


def _valid(date: Any) -> int:
    time = time_value(date)
    if time is None:
        raise PipeError("@date: invalid time value")
    return time


def to_date_string(date: Any) -> str:
    """``Tue Jan 02 2024`` (local time)."""
    return jsdate.date_string(time_value(date))


def to_iso_string(date: Any) -> str:
    """``2024-01-02T03:04:05.678Z``."""
    return jsdate.iso_string(_valid(date))


def to_isox_string(date: Any = UNDEFINED) -> str:
    """The ISO string without ``-``, ``:``, ``T`` and ``Z``: ``20240102030405.678`` (now when no date)."""
    time = time_value(date) if truthy(date) else now()
    if time is None:
        raise PipeError("@date: invalid time value")
    return jsdate.iso_string(time).translate(_ISO_X_REMOVED)


def to_json(date: Any) -> str | None:
    """``toJSON``: the ISO string, or null for an invalid date."""
    time = time_value(date)
    return None if time is None else jsdate.iso_string(time)


def _zone(options: Any) -> tzinfo | None:
    if not isinstance(options, dict) or options.get("timeZone") in (None, UNDEFINED):
        return None
    name = to_string(options["timeZone"])
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise PipeError(f"@date: invalid time zone specified: {name}") from exc


def to_locale_date_string(date: Any, locales: Any = UNDEFINED, options: Any = UNDEFINED) -> str:
    """``1/2/2024`` (en-US layout whatever the locale)."""
    return jsdate.locale_date(time_value(date), _zone(options))


def to_locale_string(date: Any, locales: Any = UNDEFINED, options: Any = UNDEFINED) -> str:
    """``1/2/2024, 3:04:05 AM`` (en-US layout whatever the locale)."""
    return jsdate.locale_string(time_value(date), _zone(options))


def to_locale_time_string(date: Any, locales: Any = UNDEFINED, options: Any = UNDEFINED) -> str:
    """``3:04:05 AM`` (en-US layout whatever the locale)."""
    return jsdate.locale_time(time_value(date), _zone(options))


def to_string_(date: Any) -> str:
    """``Tue Jan 02 2024 03:04:05 GMT+0000 (Coordinated Universal Time)``."""
    return jsdate.to_string(time_value(date))


def utc(year: Any, month: Any = 0, day: Any = 1, hours: Any = 0, minutes: Any = 0, seconds: Any = 0,
        milliseconds: Any = 0) -> int | float:
    """``Date.UTC``: epoch milliseconds of UTC fields (years 0-99 mean 1900-1999)."""
    given = [year, month, day, hours, minutes, seconds, milliseconds]
    defaults = [NAN, 0, 1, 0, 0, 0, 0]
    numbers = [to_number(value) if value is not UNDEFINED else default for value, default in zip(given, defaults, strict=True)]
    whole_year = numbers[0]
    if math.isfinite(whole_year) and 0 <= int(whole_year) <= 99:
        numbers[0] = 1900 + int(whole_year)
    composed = jsdate.make_date(jsdate.make_day(*numbers[:3]), jsdate.make_time(*numbers[3:]))
    clipped = jsdate.time_clip(composed)
    return NAN if clipped is None else clipped


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "getDateInstance": get_date_instance,
    "fromISOString": from_iso_string,
    "now": now,
    "parse": parse,
    "getDate": _field_getter(_DATE, utc=False),
    "getDay": _field_getter(7, utc=False),
    "getFullYear": _field_getter(_YEAR, utc=False),
    "getHours": _field_getter(_HOURS, utc=False),
    "getMilliseconds": _field_getter(_MS, utc=False),
    "getMinutes": _field_getter(_MINUTES, utc=False),
    "getMonth": _field_getter(_MONTH, utc=False),
    "getSeconds": _field_getter(_SECONDS, utc=False),
    "getTime": get_time,
    "getTimezoneOffset": get_timezone_offset,
    "getUTCDate": _field_getter(_DATE, utc=True),
    "getUTCDay": _field_getter(7, utc=True),
    "getUTCFullYear": _field_getter(_YEAR, utc=True),
    "getUTCHours": _field_getter(_HOURS, utc=True),
    "getUTCMilliseconds": _field_getter(_MS, utc=True),
    "getUTCMinutes": _field_getter(_MINUTES, utc=True),
    "getUTCMonth": _field_getter(_MONTH, utc=True),
    "getUTCSeconds": _field_getter(_SECONDS, utc=True),
    "setMilliseconds": _setter(_MS, _MS, utc=False),
    "setMinutes": _setter(_MINUTES, _MS, utc=False),
    "setMonth": _setter(_MONTH, _DATE, utc=False),
    "setSeconds": _setter(_SECONDS, _MS, utc=False),
    "setTime": set_time,
    "setUTCDate": _setter(_DATE, _DATE, utc=True),
    "setUTCFullYear": _setter(_YEAR, _DATE, utc=True, whole_year=True),
    "setUTCHours": _setter(_HOURS, _MS, utc=True),
    "setUTCMilliseconds": _setter(_MS, _MS, utc=True),
    "setUTCMinutes": _setter(_MINUTES, _MS, utc=True),
    "setUTCMonth": _setter(_MONTH, _DATE, utc=True),
    "setUTCSeconds": _setter(_SECONDS, _MS, utc=True),
    "setDate": _setter(_DATE, _DATE, utc=False),
    "setFullYear": _setter(_YEAR, _DATE, utc=False, whole_year=True),
    "setHours": _setter(_HOURS, _MS, utc=False),
    "toDateString": to_date_string,
    "toISOString": to_iso_string,
    "toISOXString": to_isox_string,
    "toJSON": to_json,
    "toLocaleDateString": to_locale_date_string,
    "toLocaleString": to_locale_string,
    "toLocaleTimeString": to_locale_time_string,
    "toString": to_string_,
    "UTC": utc,
    "valueOf": get_time,
}
