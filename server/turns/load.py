"""How far behind the event loop runs, and how far apart that puts a turn's frames (pure: the
caller passes the clock and the measurements).

A token that arrives costs a network read, which nothing saves; a frame that goes out costs a
render, a JSON encode and a write, per socket. When more streams arrive than one core can relay
token by token, the loop falls behind and every stream's delay grows without bound. Frames are
the work that can be cut: so the loop's lag (how late a periodic timer runs) is smoothed here
and turned into a minimum spacing between a turn's delta frames. On a loop that keeps up the
spacing is 0 and every token goes out at once; on one that does not, tokens share frames until
it keeps up again. Coalescing does nothing at a steady rate below the frame rate; this is the
safety valve for overload.
"""

from __future__ import annotations

import math

PROBE_INTERVAL = 0.05  # how often the caller measures the loop's lag while turns run
_TAU = 0.5  # seconds over which lag is smoothed
_THRESHOLD = 0.004  # lag below this is a loop that keeps up
_GAIN = 3.0  # spacing per second of lag above the threshold
MAX_SPACING = 0.5  # under any load, a stream still shows something twice a second


class Load:
    def __init__(self, now: float) -> None:
        self.lag = 0.0
        self._at = now

    def observe(self, lateness: float, now: float) -> None:
        """A timer due ``lateness`` seconds before ``now`` ran at ``now``."""
        elapsed = max(0.0, now - self._at)
        self._at = now
        weight = 1.0 - math.exp(-elapsed / _TAU)
        self.lag += weight * (max(0.0, lateness) - self.lag)

    @property
    def spacing(self) -> float:
        """The least time between two delta frames of one turn."""
        excess = self.lag - _THRESHOLD
        return 0.0 if excess <= 0 else min(MAX_SPACING, _GAIN * excess)
