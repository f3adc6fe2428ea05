"""Throttled sign-in: failed attempts per account and per source, in a sliding window.

Why both keys: per account stops guessing one person's password from many addresses; per source stops one
address from trying a few passwords on every account. While a key is over its limit, sign-in attempts on it
are refused before any password is checked (429, audited), so argon2's cost is not an amplifier either.
A success clears the account's count, not the source's.

In the process, like the refusal ledger: several server processes each keep their own counts.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta

WINDOW = timedelta(minutes=15)
PER_ACCOUNT = 5
PER_SOURCE = 20


@dataclass
class SignInThrottle:
    window: timedelta = WINDOW
    per_account: int = PER_ACCOUNT
    per_source: int = PER_SOURCE
    _failures: dict[str, deque[datetime]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _recent(self, key: str, now: datetime) -> int:
        stamps = self._failures.get(key)
        if not stamps:
            return 0
        while stamps and now - stamps[0] >= self.window:
            stamps.popleft()
        return len(stamps)

    def blocked(self, *, account: str, source: str, now: datetime) -> str | None:
        """Which limit this attempt is over ('account' or 'source'), or None when it may be tried."""
        with self._lock:
            if self._recent(f"account:{account.lower()}", now) >= self.per_account:
                return "account"
            if self._recent(f"source:{source}", now) >= self.per_source:
                return "source"
        return None

    def failed(self, *, account: str, source: str, now: datetime) -> None:
        with self._lock:
            for key in (f"account:{account.lower()}", f"source:{source}"):
                self._failures.setdefault(key, deque()).append(now)

    def succeeded(self, *, account: str) -> None:
        with self._lock:
            self._failures.pop(f"account:{account.lower()}", None)
