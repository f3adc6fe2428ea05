"""A kill -9 between any two steps leaves a state that the next run completes, without duplicates.

The script a worker runs (``tests.workers.run_script``) is the life of one gate: review, three votes with fixed
idempotency keys, apply the decision (and reconcile any resolved round left unapplied), dispatch the outbox
to a real HTTP receiver. Two ways to kill it:

* deterministically, at every transaction boundary: the worker SIGKILLs itself just before the N-th COMMIT
  is sent (the transaction dies uncommitted) or just after it returned (the next step never starts), for
  every N of a clean run;
* at random moments: a worker is killed after a random delay, several times over, mid-statement included.

Then the script runs again and the store must look exactly as after a clean run: one round, one decision,
one transition, the same audit actions in an unbroken chain, every outbox row unique and sent, every
message received (twice at most, and only when the kill fell inside the dispatcher, between a send and its
record: the documented at-least-once gap that receivers close with the idempotency key).
"""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple
from uuid import UUID

import pytest

from phasegate.gates.lifecycle import apply_decision as lifecycle_move
from phasegate.gates.vocabulary.enums import Decision
from phasegate.gates.vocabulary.snapshots import ProjectSnapshot
from phasegate.usecases import services
from tests import workers
from tests.receivers import HttpReceiver
from tests.workers import Database, StoreFacts

ROOT = Path(__file__).resolve().parents[1]
RERUN_SKEW = 86_400.0  # a rerun "a day later": past every outbox lease (60 s) and backoff a killed run set
PARALLEL_VICTIMS = 3
OUTCOME = {"go": Decision.GO, "kill": Decision.KILL, "recycle": Decision.RECYCLE}


@pytest.fixture(scope="module")
def receiver() -> Iterator[HttpReceiver]:
    with HttpReceiver() as server:
        yield server


class Seeded(NamedTuple):
    projects: dict[str, ProjectSnapshot]
    audit_rows: int


def _seed(url: str, receiver: HttpReceiver, keys: Sequence[str]) -> Seeded:
    """People, template and ready projects (no review yet); returns the projects and audit size as seeded."""
    db = Database(url)
    try:
        workers.seed(db, notify_url=lambda pid: receiver.apprise_url(f"/{pid}"))
        for key in keys:
            workers.add_ready_project(db, key)
        projects = {p.key: p for p in services.list_projects(uow=db.uow)[0]}
    finally:
        db.close()
    return Seeded(projects, workers.inspect_store(url).audit_rows)


def _spawn(url: str, projects: Sequence[tuple[str, str]], *extra: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "tests.workers", "script", "--db", url]
    for key, script in projects:
        command += ["--project", f"{key}:{script}"]
    return subprocess.Popen([*command, *extra], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _rerun(url: str, projects: Sequence[tuple[str, str]], *, skew: float = RERUN_SKEW) -> StoreFacts:
    """The next run, after a kill: the same script, completing whatever was left."""
    db = Database(url)
    try:
        workers.run_script(db, projects, dispatch_skew=skew)
    finally:
        db.close()
    return workers.inspect_store(url)


def _copy_sqlite(source: Path, target: Path) -> str:
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{source}{suffix}").exists():
            shutil.copyfile(f"{source}{suffix}", f"{target}{suffix}")
    return f"sqlite:///{target}"


def _assert_complete(facts: StoreFacts, url: str, projects: Sequence[tuple[str, str]], seeded: Seeded) -> None:
    """Exactly the state a clean run leaves, checked from first principles."""
    db = Database(url)
    try:
        template = services.get_template(workers.TEMPLATE_ID, 1, uow=db.uow).template
        rounds = [services.get_round(UUID(rid), uow=db.uow) for rid in facts.rounds]
    finally:
        db.close()
    n = len(projects)
    assert len(rounds) == n and facts.decisions_per_round == dict.fromkeys(facts.rounds, 1)
    assert set(facts.live_votes_per_seat.values()) == {1} and len(facts.live_votes_per_seat) == 3 * n
    by_project = {snapshot.project_key: snapshot for snapshot in rounds}
    for key, script in projects:
        snapshot = by_project[key]
        assert snapshot.decision is OUTCOME[script] and snapshot.applied_at is not None, key
        move = lifecycle_move(template, seeded.projects[key], snapshot.gate_id, OUTCOME[script])
        assert facts.projects[key] == {
            "status": move.status.value, "stage_id": move.stage_id, "recycle_count": move.recycle_count
        }, key  # fmt: skip
        assert facts.applied_entries[key] == [str(snapshot.id)], key
    assert facts.audit_break is None and facts.audit_seqs_contiguous
    for action in ("review.recorded", "round.opened", "round.resolved", "decision.applied"):
        assert facts.audit_actions[action] == n, action
    assert facts.audit_actions["vote.cast"] == 3 * n
    assert facts.audit_rows == seeded.audit_rows + 7 * n  # nothing else: no refusals, no closed requests, no repeats
    # 3 approval requests and 2 decision notices each; a killed project also owes its lessons (one notice)
    kills = sum(1 for _, script in projects if script == "kill")
    assert facts.outbox_keys == facts.outbox_distinct_keys == 5 * n + kills
    assert facts.outbox_by_status == {"sent": 5 * n + kills}


def _deliveries(receiver: HttpReceiver, facts: StoreFacts) -> Counter[str]:
    received = receiver.count_by_header("X-Idempotency-Key")
    return Counter({key: received[key] for key in facts.outbox_idempotency_keys})


def test_a_kill_at_every_commit_boundary_is_completed_by_the_next_run(
    sqlite_url: str, receiver: HttpReceiver, tmp_path: Path
) -> None:
    projects = [("B1", "go")]
    seeded = _seed(sqlite_url, receiver, ["B1"])
    pristine = Path(sqlite_url.removeprefix("sqlite:///"))

    clean_url = _copy_sqlite(pristine, tmp_path / "clean.db")
    counted = tmp_path / "commits"
    clean = _spawn(clean_url, projects, "--count-commits", str(counted))
    _, err = clean.communicate(timeout=120)
    assert clean.returncode == 0, err.decode()[-3000:]
    commits = int(counted.read_text())
    clean_facts = workers.inspect_store(clean_url)
    _assert_complete(clean_facts, clean_url, projects, seeded)
    assert set(_deliveries(receiver, clean_facts).values()) == {1}
    # review, three votes, apply; then the dispatcher: a claim, one record per row, an empty claim.
    before_dispatch = commits - clean_facts.outbox_keys - 2
    assert before_dispatch == 5, f"{commits} commits in a clean run"

    boundaries = [(n, phase) for n in range(1, commits + 1) for phase in ("before", "after")]
    running: list[tuple[int, str, str, subprocess.Popen[bytes]]] = []
    finished: list[tuple[int, str, str]] = []
    pending = list(boundaries)
    while pending or running:
        while pending and len(running) < PARALLEL_VICTIMS:
            n, phase = pending.pop(0)
            url = _copy_sqlite(pristine, tmp_path / f"kill-{n}-{phase}.db")
            victim = _spawn(url, projects, "--crash-at-commit", str(n), "--crash-phase", phase)
            running.append((n, phase, url, victim))
        for item in list(running):
            n, phase, url, victim = item
            if victim.poll() is None:
                continue
            running.remove(item)
            stderr = victim.communicate()[1].decode()
            assert victim.returncode == -signal.SIGKILL, f"commit {n} {phase}: exit {victim.returncode}: {stderr}"
            finished.append((n, phase, url))
        time.sleep(0.02)

    for n, phase, url in sorted(finished):
        facts = _rerun(url, projects)
        _assert_complete(facts, url, projects, seeded)
        deliveries = _deliveries(receiver, facts)
        assert min(deliveries.values()) >= 1, f"commit {n} {phase}: a message was never delivered"
        if n <= before_dispatch:
            assert set(deliveries.values()) == {1}, f"commit {n} {phase}: {deliveries}"
        else:  # killed inside the dispatcher: a send whose record died is sent again, once
            assert max(deliveries.values()) <= 2 and sum(deliveries.values()) <= len(deliveries) + 1, (n, phase)


def test_kills_at_random_moments_leave_nothing_the_next_run_cannot_complete(
    db_url: str, receiver: HttpReceiver, tmp_path: Path
) -> None:
    names = sorted(OUTCOME)
    projects = [(f"R{n}", names[n % len(names)]) for n in range(9)]
    seeded = _seed(db_url, receiver, [key for key, _ in projects])
    rng = random.Random(7)
    kills = 0
    attempts = 4
    for attempt in range(attempts):
        ready = tmp_path / f"ready-{attempt}"
        victim = _spawn(db_url, projects, "--ready", str(ready), "--dispatch-skew", str(RERUN_SKEW * attempt))
        deadline = time.monotonic() + 60
        while not ready.exists() and victim.poll() is None:
            assert time.monotonic() < deadline, "worker not ready within 60 s"
            time.sleep(0.005)
        time.sleep(rng.uniform(0.05, 1.5))  # a clean run of the nine takes about a second
        if victim.poll() is None:
            victim.send_signal(signal.SIGKILL)
            kills += 1
        _, err = victim.communicate(timeout=60)
        assert victim.returncode in (0, -signal.SIGKILL), err.decode()[-3000:]
    assert kills >= 1, "no worker was ever killed: the random delays are too long for this script"
    facts = _rerun(db_url, projects, skew=RERUN_SKEW * attempts)  # each run comes after the last one's leases
    _assert_complete(facts, db_url, projects, seeded)
    deliveries = _deliveries(receiver, facts)
    assert min(deliveries.values()) >= 1
    assert sum(deliveries.values()) - len(deliveries) <= kills  # at most one repeated send per kill
