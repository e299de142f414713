"""server/tools/clock.py: the time now, and conversions across daylight saving time."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from server.tools.clock import convert_time, current_time
from server.tools.registry import ToolFailure


def convert(time: str, from_zone: str, to_zone: str) -> str:
    return asyncio.run(convert_time(time, from_zone, to_zone))


def test_current_time_is_iso_with_offset_and_weekday() -> None:
    text = asyncio.run(current_time("Asia/Tokyo"))
    match = re.fullmatch(r"(\S+) \((\w+day), Asia/Tokyo\)", text)
    assert match is not None, text
    moment = datetime.fromisoformat(match.group(1))
    assert moment.utcoffset() is not None
    assert moment.utcoffset().total_seconds() == 9 * 3600  # type: ignore[union-attr]
    assert match.group(2) == moment.strftime("%A")
    assert abs((moment - datetime.now(ZoneInfo("UTC"))).total_seconds()) < 5


def test_current_time_defaults_to_utc() -> None:
    assert asyncio.run(current_time()).endswith(", UTC)")
    assert "+00:00 (" in asyncio.run(current_time())


def test_conversion_before_and_after_spring_forward() -> None:
    # Europe/Paris moves from +01:00 to +02:00 at 01:00 UTC on 29 March 2026.
    before = convert("2026-03-29 00:30", "UTC", "Europe/Paris")
    after = convert("2026-03-29 01:30", "UTC", "Europe/Paris")
    assert before.endswith("is 2026-03-29T01:30:00+01:00 (Sunday, Europe/Paris)")
    assert after.endswith("is 2026-03-29T03:30:00+02:00 (Sunday, Europe/Paris)")
    assert after.startswith("2026-03-29T01:30:00+00:00 (Sunday, UTC)")


def test_conversion_uses_each_dates_rules() -> None:
    # New York and London change on different Sundays: the gap is 4 hours for a few weeks.
    assert "2026-03-20T10:00:00-04:00" in convert("2026-03-20 14:00", "Europe/London", "America/New_York")
    assert "2026-04-20T09:00:00-04:00" in convert("2026-04-20 14:00", "Europe/London", "America/New_York")


def test_skipped_time_is_refused() -> None:
    with pytest.raises(ToolFailure, match="does not exist in Europe/Paris"):
        convert("2026-03-29 02:30", "Europe/Paris", "UTC")


def test_repeated_time_gives_both() -> None:
    text = convert("2026-10-25 02:30", "Europe/Paris", "UTC")
    assert "2026-10-25T00:30:00+00:00" in text
    assert "happens twice" in text
    assert "2026-10-25T01:30:00+00:00" in text


def test_hours_and_minutes_mean_today_in_from_zone() -> None:
    text = convert("09:15", "America/Los_Angeles", "UTC")
    today = datetime.now(ZoneInfo("America/Los_Angeles")).date()
    assert text.startswith(f"{today.isoformat()}T09:15:00-0")


def test_iso_with_its_own_offset_keeps_it() -> None:
    text = convert("2026-07-01T12:00:00+05:30", "UTC", "UTC")
    assert text.endswith("is 2026-07-01T06:30:00+00:00 (Wednesday, UTC)")


def test_unknown_zone_names_it_and_suggests_the_iana_form() -> None:
    with pytest.raises(ToolFailure, match=r"unknown time zone 'Paris'.*'Europe/Paris'"):
        convert("10:00", "Paris", "UTC")
    with pytest.raises(ToolFailure, match=r"unknown time zone 'Mars/Olympus'.*IANA.*'Europe/Paris'"):
        asyncio.run(current_time("Mars/Olympus"))
    with pytest.raises(ToolFailure, match=re.escape("unknown time zone '../etc/passwd'")):
        convert("10:00", "UTC", "../etc/passwd")


def test_unreadable_time() -> None:
    with pytest.raises(ToolFailure, match="cannot read the time 'noon'"):
        convert("noon", "UTC", "Europe/Paris")
