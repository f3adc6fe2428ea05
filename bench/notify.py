"""Outbox delivery throughput: 1,000 notifications to a local HTTP receiver that answers after 50 ms.

Runs the real dispatcher (claim, render, Apprise send, record) on a fresh SQLite file, once sending one row at
a time and once per concurrency level, and prints ``name: value`` lines. The receiver is on 127.0.0.1 and
the run is bounded by ``--count``; nothing else is contacted.

    .venv/bin/python bench/notify.py [--count 1000] [--delay 0.05] [--concurrency 1,4,8,16]
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from phasegate.gates.vocabulary.enums import OutboxStatus
from phasegate.models import schema
from phasegate.models.db import make_engine, make_session_factory
from phasegate.models.tables import OutboxMessage
from phasegate.notifications.dispatch import dispatch_due
from tests.receivers import HttpReceiver

CONTEXT = {
    "project_key": "ERP-7",
    "project_name": "ERP rollout",
    "gate_name": "Gate 2: Plan approval",
    "decision": "go",
    "decided_by": ["wang"],
    "reason": "Business case holds",
    "new_stage": "Executing",
    "project_status": "active",
}


def run(count: int, concurrency: int, receiver: HttpReceiver, directory: Path) -> float:
    """Deliver ``count`` rows with ``concurrency`` senders; return notifications per second."""
    url = f"sqlite:///{directory / f'bench-{concurrency}.db'}"
    schema.upgrade(url)
    engine = make_engine(url, sqlite_synchronous="NORMAL")
    sessions = make_session_factory(engine)
    now = datetime.now(UTC)
    target = receiver.apprise_url(f"/c{concurrency}")
    with sessions() as session, session.begin():
        session.add_all(
            OutboxMessage(
                idempotency_key=f"bench:{uuid.uuid4()}",
                kind="decision_made",
                target=target,
                locale="en",
                context=CONTEXT,
                status=OutboxStatus.PENDING.value,
                next_attempt_at=now,
            )
            for _ in range(count)
        )
    sent = 0
    started = time.perf_counter()
    while True:
        report = dispatch_due(sessions, now=now, batch_size=100, concurrency=concurrency, lease_seconds=120)
        sent += report.sent
        if report.claimed == 0:
            break
    elapsed = time.perf_counter() - started
    engine.dispose()
    if sent != count:
        raise SystemExit(f"concurrency {concurrency}: sent {sent} of {count}")
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--delay", type=float, default=0.05, help="receiver reply delay in seconds")
    parser.add_argument("--concurrency", default="1,4,8,16", help="comma-separated sender counts")
    args = parser.parse_args()
    levels = [int(level) for level in args.concurrency.split(",")]
    logging.basicConfig(level=logging.ERROR)
    print(f"notifications: {args.count}")
    print(f"receiver_delay_ms: {args.delay * 1000:.0f}")
    with tempfile.TemporaryDirectory(prefix="phasegate-bench-") as tmp, HttpReceiver(delay=args.delay) as receiver:
        rates = {level: run(args.count, level, receiver, Path(tmp)) for level in levels}
    for level, rate in rates.items():
        print(f"throughput_c{level}_per_s: {rate:.1f}")
    if 1 in rates:
        for level, rate in rates.items():
            if level != 1:
                print(f"speedup_c{level}_vs_c1: {rate / rates[1]:.2f}")


if __name__ == "__main__":
    main()
