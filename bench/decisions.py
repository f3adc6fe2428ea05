"""Gate decisions per second: phasegate against the Python engines a PMO would pick instead, in one run.

Prints ``name: value`` lines. Run: ``.venv/bin/python bench/decisions.py [--projects 1000] [--quick]
[--workers 4] [--scaling-rounds N] [--scaling-only] [--profile [ROUNDS]]`` (the peers need the ``bench`` extra:
``pip install -e '.[bench]'``).

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

The target (issue #17): at least 1x the best peer's rounds per second on SQLite and on PostgreSQL
(``*_vs_best_peer_*`` and ``*_target_met_*`` lines). Then the PostgreSQL scaling run: the single-approver
rounds in one process, then in ``--workers`` processes at once (each its own engine and its own projects,
set up before a common start), against the target of 2x the one-process rate (``pg_scaling_*`` lines), with the
CPU a round costs the client and the local server and the rate the host's cores would allow at most
(``pg_scaling_cpu_ceiling_vs_1_process``; the server's CPU is all of the local PostgreSQL's, so read it on an
otherwise idle server).

Only submit + decide is timed. Setup (schema, templates, people, projects, roles, documents) is not.
Rates are completed rounds per second; ``*_commits_per_s`` are committed transactions per second, set
against the raw ``sqlite3`` rate (one row per commit, same pragmas) measured in the same run.

How far the target is from what the statements alone cost: ``round_ms_allowed_by_target`` is the round time
the target allows; ``*_statements_per_round`` counts the SQL statements phasegate sent in the timed
part; ``*_cheapest_statement_us`` times its cheapest one (a one-row read by primary key through a unit of
work, after the run); on SQLite ``*_statements_floor_ms`` is their product, a round's cost before any Python work.
On PostgreSQL statements sent together in a pipeline wait for the server once, so the floor is
``*_round_trips_per_round`` (counted on the wire, ``bench/peers/wire.py``, over a few more rounds after the timed
part) times the cheapest statement: ``*_round_trips_floor_ms``.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import multiprocessing
import os
import pstats
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

if __package__ in (None, ""):  # run as a script: make the checkout importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.peers import phasegate_gate
from bench.peers.timing import Timing, apply_sqlite_pragmas, fresh_sqlite_path
from phasegate.gates.vocabulary.enums import Decision
from phasegate.models.schema import upgrade

SETTINGS = ("NORMAL", "FULL")
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
MODES: tuple[Literal["wave", "sequential"], ...] = ("wave", "sequential")  # dbos_gate.Mode
TARGET = 1.0  # phasegate should complete at least this many times the best peer's rounds per second
SCALING_TARGET = 2.0  # --workers processes on PostgreSQL should complete this many times one process's rounds


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
    from bench.peers import dbos_gate, spiff  # the bench extra: imported only where the peers run (not --profile)

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
    from bench.peers import dbos_gate, spiff

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


# ------------------------------------------------------------------------------------------------ scaling
def _postgres_cpu_seconds(proc: Path = Path("/proc")) -> float | None:
    """CPU seconds the local PostgreSQL server has used so far (None where ``/proc`` does not show it).

    Every ``postgres`` process's own user and system time, plus what the postmaster's exited children used (the
    kernel adds a reaped child's time to its parent's ``cutime``/``cstime``), so a backend that ends within an
    interval still counts in it."""
    processes: dict[int, list[str]] = {}  # pid: the stat fields from field 3 (state) on
    for stat in proc.glob("[0-9]*/stat"):
        try:
            name, _, rest = stat.read_text().partition(") ")
        except OSError:  # the process ended while we looked
            continue
        if name.endswith("(postgres"):
            processes[int(stat.parent.name)] = rest.split()
    if not processes:
        return None
    ticks = 0
    for fields in processes.values():  # utime, stime, cutime, cstime are fields 14 to 17
        ticks += int(fields[11]) + int(fields[12])
        if int(fields[1]) not in processes:  # the postmaster: its exited backends' time
            ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def _scaling_worker(url: str, start: int, count: int, barrier: Any, results: Any) -> None:
    """One process of the scaling run: its own engine and projects (set up untimed), then its rounds, with the CPU
    seconds it and the database server used meanwhile (the server's is only its own in a 1-process run)."""
    try:
        keys = phasegate_gate.project_keys(phasegate_gate.SINGLE, count, start=start)
        phasegate_gate.add_projects(url, phasegate_gate.SINGLE, keys)
        pg = phasegate_gate.Phasegate.open(url)
        try:
            phasegate_gate.warm_up(pg, phasegate_gate.SINGLE)
            barrier.wait()
            began = time.perf_counter()  # CLOCK_MONOTONIC on Linux: comparable between processes
            cpu, server = time.process_time(), _postgres_cpu_seconds()
            timing = phasegate_gate.rounds(pg, keys, decisions(count), phasegate_gate.VOTERS[phasegate_gate.SINGLE])
            server_after = _postgres_cpu_seconds()
            server_used = None if server is None or server_after is None else server_after - server
            results.put((began, began + timing.seconds, timing.rounds, time.process_time() - cpu, server_used))
        finally:
            pg.close()
    except BaseException as exc:  # reported to the parent, which fails the run with it
        results.put(f"{type(exc).__name__}: {exc}")
        raise


@dataclass(frozen=True)
class Scaling:
    """A scaling run: rounds per second of its processes together, and the CPU seconds a round cost them (the
    client's, and, in a 1-process run, the server's; None where the server's cannot be read)."""

    rounds_per_s: float
    client_cpu_per_round: float
    server_cpu_per_round: float | None


def scaling_rounds_per_s(url: str, workers: int, count: int, start: int) -> Scaling:
    """Rounds per second of ``workers`` processes started together, ``count`` rounds each, on disjoint projects:
    all their rounds over the time from the first start to the last finish."""
    context = multiprocessing.get_context("spawn")  # a fresh interpreter each: no engine or socket inherited
    barrier = context.Barrier(workers)
    results = context.Queue()
    processes = [
        context.Process(target=_scaling_worker, args=(url, start + w * count, count, barrier, results))
        for w in range(workers)
    ]
    for process in processes:
        process.start()
    spans = [results.get() for _ in processes]
    for process in processes:
        process.join()
    failed = [span for span in spans if isinstance(span, str)]
    if failed:
        raise RuntimeError(f"scaling run with {workers} processes failed: {failed[0]}")
    began = min(span[0] for span in spans)
    ended = max(span[1] for span in spans)
    rounds = sum(span[2] for span in spans)
    server = [span[4] for span in spans]
    return Scaling(
        rounds_per_s=rounds / (ended - began),
        client_cpu_per_round=sum(span[3] for span in spans) / rounds,
        server_cpu_per_round=server[0] / rounds if workers == 1 and server[0] is not None else None,
    )


def run_scaling_postgres(admin_url: str, workers: int, count: int) -> None:
    """One process, then ``workers`` processes, each on projects of its own, in one fresh database.

    Why the CPU lines: on a host with few cores the processes and the server share them, and no number of
    processes can complete more rounds a second than the cores can pay for. ``pg_scaling_cpu_ceiling_vs_1_process``
    is that bound (cores over the CPU a round costs client and server, in the 1-process run), against the
    1-process rate: when it is below the target, the target cannot be met on this host whatever the code does
    about locks."""
    with fresh_postgres(admin_url, "scaling") as url:
        upgrade(url)
        phasegate_gate.setup_shared(url)
        one = scaling_rounds_per_s(url, 1, count, start=0)
        many = scaling_rounds_per_s(url, workers, count, start=count)
    emit("pg_scaling_rounds_per_process", count)
    emit("pg_scaling_rounds_per_s_1_process", one.rounds_per_s)
    emit(f"pg_scaling_rounds_per_s_{workers}_processes", many.rounds_per_s)
    emit(f"pg_scaling_{workers}_vs_1_process", many.rounds_per_s / one.rounds_per_s)
    met = "yes" if many.rounds_per_s / one.rounds_per_s >= SCALING_TARGET else "no"
    emit("pg_scaling_target_met", f"{met} (target {SCALING_TARGET:g}x the 1-process rate with {workers} processes)")
    emit("pg_scaling_client_cpu_ms_per_round_1_process", one.client_cpu_per_round * 1000)
    emit(f"pg_scaling_client_cpu_ms_per_round_{workers}_processes", many.client_cpu_per_round * 1000)
    if one.server_cpu_per_round is not None:
        cores = len(os.sched_getaffinity(0))
        ceiling = cores / (one.client_cpu_per_round + one.server_cpu_per_round)
        emit("pg_scaling_server_cpu_ms_per_round_1_process", one.server_cpu_per_round * 1000)
        emit("pg_scaling_cores", cores)
        emit("pg_scaling_cpu_ceiling_vs_1_process", ceiling / one.rounds_per_s)


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
        emit(f"{label}_target_met_{store}", f"{'yes' if ratio >= TARGET else 'no'} (target {TARGET:g}x the best peer)")
        emit(f"{label}_round_ms_{store}", 1000 / timing.rounds_per_s)
        per_round = timing.statements / timing.rounds
        emit(f"{label}_statements_per_round_{store}", per_round)
        if timing.statement_us is None:
            continue
        emit(f"{label}_cheapest_statement_us_{store}", timing.statement_us)
        if timing.round_trips is None:  # SQLite: each statement is a call into the library
            floor_ms = per_round * timing.statement_us / 1000
            emit(f"{label}_statements_floor_ms_{store}", floor_ms)
            emit(f"{label}_statements_floor_within_target_{store}", "yes" if floor_ms <= budget_ms else "no")
        else:  # PostgreSQL: statements sent together wait once
            emit(f"{label}_round_trips_per_round_{store}", timing.round_trips)
            floor_ms = timing.round_trips * timing.statement_us / 1000
            emit(f"{label}_round_trips_floor_ms_{store}", floor_ms)
            emit(f"{label}_round_trips_floor_within_target_{store}", "yes" if floor_ms <= budget_ms else "no")


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
        "--workers", type=int, default=4, help="processes of the PostgreSQL scaling run (default 4; 0 skips it)"
    )
    parser.add_argument(
        "--scaling-rounds",
        type=int,
        default=None,
        help="rounds per process in the scaling run (default: --projects / 4, at least 50)",
    )
    parser.add_argument(
        "--profile",
        type=int,
        nargs="?",
        const=300,
        default=0,
        metavar="ROUNDS",
        help="only profile phasegate's rounds on SQLite with cProfile (default 300 rounds)",
    )
    parser.add_argument("--scaling-only", action="store_true", help="only the PostgreSQL scaling run")
    args = parser.parse_args(argv)
    count = 100 if args.quick else args.projects
    scaling_rounds = args.scaling_rounds or max(50, count // 4)
    if args.scaling_only:
        unreachable = postgres_reachable(args.postgres_url)
        if unreachable is not None:
            raise SystemExit(f"postgres: {make_url(args.postgres_url).render_as_string()} unreachable ({unreachable})")
        run_scaling_postgres(args.postgres_url, args.workers, scaling_rounds)
        return
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
        if args.workers > 0:
            run_scaling_postgres(args.postgres_url, args.workers, scaling_rounds)


if __name__ == "__main__":
    main()
