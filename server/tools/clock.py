"""The clock tools: the time now in a zone, and a wall-clock time from one zone to another.

Zones are IANA names read by zoneinfo (the tzdata package supplies them where the system has
none), so daylight saving time is whatever the zone's rules say on that date.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import Field

from .registry import ToolFailure

Zone = Annotated[
    str, Field(description="An IANA time zone name such as 'Europe/Paris', 'America/New_York' or 'UTC'.")
]


def zone(name: str) -> ZoneInfo:
    """The zone called ``name``; ToolFailure names it and suggests the IANA spelling."""
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        pass
    raise ToolFailure(f"unknown time zone {name!r}: {_suggestion(name)}")


def _suggestion(name: str) -> str:
    # Only on the error path: scanning every zone name is too slow to do on each call.
    wanted = name.strip().replace(" ", "_").lower()
    close = sorted(
        known
        for known in available_timezones()
        if known.lower() == wanted or known.lower().rsplit("/", 1)[-1] == wanted.rsplit("/", 1)[-1]
    )
    if close:
        return "did you mean " + " or ".join(repr(known) for known in close[:3]) + "?"
    return "use an IANA name such as 'Europe/Paris', 'Asia/Tokyo' or 'UTC'"


def describe(moment: datetime, zone_name: str) -> str:
    """``moment`` as ISO 8601 with its offset, then its weekday and zone."""
    return f"{moment.isoformat(timespec='seconds')} ({moment.strftime('%A')}, {zone_name})"


def _parse(text: str, where: ZoneInfo, now: datetime) -> datetime:
    text = text.strip()
    try:
        clock = datetime.strptime(text, "%H:%M")
    except ValueError:
        pass
    else:
        return now.astimezone(where).replace(hour=clock.hour, minute=clock.minute, second=0, microsecond=0)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ToolFailure(
            f"cannot read the time {text!r}: write 'YYYY-MM-DD HH:MM', 'HH:MM' (today) or ISO 8601"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=where)


def _check_exists(moment: datetime, zone_name: str) -> None:
    # A wall-clock time skipped when clocks go forward comes back from UTC as another time.
    if moment.tzinfo is None:
        return
    back = moment.astimezone(ZoneInfo("UTC")).astimezone(moment.tzinfo)
    if back.replace(tzinfo=None) != moment.replace(tzinfo=None):
        raise ToolFailure(
            f"{moment.strftime('%Y-%m-%d %H:%M')} does not exist in {zone_name}: the clocks skip it "
            "(daylight saving time starts)"
        )


async def current_time(time_zone: Zone = "UTC") -> str:
    """The current date and time in a time zone, as ISO 8601 with its UTC offset and the
    weekday."""
    where = zone(time_zone)
    return describe(datetime.now(where), time_zone.strip())


async def convert_time(
    time: Annotated[
        str,
        Field(
            description="The time to convert: 'YYYY-MM-DD HH:MM', 'HH:MM' (today in from_zone) or ISO 8601."
        ),
    ],
    from_zone: Annotated[str, Field(description="The IANA zone the time is in, e.g. 'America/New_York'.")],
    to_zone: Annotated[str, Field(description="The IANA zone to convert it to, e.g. 'Asia/Tokyo'.")],
) -> str:
    """Convert a date and time from one time zone to another, with daylight saving time as
    each zone had it on that date."""
    source, target = zone(from_zone), zone(to_zone)
    moment = _parse(time, source, datetime.now(source))
    if moment.tzinfo is source:
        _check_exists(moment, from_zone.strip())
    converted = moment.astimezone(target)
    note = ""
    if moment.tzinfo is source and moment.replace(fold=1).utcoffset() != moment.utcoffset():
        later = moment.replace(fold=1).astimezone(target)
        note = f"; that time happens twice in {from_zone.strip()} (clocks go back), the second is " + (
            later.isoformat(timespec="seconds")
        )
    # An ISO time with its own offset keeps it: from_zone was not needed to place it.
    label = from_zone.strip() if moment.tzinfo is source else moment.tzname() or "its offset"
    return f"{describe(moment, label)} is {describe(converted, to_zone.strip())}{note}"
