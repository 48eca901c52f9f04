"""Failed logins counted per key (a user name, a client address), refused past a limit.

A key with `max_failures` failures in the last `window_s` seconds is throttled until
its oldest failure in the window ages out; while it is, every login with that key is
refused before any password is checked, a correct one too (so the throttle answers
the same whatever the password, and guessing cannot go on). Counts live in the
process: each registry process throttles on its own.
"""

import math
import threading
import time
from collections.abc import Callable, Iterable

from cachetools import TTLCache

MAX_FAILURES = 10
WINDOW_S = 60.0
MAX_KEYS = 10_000  # keys remembered at most (the oldest go first)


class FailureThrottle:
    """Failed logins per key over a sliding window."""

    def __init__(
        self,
        max_failures: int = MAX_FAILURES,
        window_s: float = WINDOW_S,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.max_failures, self.window_s, self._clock = max_failures, window_s, clock
        # A key's entry expires `window_s` after its last failure, with all its failures.
        self._failures: TTLCache[str, list[float]] = TTLCache(max_keys, window_s, timer=clock)
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> list[float]:
        return [t for t in self._failures.get(key, ()) if now - t < self.window_s]

    def retry_after(self, keys: Iterable[str]) -> int | None:
        """Whole seconds until every key in `keys` may try again; None when none is throttled."""
        now, waits = self._clock(), []
        with self._lock:
            for key in keys:
                recent = self._recent(key, now)
                if len(recent) >= self.max_failures:
                    oldest = recent[-self.max_failures]
                    waits.append(self.window_s - (now - oldest))
        return max(1, math.ceil(max(waits))) if waits else None

    def failed(self, keys: Iterable[str]) -> None:
        """Count one failed login against each key in `keys`."""
        now = self._clock()
        with self._lock:
            for key in keys:
                self._failures[key] = [*self._recent(key, now), now][-self.max_failures :]
