"""``@cron``: the delay until the next occurrence of a five-field cron expression (UTC).

Fields are minute, hour, day of month, month and day of week (0 or 7 is Sunday). Each accepts ``*``
(or ``?``), numbers, names (``JAN``, ``MON``), lists (``1,15``), ranges (``1-5``) and steps (``*/15``,
``0-30/10``, ``5/20``). As in Vixie cron, when both day fields are restricted a day matching either
one fires.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

_NAMES = {
    3: ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"],
    4: ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
}
_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_SEARCH_DAYS = 366 * 29  # a leap day on a given weekday recurs within 28 years


def _fidelity_from_env() -> int:
    try:
        return max(1, int(os.environ.get("HMSH_FIDELITY_SECONDS", "5")))
    except ValueError:
        return 5


FIDELITY_SECONDS = _fidelity_from_env()
"""The smallest delay returned (the time-hook slot size, env ``HMSH_FIDELITY_SECONDS``, default 5)."""


def _number(text: str, field: int) -> int:
    names = _NAMES.get(field)
    if names and text.upper() in names:
        return names.index(text.upper()) + (1 if field == 3 else 0)
    if not text.isdigit() or not text.isascii():
        raise ValueError(f"bad cron value {text!r}")
    return int(text)


def _parse_field(text: str, field: int) -> set[int]:
    low, high = _BOUNDS[field]
    values: set[int] = set()
    for item in text.split(","):
        body, _, step_text = item.partition("/")
        step = _number(step_text, -1) if step_text else 1
        if body in ("*", "?"):
            start, stop = low, high
        elif "-" in body:
            first, _, last = body.partition("-")
            start, stop = _number(first, field), _number(last, field)
        else:
            start = _number(body, field)
            stop = high if step_text else start
        if step < 1 or not (low <= start <= stop <= high):
            raise ValueError(f"bad cron field {text!r}")
        values.update(range(start, stop + 1, step))
    if field == 4 and 7 in values:
        values = (values - {7}) | {0}
    return values


def next_occurrence(expression: str, after: datetime) -> datetime | None:
    """The first minute strictly after ``after`` (UTC) that matches, or None if none within 29 years.

    Raises ``ValueError`` for a malformed expression.
    """
    parts = expression.split()
    if len(parts) != 5:
        raise ValueError("a cron expression has five fields")
    minutes, hours, days, months, weekdays = (_parse_field(part, index) for index, part in enumerate(parts))
    day_restricted = parts[2][0] not in "*?"
    weekday_restricted = parts[4][0] not in "*?"
    start = after.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    day = start.replace(hour=0, minute=0)
    for _ in range(_SEARCH_DAYS):
        weekday = (day.weekday() + 1) % 7
        if day_restricted and weekday_restricted:
            day_matches = day.day in days or weekday in weekdays
        else:
            day_matches = day.day in days and weekday in weekdays
        if day.month in months and day_matches:
            for hour in sorted(hours):
                for minute in sorted(minutes):
                    candidate = day.replace(hour=hour, minute=minute)
                    if candidate >= start:
                        return candidate
        day += timedelta(days=1)
    return None


def next_delay(expression: Any) -> int:
    """Whole seconds until the next occurrence (at least ``FIDELITY_SECONDS``), or -1 if the
    expression is not a valid five-field cron expression."""
    if not isinstance(expression, str):
        return -1
    now = datetime.now(UTC)
    try:
        upcoming = next_occurrence(expression, now)
    except (ValueError, OverflowError):
        return -1
    if upcoming is None:
        return -1
    delay = (upcoming - now).total_seconds()
    return max(math.floor(delay + 0.5), FIDELITY_SECONDS)


FUNCTIONS: dict[str, Callable[..., Any]] = {"nextDelay": next_delay}
