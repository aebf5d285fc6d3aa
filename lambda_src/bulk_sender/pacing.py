"""Pacing (DESIGN.md section 4): a token bucket in recipients per second, with AIMD.

A call is never refused for being larger than the bucket: it takes its tokens at once and
the bucket's debt delays the next caller. Throttling halves the rate (at most once per
`cooldown` seconds, since calls in flight all see the same throttle); each success adds back
a twentieth of the configured rate.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class TokenBucket:
    def __init__(
        self,
        rate: float,
        *,
        burst_seconds: float = 1.0,
        cooldown: float = 1.0,
        min_rate_share: float = 1 / 16,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.max_rate = rate
        self.rate = rate
        self._burst_seconds = burst_seconds
        self._cooldown = cooldown
        self._min_rate = rate * min_rate_share
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = 0.0  # starts empty: no burst at cold start
        self._last = clock()
        self._last_cut = float("-inf")

    def wait_time(self, recipients: int) -> float:
        """Seconds `acquire(recipients)` would wait now (for a deadline check)."""
        with self._lock:
            self._refill()
            return max(0.0, -self._tokens / self.rate)

    def acquire(self, recipients: int) -> float:
        """Take `recipients` tokens; wait until earlier debt is paid. Returns the wait."""
        with self._lock:
            self._refill()
            wait = max(0.0, -self._tokens / self.rate)
            self._tokens -= recipients
        if wait:
            self._sleep(wait)
        return wait

    def on_throttle(self) -> None:
        with self._lock:
            now = self._clock()
            if now - self._last_cut >= self._cooldown:
                self._refill()
                self.rate = max(self._min_rate, self.rate / 2)
                self._last_cut = now

    def on_success(self) -> None:
        with self._lock:
            if self.rate < self.max_rate:
                self._refill()
                self.rate = min(self.max_rate, self.rate + self.max_rate / 20)

    def _refill(self) -> None:
        now = self._clock()
        capacity = self.rate * self._burst_seconds
        self._tokens = min(capacity, self._tokens + (now - self._last) * self.rate)
        self._last = now


class Unpaced:
    """No rate limit: used when no rate is known (or set to unlimited for a benchmark)."""

    rate = float("inf")

    def wait_time(self, recipients: int) -> float:
        return 0.0

    def acquire(self, recipients: int) -> float:
        return 0.0

    def on_throttle(self) -> None:
        pass

    def on_success(self) -> None:
        pass


def account_rate(ses: object, *, max_concurrency: int, share: float = 0.9) -> float:
    """The per-invocation rate: SES MaxSendRate x 0.9 / MAX_CONCURRENCY (GetAccount)."""
    quota = ses.get_account()["SendQuota"]  # type: ignore[attr-defined]
    rate = float(quota["MaxSendRate"])
    if not math.isfinite(rate) or rate <= 0:
        raise ValueError("GetAccount answered a MaxSendRate that is not a positive number")
    return rate * share / max(1, max_concurrency)
