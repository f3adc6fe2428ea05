"""Audit every refusal without letting an anonymous flood grow the audit log without bound.

Every refused request (a wrong password or one-time code, a form without its CSRF token, a forged, expired or
stale approval link, an API call with no or a bad token) is a security event worth a line in the hash-chained
log. But anyone on the network can cause them, as fast as they like. So each *source* (client address) gets
at most ``PER_MINUTE`` entries per minute; the refusals beyond that are counted, and one
``security.refusals_suppressed`` entry records how many there were when the source's next minute starts
(or when the server stops). Nothing is lost: a flood shows as its first entries plus a count.

The ledger lives in the process (one per app). Several server processes each keep their own: the bound is
then per process, which still bounds growth.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request

from phasegate.usecases.ports import UnitOfWork

PER_MINUTE = 20
SUPPRESSED = "security.refusals_suppressed"
ANONYMOUS = "anonymous"


@dataclass
class _Window:
    minute: int
    written: int = 0
    suppressed: int = 0
    by_action: dict[str, int] = field(default_factory=dict)


@dataclass
class RefusalLedger:
    per_minute: int = PER_MINUTE
    _windows: dict[str, _Window] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(
        self,
        uow: Callable[[], UnitOfWork],
        *,
        source: str,
        action: str,
        entity: str,
        payload: dict[str, Any],
        now: datetime,
        actor: str = ANONYMOUS,
    ) -> bool:
        """Append the refusal unless ``source`` is over its budget this minute; True when it was written."""
        minute = int(now.timestamp()) // 60
        with self._lock:
            window = self._windows.get(source)
            summary = None
            if window is None or window.minute != minute:
                if window is not None and window.suppressed:
                    summary = window
                window = self._windows[source] = _Window(minute=minute)
            write = window.written < self.per_minute
            if write:
                window.written += 1
            else:
                window.suppressed += 1
                window.by_action[action] = window.by_action.get(action, 0) + 1
        if summary is None and not write:
            return False
        with uow() as tx:
            if summary is not None:
                entity = f"source:{source}"
                tx.append_audit(actor=ANONYMOUS, action=SUPPRESSED, entity=entity, payload=_summary(summary), at=now)
            if write:
                tx.append_audit(actor=actor, action=action, entity=entity, payload=payload | {"source": source}, at=now)
            tx.commit()
        return write

    def flush(self, uow: Callable[[], UnitOfWork], *, now: datetime) -> int:
        """Write the pending suppression counts (at shutdown); returns how many summaries were written."""
        with self._lock:
            pending = [(source, w) for source, w in self._windows.items() if w.suppressed]
            self._windows.clear()
        if not pending:
            return 0
        with uow() as tx:
            for source, window in pending:
                tx.append_audit(
                    actor=ANONYMOUS, action=SUPPRESSED, entity=f"source:{source}", payload=_summary(window), at=now
                )
            tx.commit()
        return len(pending)


def _summary(window: _Window) -> dict[str, Any]:
    return {
        "minute_utc": datetime.fromtimestamp(window.minute * 60, UTC).isoformat(timespec="minutes"),
        "written": window.written,
        "suppressed": window.suppressed,
        "by_action": dict(window.by_action),
    }


def source_of(request: Request) -> str:
    """The client address a refusal is counted against (behind a proxy: configure uvicorn's --forwarded-allow-ips)."""
    return request.client.host if request.client is not None else "unknown"


def ledger_of(request: Request) -> RefusalLedger:
    """The app's ledger (``web.app.create_app`` makes one); an app without one gets one on first use."""
    state = request.app.state
    found = getattr(state, "refusals", None)
    if not isinstance(found, RefusalLedger):
        found = state.refusals = RefusalLedger()
    return found


def audit_refusal(
    request: Request,
    uow: Callable[[], UnitOfWork],
    *,
    action: str,
    entity: str,
    payload: dict[str, Any],
    now: datetime,
    actor: str = ANONYMOUS,
) -> bool:
    """Audit one refused request through the app's rate-limited ledger (blocking: call from the thread pool)."""
    return ledger_of(request).record(
        uow, source=source_of(request), action=action, entity=entity, payload=payload, now=now, actor=actor
    )
