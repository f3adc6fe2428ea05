"""What a batch of reads costs on PostgreSQL through psycopg, three ways: the lever left for issue #17.

A review's five evidence reads (``SqlEvidence.gate_reads``), the rows phasegate reads on every review, sent:

- ``one_by_one``: a cursor each, each waiting for its answer (psycopg prepares a statement on its fifth use);
- ``pipeline``: psycopg's pipeline mode, what phasegate does today: one wait for the five;
- ``prepared_batch``: each statement prepared on the server once per connection (``PREPARE``), then one simple
  query of five ``EXECUTE``s whose arguments psycopg writes as literals (``ClientCursor.mogrify``), its five
  results read in turn (``nextset``): one wait, one message.

Why: a sampled profile puts most of a PostgreSQL round's extra client CPU in psycopg, and its pipeline saves waits,
not CPU: in pipeline mode each statement is still its own trip through psycopg's Python (a cursor, a generator, a
flush and a poll each). The three ways are checked to return the same rows, then alternated, ``--repeat`` times
``--batches`` batches each. Prints ``name: value`` lines: client CPU and wall-clock microseconds per batch
(medians), and the ratios to the pipeline. Run: ``.venv/bin/python bench/pg_batches.py [--batches 300]
[--repeat 8] [--url postgresql+psycopg://postgres@127.0.0.1:5432/postgres]``.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.dialects.postgresql import psycopg as pg_dialect

if __package__ in (None, ""):  # run as a script: make the checkout importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.decisions import POSTGRES_URL, _libpq, emit, fresh_postgres
from bench.peers import phasegate_gate
from phasegate.models import statements as q
from phasegate.models.schema import upgrade

Reads = Sequence[tuple[str, dict[str, Any]]]
Rows = list[list[tuple[Any, ...]]]
_NAMED = re.compile(r"%\((\w+)\)s")


def evidence_reads(key: str) -> Reads:
    """The five reads of a review's evidence, compiled as phasegate compiles them for psycopg, with their values."""
    dialect = pg_dialect.dialect()
    reads = (
        (q.LATEST_DOCUMENTS, {"key": key}),
        (q.EVIDENCE_FIGURES, {"key": key, "stage_id": "initiating", "as_of": date(2026, 12, 1)}),
        (q.PROJECT_RISKS, {"key": key}),
        (q.PROJECT_MILESTONES, {"key": key}),
        (q.GATE_SCORES, {"key": key, "gate_id": "g1"}),
    )
    return [(str(statement.compile(dialect=dialect)), params) for statement, params in reads]


def one_by_one(connection: psycopg.Connection[Any], reads: Reads) -> Rows:
    return [connection.execute(sql, params).fetchall() for sql, params in reads]


def pipeline(connection: psycopg.Connection[Any], reads: Reads) -> Rows:
    with connection.pipeline():
        cursors = [connection.execute(sql, params) for sql, params in reads]
    return [cursor.fetchall() for cursor in cursors]


def _numbered(sql: str) -> tuple[list[str], str]:
    """The parameter names of psycopg's ``%(name)s`` SQL in order, and the SQL with ``$1``... as PREPARE takes it."""
    names = list(dict.fromkeys(_NAMED.findall(sql)))
    return names, _NAMED.sub(lambda found: f"${names.index(found.group(1)) + 1}", sql)


def prepared_batch(connection: psycopg.Connection[Any], reads: Reads) -> Callable[[], Rows]:
    """Prepare each read on the server (once), then return how to send all five in one simple query."""
    literal = psycopg.ClientCursor(connection)
    calls = []
    for index, (sql, params) in enumerate(reads):
        names, numbered = _numbered(sql)
        connection.execute(f"PREPARE evidence_{index} AS {numbered}")
        calls.append((f"evidence_{index}", names, params))

    def send() -> Rows:
        text = "; ".join(
            f"EXECUTE {name}({', '.join(literal.mogrify('%s', (params[n],)) for n in names)})"
            for name, names, params in calls
        )
        cursor = psycopg.ClientCursor(connection)
        cursor.execute(text)
        rows = [cursor.fetchall()]
        while cursor.nextset():
            rows.append(cursor.fetchall())
        return rows

    return send


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=300, help="batches per timed run (default 300)")
    parser.add_argument("--repeat", type=int, default=8, help="alternated runs of each way (default 8)")
    parser.add_argument("--url", default=POSTGRES_URL, help="the server, as a SQLAlchemy URL (a database is made)")
    args = parser.parse_args(argv)
    with fresh_postgres(args.url, "batches") as url:
        upgrade(url)
        phasegate_gate.setup(url, 1)
        reads = evidence_reads(phasegate_gate.project_keys(phasegate_gate.SINGLE, 1)[0])
        with psycopg.connect(_libpq(url), autocommit=True) as connection:
            ways: dict[str, Callable[[], Rows]] = {
                "one_by_one": lambda: one_by_one(connection, reads),
                "pipeline": lambda: pipeline(connection, reads),
                "prepared_batch": prepared_batch(connection, reads),
            }
            expected = ways["one_by_one"]()
            for name, way in ways.items():
                if way() != expected:
                    raise RuntimeError(f"{name} read other rows than one_by_one")
            for way in ways.values():  # past psycopg's preparing on the fifth use
                for _ in range(10):
                    way()
            cpu: dict[str, list[float]] = {name: [] for name in ways}
            wall: dict[str, list[float]] = {name: [] for name in ways}
            for _ in range(args.repeat):
                for name, way in ways.items():
                    cpu_start, wall_start = time.process_time(), time.perf_counter()
                    for _ in range(args.batches):
                        way()
                    cpu[name].append((time.process_time() - cpu_start) / args.batches * 1e6)
                    wall[name].append((time.perf_counter() - wall_start) / args.batches * 1e6)
    emit("reads_per_batch", len(reads))
    for name in ways:
        emit(f"{name}_client_cpu_us_per_batch", round(statistics.median(cpu[name]), 1))
        emit(f"{name}_wall_us_per_batch", round(statistics.median(wall[name]), 1))
    for name in ("one_by_one", "prepared_batch"):
        for label, spent in (("client_cpu", cpu), ("wall", wall)):
            ratio = statistics.median(spent[name]) / statistics.median(spent["pipeline"])
            emit(f"{name}_{label}_vs_pipeline", round(ratio, 2))


if __name__ == "__main__":
    main()
