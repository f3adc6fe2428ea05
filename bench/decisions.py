"""Gate decisions per second: phasegate against the Python engines a PMO would pick instead, in one run.

Prints ``name: value`` lines. Run: ``.venv/bin/python bench/decisions.py [--projects 1000] [--quick]
[--profile [ROUNDS]]`` (the peers need the ``bench`` extra: ``pip install -e '.[bench]'``).

The scenario, the same for every engine: N projects are submitted to their first gate (an automated check,
then a round waiting for the sponsor), then each is decided by the sponsor, half go and half kill. Every
step is its own committed transaction, on a fresh store, with the same SQLite journal (WAL) and the same
``synchronous`` level for all, once with NORMAL and once with FULL.

- SpiffWorkflow: a BPMN process (``peers/gate_approval.bpmn``), its state serialized with its own
  serializer and committed to SQLite after each step (``peers/spiff.py``).
- DBOS Transact: a durable workflow whose human step is ``DBOS.recv`` (``peers/dbos_gate.py``), driven
  as the scenario says (``wave``: all submitted, then all decided) and one project at a time
  (``sequential``, its best case); the better of the two is DBOS's figure.
- phasegate: the real services (``start_review``, ``cast_vote``, ``apply_round_decision``) with the audit
  chain, the outbox, the quorum policy and the segregation-of-duties checks (``peers/phasegate_gate.py``);
  then the same with three approvers under a 2-of-3 policy; then both on PostgreSQL.

Only submit + decide is timed. Setup (schema, templates, people, projects, roles, documents) is not.
Rates are completed rounds per second; ``*_commits_per_s`` are committed transactions per second, set
against the raw ``sqlite3`` rate (one row per commit, same pragmas) measured in the same run.

How far the target is from what the statements alone cost: ``round_ms_allowed_by_target`` is the round time
4x the best peer allows; ``*_statements_per_round`` counts the SQL statements phasegate sent in the timed
part; ``*_cheapest_statement_us`` times its cheapest one (a one-row read by primary key through a unit of
work, after the run); ``*_statements_floor_ms`` is their product, a round's cost before any Python work.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import pstats
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

if __package__ in (None, ""):  # run as a script: make the checkout importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.peers import dbos_gate, phasegate_gate, spiff
from bench.peers.timing import Timing, apply_sqlite_pragmas, fresh_sqlite_path
from phasegate.gates.vocabulary.enums import Decision
from phasegate.models.schema import upgrade

SETTINGS = ("NORMAL", "FULL")
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
MODES: tuple[dbos_gate.Mode, ...] = ("wave", "sequential")
TARGET = 4.0  # phasegate should complete at least this many times the best peer's rounds per second


def emit(name: str, value: object) -> None:
    if isinstance(value, float):
        value = f"{value:.0f}" if value >= 100 else f"{value:.3g}"
    print(f"{name}: {value}", flush=True)


def decisions(count: int) -> list[Decision]:
    """Half go, half kill, alternating."""
    return [Decision.GO if i % 2 == 0 else Decision.KILL for i in range(count)]


def timed(run: Callable[[], Timing]) -> Timing:
    gc.collect()
    return run()


# ------------------------------------------------------------------------------------------------ raw rates
def raw_sqlite_commits_per_s(path: Path, synchronous: str, commits: int) -> float:
    """One small row per committed transaction through sqlite3 with the engines' pragmas: the floor cost."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        apply_sqlite_pragmas(connection, synchronous)
        connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)")
        started = time.perf_counter()
        for i in range(commits):
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("INSERT INTO t (payload) VALUES (?)", (f"row {i}",))
            connection.execute("COMMIT")
        return commits / (time.perf_counter() - started)
    finally:
        connection.close()


def raw_postgres_commits_per_s(conninfo: str, commits: int) -> float:
    with psycopg.connect(conninfo) as connection:
        connection.execute("CREATE TABLE raw_commits (id BIGSERIAL PRIMARY KEY, payload TEXT NOT NULL)")
        connection.commit()
        started = time.perf_counter()
        for i in range(commits):
            connection.execute("INSERT INTO raw_commits (payload) VALUES (%s)", (f"row {i}",))
            connection.commit()
        return commits / (time.perf_counter() - started)


# ------------------------------------------------------------------------------------------------ PostgreSQL
def _libpq(url: str) -> str:
    parsed = make_url(url)
    return psycopg.conninfo.make_conninfo(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username or "postgres",
        password=parsed.password or "",
        dbname=parsed.database or "postgres",
        connect_timeout=3,
    )


def postgres_reachable(admin_url: str) -> str | None:
    """None when the server answers, else why not."""
    try:
        with psycopg.connect(_libpq(admin_url), autocommit=True) as admin:
            admin.execute("SELECT 1")
    except psycopg.OperationalError as exc:
        return str(exc).strip().splitlines()[0]
    return None


@contextmanager
def fresh_postgres(admin_url: str, kind: str) -> Iterator[str]:
    """A new, empty database on the server, dropped afterwards; yields its SQLAlchemy URL."""
    name = f"phasegate_bench_{kind}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_libpq(admin_url), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_libpq(admin_url), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


# ------------------------------------------------------------------------------------------------ engines
def run_peers_sqlite(work: Path, synchronous: str, count: int) -> dict[str, Timing]:
    words = [d.value for d in decisions(count)]
    setting = synchronous.lower()
    results = {
        "spiff": timed(partial(spiff.run_sqlite, fresh_sqlite_path(work, f"spiff-{setting}.db"), synchronous, words))
    }
    for mode in MODES:
        path = fresh_sqlite_path(work, f"dbos-{mode}-{setting}.db")
        engine = dbos_gate.sqlite_engine(str(path), synchronous)
        results[f"dbos_{mode}"] = timed(partial(dbos_gate.run, f"sqlite:///{path}", words, mode=mode, engine=engine))
    return results


def run_peers_postgres(admin_url: str, count: int) -> dict[str, Timing]:
    words = [d.value for d in decisions(count)]
    results: dict[str, Timing] = {}
    with fresh_postgres(admin_url, "spiff") as url:
        results["spiff"] = timed(partial(spiff.run_postgres, _libpq(url), words))
    for mode in MODES:
        with fresh_postgres(admin_url, f"dbos_{mode}") as url:
            dbos_url = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
            results[f"dbos_{mode}"] = timed(partial(dbos_gate.run, dbos_url, words, mode=mode))
    return results


def prepared_sqlite(work: Path, count: int) -> Path:
    """A SQLite file at head with ``count`` ready projects per template, to copy per setting (untimed)."""
    path = fresh_sqlite_path(work, "phasegate-prepared.db")
    url = f"sqlite:///{path}"
    upgrade(url)
    phasegate_gate.setup(url, count)
    return path  # engines disposed: WAL checkpointed into the one file


def run_phasegate_sqlite(work: Path, prepared: Path, synchronous: str, count: int) -> dict[str, Timing]:
    results = {}
    for template_id in (phasegate_gate.SINGLE, phasegate_gate.TWO_OF_THREE):
        path = fresh_sqlite_path(work, f"phasegate-{template_id}-{synchronous.lower()}.db")
        shutil.copyfile(prepared, path)
        results[template_id] = timed(
            partial(phasegate_gate.run, f"sqlite:///{path}", template_id, decisions(count), synchronous=synchronous)
        )
    return results


def run_phasegate_postgres(admin_url: str, count: int) -> dict[str, Timing]:
    results = {}
    with fresh_postgres(admin_url, "phasegate") as url:
        upgrade(url)
        phasegate_gate.setup(url, count)
        for template_id in (phasegate_gate.SINGLE, phasegate_gate.TWO_OF_THREE):
            results[template_id] = timed(partial(phasegate_gate.run, url, template_id, decisions(count)))
    return results


# ------------------------------------------------------------------------------------------------ report
def report(store: str, peers: dict[str, Timing], ours: dict[str, Timing], raw: float) -> None:
    emit(f"spiff_rounds_per_s_{store}", peers["spiff"].rounds_per_s)
    emit(f"spiff_commits_per_s_{store}", peers["spiff"].commits_per_s)
    emit(f"dbos_wave_rounds_per_s_{store}", peers["dbos_wave"].rounds_per_s)
    emit(f"dbos_sequential_rounds_per_s_{store}", peers["dbos_sequential"].rounds_per_s)
    best_dbos = max(peers["dbos_wave"].rounds_per_s, peers["dbos_sequential"].rounds_per_s)
    emit(f"dbos_rounds_per_s_{store}", best_dbos)
    best_name, best = max((("spiff", peers["spiff"].rounds_per_s), ("dbos", best_dbos)), key=lambda item: item[1])
    emit(f"best_peer_{store}", f"{best_name} ({best:.0f} rounds/s)")
    budget_ms = 1000 / (TARGET * best)
    emit(f"round_ms_allowed_by_target_{store}", budget_ms)
    for label, template_id in (("phasegate", phasegate_gate.SINGLE), ("phasegate_2of3", phasegate_gate.TWO_OF_THREE)):
        timing = ours[template_id]
        emit(f"{label}_rounds_per_s_{store}", timing.rounds_per_s)
        emit(f"{label}_commits_per_s_{store}", timing.commits_per_s)
        emit(f"{label}_commits_per_round_{store}", timing.commits / timing.rounds)
        emit(f"{label}_commits_share_of_raw_{store}", timing.commits_per_s / raw)
        emit(f"{label}_vs_spiff_{store}", timing.rounds_per_s / peers["spiff"].rounds_per_s)
        emit(f"{label}_vs_dbos_{store}", timing.rounds_per_s / best_dbos)
        ratio = timing.rounds_per_s / best
        emit(f"{label}_vs_best_peer_{store}", ratio)
        emit(f"{label}_target_{TARGET:.0f}x_best_peer_met_{store}", "yes" if ratio >= TARGET else "no")
        emit(f"{label}_round_ms_{store}", 1000 / timing.rounds_per_s)
        per_round = timing.statements / timing.rounds
        emit(f"{label}_statements_per_round_{store}", per_round)
        if timing.statement_us is not None:
            emit(f"{label}_cheapest_statement_us_{store}", timing.statement_us)
            floor_ms = per_round * timing.statement_us / 1000
            emit(f"{label}_statements_floor_ms_{store}", floor_ms)
            emit(f"{label}_statements_floor_within_target_{store}", "yes" if floor_ms <= budget_ms else "no")


def profile(work: Path, rounds: int, top: int = 25) -> None:
    """cProfile of phasegate's single-approver rounds on SQLite (NORMAL), after a warm-up, printed below."""
    prepared = prepared_sqlite(work, rounds * 2)
    path = fresh_sqlite_path(work, "phasegate-profile.db")
    shutil.copyfile(prepared, path)
    url = f"sqlite:///{path}"
    engine = phasegate_gate.Phasegate.open(url, "NORMAL")
    try:
        keys = phasegate_gate.project_keys(phasegate_gate.SINGLE, rounds * 2)
        voters = phasegate_gate.VOTERS[phasegate_gate.SINGLE]
        phasegate_gate.rounds(engine, keys[:rounds], decisions(rounds), voters)  # warm statement caches
        profiler = cProfile.Profile()
        profiler.enable()
        timing = phasegate_gate.rounds(engine, keys[rounds:], decisions(rounds), voters)
        profiler.disable()
    finally:
        engine.close()
    emit("profile_rounds", rounds)
    emit("profile_rounds_per_s_under_cprofile", timing.rounds_per_s)
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(order).print_stats(top)
        print(f"--- profile by {order} ---")
        print(out.getvalue().split("\n\n", 1)[-1].rstrip())


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--projects", type=int, default=1000, help="projects per engine and setting (default 1000)")
    parser.add_argument("--quick", action="store_true", help="a short run: 100 projects, fewer raw commits")
    parser.add_argument("--postgres-url", default=POSTGRES_URL, help="admin URL; a fresh database is made per run")
    parser.add_argument("--no-postgres", action="store_true", help="skip the PostgreSQL runs")
    parser.add_argument(
        "--profile",
        type=int,
        nargs="?",
        const=300,
        default=0,
        metavar="ROUNDS",
        help="only profile phasegate's rounds on SQLite with cProfile (default 300 rounds)",
    )
    args = parser.parse_args(argv)
    count = 100 if args.quick else args.projects
    raw_commits = 1000 if args.quick else 5000
    with tempfile.TemporaryDirectory(prefix="phasegate-bench-") as directory:
        work = Path(directory)
        if args.profile:
            profile(work, args.profile)
            return
        emit("projects", count)
        emit("timed", "submit (start_review / start instance) + decide (votes until resolved, apply); setup untimed")
        emit("decisions", "half go, half kill")
        started = time.perf_counter()
        prepared = prepared_sqlite(work, count)
        emit("phasegate_setup_seconds_sqlite_untimed", time.perf_counter() - started)
        for synchronous in SETTINGS:
            store = f"sqlite_{synchronous.lower()}"
            raw = raw_sqlite_commits_per_s(fresh_sqlite_path(work, f"raw-{store}.db"), synchronous, raw_commits)
            emit(f"raw_sqlite3_commits_per_s_{store}", raw)
            peers = run_peers_sqlite(work, synchronous, count)
            ours = run_phasegate_sqlite(work, prepared, synchronous, count)
            report(store, peers, ours, raw)
        if args.no_postgres:
            emit("postgres", "skipped (--no-postgres)")
            return
        unreachable = postgres_reachable(args.postgres_url)
        if unreachable is not None:
            emit("postgres", f"skipped: {make_url(args.postgres_url).render_as_string()} unreachable ({unreachable})")
            return
        with fresh_postgres(args.postgres_url, "raw") as url:
            raw = raw_postgres_commits_per_s(_libpq(url), raw_commits // 2)
        emit("raw_postgres_commits_per_s", raw)
        peers = run_peers_postgres(args.postgres_url, count)
        ours = run_phasegate_postgres(args.postgres_url, count)
        report("postgres", peers, ours, raw)


if __name__ == "__main__":
    main()
