"""Results computed from one committed state of the database, kept for the next reader of the same state.

Why: the portfolio report and the dashboard read all 10,000 projects and their histories; computing them takes
seconds, while a web process is asked for them many times between two changes. A door passes a ``version``
(``models.change_stamp``: read before the data, so a kept result is never older than its key) and a ``Memo``
(one per process, ``flows.runtime.Runtime.memo``); a use case keys what it computes by that version and
still checks who asks on every call. Without a version nothing is kept (the CLI, in-memory databases).

Concurrent callers of the same key wait for one computation instead of repeating it: after a change, eight
requests arriving together compute the report once. A result of another version than the one just asked for
can never be asked for again, so a new version drops them: what is kept stays one state's worth of results,
however often the database changes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class Memo:
    """A small thread-safe store of computed results by key, the oldest dropped past ``size`` entries."""

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._kept: OrderedDict[Hashable, Any] = OrderedDict()
        self._versions: dict[Hashable, str | None] = {}
        self._latest: str | None = None
        self._busy: dict[Hashable, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T], *, version: str | None = None) -> T:
        """The result kept for ``key``, else ``compute()`` (once, however many threads ask at the same time).

        ``version``: the state ``key`` was computed from; asking with a new one drops every other's results."""
        with self._lock:
            if version is not None and version != self._latest:
                self._latest = version
                for old in [k for k, v in self._versions.items() if v != version]:
                    self._kept.pop(old, None)
                    del self._versions[old]
            if key in self._kept:
                self._kept.move_to_end(key)
                found: T = self._kept[key]
                return found
            busy = self._busy.setdefault(key, threading.Lock())
        with busy:
            with self._lock:
                if key in self._kept:  # computed by the thread we waited for
                    done: T = self._kept[key]
                    return done
            value = compute()  # an error is raised to this caller and nothing is kept
            with self._lock:
                if version is None or version == self._latest:  # not one a newer version already dropped
                    self._kept[key] = value
                    self._versions[key] = version
                while len(self._kept) > self._size:
                    oldest, _ = self._kept.popitem(last=False)
                    self._versions.pop(oldest, None)
                self._busy.pop(key, None)
            return value

    def kept(self, key: Hashable, *, version: str | None) -> tuple[bool, Any]:
        """``(True, result)`` when ``key`` is kept for ``version`` (the newest asked for), else ``(False, None)``;
        never computes, so an event loop can ask without blocking and hand a miss to ``get`` in a thread."""
        with self._lock:
            if version is None or version != self._latest or key not in self._kept:
                return False, None
            self._kept.move_to_end(key)
            return True, self._kept[key]

    def __len__(self) -> int:
        with self._lock:
            return len(self._kept)
