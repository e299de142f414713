"""When each chunk of a demo answer is due (pure: the caller owns the clock).

Every deadline is measured from the start of the stream, never from the previous chunk, so a
late wake-up or a slow client does not push the rest of the answer back: the chunks that fell
due in the meantime go out together, as they would from a real server catching up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# At this rate a schedule means nothing (the event loop cannot wake that often), so every
# chunk is due at once and the caller sends them in batches as fast as the client reads.
UNPACED_TOKENS_PER_SECOND = 10_000.0


@dataclass(frozen=True, kw_only=True)
class Pace:
    ttft: float
    tokens_per_second: float

    def __post_init__(self) -> None:
        if not (self.ttft >= 0 and math.isfinite(self.ttft)):
            raise ValueError(f"ttft must be a finite number >= 0, got {self.ttft!r}")
        if not self.tokens_per_second > 0:
            raise ValueError(f"tokens_per_second must be > 0, got {self.tokens_per_second!r}")

    @property
    def unpaced(self) -> bool:
        return self.tokens_per_second >= UNPACED_TOKENS_PER_SECOND

    def due(self, index: int) -> float:
        """Seconds after the stream starts at which chunk ``index`` (from 0) is due."""
        if self.unpaced:
            return self.ttft
        return self.ttft + index / self.tokens_per_second

    def ready(self, elapsed: float, total: int) -> int:
        """How many of ``total`` chunks are due ``elapsed`` seconds into the stream.

        Agrees exactly with ``due``: chunk ``i`` is ready iff ``due(i) <= elapsed``, whatever
        the floating-point rounding, so a caller that sleeps until ``due(i)`` never spins.
        """
        if elapsed < self.ttft or total <= 0:
            return 0
        if self.unpaced:
            return total
        count = min(total, math.floor((elapsed - self.ttft) * self.tokens_per_second) + 1)
        while count < total and self.due(count) <= elapsed:
            count += 1
        while count > 0 and self.due(count - 1) > elapsed:
            count -= 1
        return count
