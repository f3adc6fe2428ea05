"""Audit chain verification speed, keyed (HMAC-SHA256, issue #12) against unkeyed (sha256), in pure Python.

Builds one chain of ``--count`` entries per scheme in memory (the payload of a typical vote entry) and times
``gates.audit.verify_rows`` over it, best of ``--repeat`` runs. Prints ``name: value`` lines.

    .venv/bin/python bench/audit.py [--count 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from phasegate.gates.audit import AuditRow, build_chain, verify_rows
from phasegate.models.keys import derive_audit_key, generate_key

PAYLOAD = {
    "round_id": "8c4d3a62-4f0b-4b8e-9a51-2d4c1f7e0a11",
    "decision": "go",
    "evidence_hash": "a" * 64,
    "reason": "Business case is sound; budget within tolerance",
}


def _rows(count: int, key: bytes | None) -> list[AuditRow]:
    start = datetime(2026, 12, 1, tzinfo=UTC)
    entries = [(start + timedelta(seconds=n), "sam", "vote.cast", f"round:{n}", PAYLOAD) for n in range(count)]
    return [
        (r.seq, r.at, r.actor, r.action, r.entity, r.payload, r.prev_hash, r.hash, r.scheme)
        for r in build_chain(entries, key=key)
    ]


def _best(rows: list[AuditRow], key: bytes | None, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        began = time.perf_counter()
        assert verify_rows(rows, key=key) is None
        best = min(best, time.perf_counter() - began)
    return len(rows) / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    key = derive_audit_key(generate_key())
    unkeyed = _best(_rows(args.count, None), None, args.repeat)
    keyed = _best(_rows(args.count, key), key, args.repeat)
    print(f"verify_unkeyed_rows_per_second: {unkeyed:.0f}")
    print(f"verify_keyed_rows_per_second: {keyed:.0f}")
    print(f"keyed_over_unkeyed: {keyed / unkeyed:.2f}")


if __name__ == "__main__":
    main()
