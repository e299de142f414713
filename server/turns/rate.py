"""A token bucket: at most ``rate`` events per second on average, ``burst`` back to back (pure:
the caller passes the clock)."""

from __future__ import annotations

# Refills are sums of float products: a token "due" at t may come out a hair short at t.
_EPSILON = 1e-9


class TokenBucket:
    def __init__(self, rate: float, burst: float, now: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs rate > 0 and burst >= 1")
        self.rate = rate
        self.burst = float(burst)
        self._tokens = float(burst)
        self._at = now

    def _refill(self, now: float) -> None:
        if now > self._at:
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now

    def take(self, now: float) -> bool:
        """Spend a token if there is one."""
        self._refill(now)
        if self._tokens >= 1.0 - _EPSILON:
            self._tokens = max(0.0, self._tokens - 1.0)
            return True
        return False

    def ready_at(self, now: float) -> float:
        """When the next token will be there (``now`` if it already is)."""
        self._refill(now)
        if self._tokens >= 1.0 - _EPSILON:
            return now
        return now + (1.0 - self._tokens) / self.rate
