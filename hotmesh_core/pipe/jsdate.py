"""The JavaScript ``Date`` model: time values, local time, parsing and the built-in string formats.

A time value is an ``int`` of milliseconds since the Unix epoch (UTC), or ``None`` for an Invalid Date.
Calendar arithmetic follows ECMAScript (MakeDay/MakeTime/MakeDate/TimeClip), so out-of-range fields roll
over as in JavaScript (month 12 is January of the next year, day 0 is the last day of the previous
month). "Local time" is the process's local time zone, read through ``datetime.astimezone``.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta, tzinfo
from email.utils import parsedate_tz
from typing import NamedTuple

MS_PER_DAY = 86_400_000
MAX_TIME = 8.64e15
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

DAY_NAMES = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")
MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_LONG_ZONE_NAMES = {"UTC": "Coordinated Universal Time", "GMT": "Greenwich Mean Time"}

_ISO = re.compile(
    r"(?P<year>[+-]\d{6}|\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2}))?)?"
    r"(?:[Tt ](?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d{1,9}))?)?"
    r"(?P<zone>[Zz]|[+-]\d{2}:?\d{2})?)?",
    re.ASCII,
)
_JS_STRING = re.compile(
    r"(?:[A-Za-z]{3},? )?(?P<month>[A-Za-z]{3}) (?P<day>\d{1,2}),? (?P<year>-?\d{1,6})"
    r"(?: (?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?(?: GMT(?P<zone>[+-]\d{4}))?(?: \(.*\))?)?",
    re.ASCII,
)
_US_DATE = re.compile(
    r"(?P<month>\d{1,2})/(?P<day>\d{1,2})/(?P<year>\d{4})"
    r"(?:,? (?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?\s*(?P<half>[AaPp][Mm])?)?",
    re.ASCII,
)


class Fields(NamedTuple):
    """The calendar fields of a time value (month is 0-based and weekday 0 is Sunday, as in JavaScript)."""

    year: int
    month: int
    date: int
    hours: int
    minutes: int
    seconds: int
    milliseconds: int
    weekday: int


def days_from_civil(year: int, month: int, day: int) -> int:
    """Days from 1970-01-01 to a proleptic Gregorian date (month 1-12); exact for any year."""
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def civil_from_days(days: int) -> tuple[int, int, int]:
    """The (year, month 1-12, day) of a count of days from 1970-01-01."""
    days += 719468
    era = days // 146097
    day_of_era = days - era * 146097
    year_of_era = (day_of_era - day_of_era // 1460 + day_of_era // 36524 - day_of_era // 146096) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    shifted_month = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * shifted_month + 2) // 5 + 1
    month = shifted_month + (3 if shifted_month < 10 else -9)
    return year_of_era + era * 400 + (month <= 2), month, day


def make_day(year: float, month: float, date: float) -> float:
    """ECMAScript MakeDay: days since the epoch of (year, 0-based month, day); months roll over years."""
    if not all(math.isfinite(value) for value in (year, month, date)):
        return math.nan
    whole_year, whole_month, whole_date = int(year), int(month), int(date)
    full_year = whole_year + whole_month // 12
    if abs(full_year) > 1_000_000:
        return math.nan
    return days_from_civil(full_year, whole_month % 12 + 1, 1) + whole_date - 1


def make_time(hours: float, minutes: float, seconds: float, milliseconds: float) -> float:
    """ECMAScript MakeTime: milliseconds of a time of day (fields may overflow; fractions truncate)."""
    if not all(math.isfinite(value) for value in (hours, minutes, seconds, milliseconds)):
        return math.nan
    return int(hours) * 3_600_000 + int(minutes) * 60_000 + int(seconds) * 1000 + int(milliseconds)


def make_date(day: float, time: float) -> float:
    """ECMAScript MakeDate: a time value from a day number and a time of day."""
    if not (math.isfinite(day) and math.isfinite(time)):
        return math.nan
    return day * MS_PER_DAY + time


def time_clip(time: float) -> int | None:
    """ECMAScript TimeClip: an integral time value within +-8.64e15 ms, else None (Invalid Date)."""
    if not math.isfinite(time) or abs(time) > MAX_TIME:
        return None
    return int(time)


def fields(time: int) -> Fields:
    """The calendar fields of a time value, read in UTC (apply :func:`to_local` first for local fields)."""
    day, in_day = divmod(time, MS_PER_DAY)
    year, month, date = civil_from_days(day)
    hours, rest = divmod(in_day, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, milliseconds = divmod(rest, 1000)
    return Fields(year, month - 1, date, hours, minutes, seconds, milliseconds, (day + 4) % 7)


def compose(parts: Fields) -> float:
    """The time value of (possibly overflowing) calendar fields, the inverse of :func:`fields`."""
    return make_date(
        make_day(parts.year, parts.month, parts.date),
        make_time(parts.hours, parts.minutes, parts.seconds, parts.milliseconds),
    )


def offset(time: int, zone: tzinfo | None = None) -> int:
    """Milliseconds to add to a UTC time value to get local time in ``zone`` (default: the process's)."""
    try:
        moment = (EPOCH + timedelta(milliseconds=time)).astimezone(zone)
    except (OverflowError, OSError, ValueError):
        moment = datetime.now(UTC).astimezone(zone)
    delta = moment.utcoffset()
    return 0 if delta is None else int(delta.total_seconds() * 1000)


def to_local(time: int, zone: tzinfo | None = None) -> int:
    """ECMAScript LocalTime."""
    return time + offset(time, zone)


def from_local(local: float, zone: tzinfo | None = None) -> float:
    """ECMAScript UTC(t): the UTC time value of a local time.

    A local time repeated by a DST change is the earlier instant, and one skipped by it is read with the
    offset before the change (both: "the offset before the transition"), as JavaScript does.
    """
    if not math.isfinite(local) or abs(local) > MAX_TIME + MS_PER_DAY:
        return math.nan
    wall = int(local)
    before = wall - offset(wall - MS_PER_DAY, zone)
    after = wall - offset(wall + MS_PER_DAY, zone)
    valid = [time for time in (before, after) if to_local(time, zone) == wall]
    return min(valid) if valid else before


def from_datetime(moment: datetime) -> int | None:
    """The time value of a ``datetime`` (naive means local time)."""
    aware = moment if moment.tzinfo is not None else moment.astimezone()
    return time_clip((aware - EPOCH) // timedelta(milliseconds=1))


def to_datetime(time: int) -> datetime:
    """An aware UTC ``datetime`` for a time value (raises ``OverflowError`` outside years 1 to 9999)."""
    return EPOCH + timedelta(milliseconds=time)


def parse(text: str) -> int | None:
    """``Date.parse``: ISO 8601 (date-only is UTC, date-time without offset is local), RFC 2822 and
    the formats Date itself prints (``toString``, en-US ``toLocaleString``). None when unrecognized."""
    text = text.strip()
    for parser in (_parse_iso, _parse_js_string, _parse_us_date, _parse_rfc2822):
        result = parser(text)
        if result is not False:
            return result if result is None else time_clip(result)
    return None


def _valid(year: int, month: int, day: int, hour: int, minute: int, second: int) -> bool:
    # Like V8, any day 1-31 is accepted and rolls over (2024-02-30 is March 1).
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return False
    return 0 <= hour <= 24 and 0 <= minute <= 59 and 0 <= second <= 59


def _parse_iso(text: str) -> float | None | bool:
    match = _ISO.fullmatch(text)
    if not match:
        return False
    if match["year"] == "-000000":
        return None
    year, month, day = int(match["year"]), int(match["month"] or 1), int(match["day"] or 1)
    hour, minute, second = int(match["hour"] or 0), int(match["minute"] or 0), int(match["second"] or 0)
    fraction = int((match["fraction"] or "0").ljust(3, "0")[:3])
    if not _valid(year, month, day, hour, minute, second):
        return None
    if hour == 24 and (minute or second or fraction):
        return None
    value = make_date(days_from_civil(year, month, day), make_time(hour, minute, second, fraction))
    zone = match["zone"]
    if zone is None:
        return value if match["hour"] is None else from_local(value)
    if zone in ("Z", "z"):
        return value
    digits = zone[1:].replace(":", "")
    shift = (int(digits[:2]) * 60 + int(digits[2:])) * 60_000
    return value - shift if zone[0] == "+" else value + shift


def _parse_js_string(text: str) -> float | None | bool:
    match = _JS_STRING.fullmatch(text)
    if not match or match["month"].title() not in MONTH_NAMES:
        return False
    month = MONTH_NAMES.index(match["month"].title()) + 1
    year, day = int(match["year"]), int(match["day"])
    hour, minute, second = int(match["hour"] or 0), int(match["minute"] or 0), int(match["second"] or 0)
    if not _valid(year, month, day, hour, minute, second):
        return None
    value = make_date(days_from_civil(year, month, day), make_time(hour, minute, second, 0))
    zone = match["zone"]
    if zone is None:
        return from_local(value)
    shift = (int(zone[1:3]) * 60 + int(zone[3:])) * 60_000
    return value - shift if zone[0] == "+" else value + shift


def _parse_us_date(text: str) -> float | None | bool:
    match = _US_DATE.fullmatch(text)
    if not match:
        return False
    year, month, day = int(match["year"]), int(match["month"]), int(match["day"])
    hour, minute, second = int(match["hour"] or 0), int(match["minute"] or 0), int(match["second"] or 0)
    if match["half"]:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if match["half"].upper() == "PM" else 0)
    if not _valid(year, month, day, hour, minute, second):
        return None
    return from_local(make_date(days_from_civil(year, month, day), make_time(hour, minute, second, 0)))


def _parse_rfc2822(text: str) -> float | None | bool:
    parsed = parsedate_tz(text)
    if parsed is None:
        return False
    year, month, day, hour, minute, second = parsed[:6]
    if not _valid(year, month, day, hour, minute, second):
        return None
    value = make_date(days_from_civil(year, month, day), make_time(hour, minute, second, 0))
    return from_local(value) if parsed[9] is None else value - parsed[9] * 1000


def _year(year: int, width: int) -> str:
    if 0 <= year <= 9999:
        return f"{year:0{width}d}"
    return f"{'+' if year > 0 else '-'}{abs(year):06d}"


def iso_string(time: int) -> str:
    """``Date.prototype.toISOString``: ``2024-01-02T03:04:05.678Z`` (six-digit signed years outside 0-9999)."""
    parts = fields(time)
    return (
        f"{_year(parts.year, 4)}-{parts.month + 1:02d}-{parts.date:02d}"
        f"T{parts.hours:02d}:{parts.minutes:02d}:{parts.seconds:02d}.{parts.milliseconds:03d}Z"
    )


def _zone_name(time: int) -> str:
    try:
        name = to_datetime(time).astimezone().tzname() or ""
    except (OverflowError, OSError, ValueError):
        name = datetime.now().astimezone().tzname() or ""
    return _LONG_ZONE_NAMES.get(name, name)


def date_string(time: int | None) -> str:
    """``Date.prototype.toDateString`` in local time: ``Tue Jan 02 2024``."""
    if time is None:
        return "Invalid Date"
    parts = fields(to_local(time))
    return f"{DAY_NAMES[parts.weekday]} {MONTH_NAMES[parts.month]} {parts.date:02d} {_year(parts.year, 4)}"


def to_string(time: int | None) -> str:
    """``Date.prototype.toString``: ``Tue Jan 02 2024 03:04:05 GMT+0000 (Coordinated Universal Time)``."""
    if time is None:
        return "Invalid Date"
    parts = fields(to_local(time))
    minutes = offset(time) // 60_000
    sign = "+" if minutes >= 0 else "-"
    zone = f"GMT{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
    return (
        f"{date_string(time)} {parts.hours:02d}:{parts.minutes:02d}:{parts.seconds:02d} "
        f"{zone} ({_zone_name(time)})"
    )


def locale_date(time: int | None, zone: tzinfo | None = None) -> str:
    """en-US ``toLocaleDateString``: ``1/2/2024``."""
    if time is None:
        return "Invalid Date"
    parts = fields(to_local(time, zone))
    return f"{parts.month + 1}/{parts.date}/{parts.year}"


def locale_time(time: int | None, zone: tzinfo | None = None) -> str:
    """en-US ``toLocaleTimeString``: ``3:04:05 AM``."""
    if time is None:
        return "Invalid Date"
    parts = fields(to_local(time, zone))
    half = "AM" if parts.hours < 12 else "PM"
    return f"{parts.hours % 12 or 12}:{parts.minutes:02d}:{parts.seconds:02d} {half}"


def locale_string(time: int | None, zone: tzinfo | None = None) -> str:
    """en-US ``toLocaleString``: ``1/2/2024, 3:04:05 AM``."""
    if time is None:
        return "Invalid Date"
    return f"{locale_date(time, zone)}, {locale_time(time, zone)}"
