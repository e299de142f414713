"""server/load.py: loop lag -> spacing between a turn's frames, on a clock passed in."""

from __future__ import annotations

import pytest

from server.turns.load import MAX_SPACING, PROBE_INTERVAL, Load


def run(load: Load, lateness: float, seconds: float, start: float) -> float:
    now = start
    while now < start + seconds:
        now += PROBE_INTERVAL + lateness
        load.observe(lateness, now)
    return now


def test_a_loop_that_keeps_up_gets_no_spacing() -> None:
    load = Load(0.0)
    run(load, 0.001, 5.0, 0.0)
    assert load.lag == pytest.approx(0.001, abs=1e-4)
    assert load.spacing == 0.0


def test_spacing_grows_with_lag_and_is_capped() -> None:
    spacings = []
    for lateness in (0.01, 0.05, 0.1, 1.0):
        load = Load(0.0)
        run(load, lateness, 5.0, 0.0)
        spacings.append(load.spacing)
    assert 0 < spacings[0] < spacings[1] < spacings[2]
    assert spacings[3] == MAX_SPACING


def test_lag_is_smoothed_and_recovers() -> None:
    load = Load(0.0)
    now = run(load, 0.001, 2.0, 0.0)
    load.observe(0.2, now + 0.25)  # one late timer is not yet overload
    assert load.lag < 0.2 * 0.5
    now = run(load, 0.2, 3.0, now + 0.25)
    assert load.spacing > 0.3
    run(load, 0.0005, 5.0, now)  # and once the loop keeps up again, frames go out at once
    assert load.spacing == 0.0


def test_a_clock_that_does_not_move_changes_nothing() -> None:
    load = Load(10.0)
    load.observe(0.5, 10.0)
    assert load.lag == 0.0
    load.observe(-1.0, 11.0)  # early timers count as on time
    assert load.lag == 0.0
