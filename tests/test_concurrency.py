"""Eight processes vote at once on SQLite and PostgreSQL, and nothing is recorded twice or lost.

The plan: 80 projects with an open 2-of-3 round each. For every seat the list holds its act several times
under one idempotency key (retries), the same act with no key (a person clicking twice), a conflicting act
(GO against KILL) under another key, and a reuse of a key for a different act; for every round an attempt by
the manager (no seat) and by a would-be delegate with no delegation (a security event). The list is shuffled
within waves of a few rounds and dealt to the workers, so all eight hit the same rounds at the same moment.
Workers apply the decision after a vote that reports a resolved round, as the CLI does.

Afterwards the store must show: one live vote per (round, seat), each from exactly one accepted attempt; one
decision per round, equal to the tally of its live votes; each project moved exactly as its decision says,
with one ``decision.applied`` entry and one non-repeated apply; retried keys answered with the first result;
an unbroken audit chain without seq gaps whose counts match what the workers saw; a duplicate-free outbox.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any
from uuid import UUID

from sqlalchemy import select, text

from phasegate.gates.lifecycle import apply_decision as lifecycle_move
from phasegate.gates.vocabulary.commands import CastVote
from phasegate.gates.vocabulary.enums import Decision, RoundStatus
from phasegate.models import tables as t
from phasegate.usecases import approvals, services
from tests import actors, workers
from tests.workers import SEATS, Database

ROOT = Path(__file__).resolve().parents[1]
PROJECTS = 60
WORKERS = 8
WAVE = 4  # rounds voted on at the same moment
APPROVING = (Decision.GO, Decision.CONDITIONAL_GO)


def _plan(rounds: list[str], rng: random.Random) -> list[dict[str, Any]]:
    attempts: list[dict[str, Any]] = []
    for start in range(0, len(rounds), WAVE):
        wave: list[dict[str, Any]] = []
        for round_id in rounds[start : start + WAVE]:
            for seat in SEATS:
                act = rng.choice(
                    [Decision.GO, Decision.GO, Decision.CONDITIONAL_GO, Decision.HOLD, Decision.RECYCLE, Decision.KILL]
                )
                other = Decision.KILL if act in APPROVING else Decision.GO
                mine = {"round": round_id, "voter": seat}
                wave += [mine | {"decision": act.value, "key": f"{round_id}:{seat}:first"}] * 4
                wave += [mine | {"decision": act.value}] * 3
                wave += [mine | {"decision": other.value, "key": f"{round_id}:{seat}:other"}] * 3
                if seat == "sam":  # the same key for a different act: a conflict, never a second vote
                    wave.append(mine | {"decision": other.value, "key": f"{round_id}:{seat}:first"})
            wave += [{"round": round_id, "voter": "mgr", "decision": Decision.GO.value}] * 2
            wave += [{"round": round_id, "voter": "dee", "on_behalf_of": "fin", "decision": Decision.GO.value}] * 2
        rng.shuffle(wave)
        attempts += wave
    return [attempt | {"id": index} for index, attempt in enumerate(attempts)]


def _run_workers(url: str, plan: list[dict[str, Any]], tmp: Path) -> list[dict[str, Any]]:
    plan_file = tmp / "plan.json"
    plan_file.write_text(json.dumps(plan))
    go = tmp / "go"
    procs = []
    for index in range(WORKERS):
        command = [
            sys.executable, "-m", "tests.workers", "vote", "--db", url, "--plan", str(plan_file),
            "--index", str(index), "--workers", str(WORKERS), "--out", str(tmp / f"out-{index}.json"),
            "--ready", str(tmp / f"ready-{index}"), "--go", str(go),
        ]  # fmt: skip
        procs.append(subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    try:
        deadline = time.monotonic() + 120
        while not all((tmp / f"ready-{index}").exists() for index in range(WORKERS)):
            dead = [p for p in procs if p.poll() is not None]
            assert not dead, f"a worker died before the start: {dead[0].communicate()[1].decode()[-3000:]}"
            assert time.monotonic() < deadline, "workers not ready within 120 s"
            time.sleep(0.01)
        go.touch()
        for proc in procs:
            _, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, f"worker exited {proc.returncode}: {err.decode()[-3000:]}"
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    results: list[dict[str, Any]] = []
    for index in range(WORKERS):
        results += json.loads((tmp / f"out-{index}.json").read_text())
    return results


def test_eight_processes_vote_at_once_and_every_invariant_holds(db_url: str, tmp_path: Path) -> None:
    db = Database(db_url)
    try:
        workers.seed(db)
        keys = [f"C{n:03d}" for n in range(PROJECTS)]
        rounds: dict[str, str] = {}
        for key in keys:
            workers.add_ready_project(db, key)
            rounds[str(workers.ensure_round(db, key))] = key
        before = {p.key: p for p in services.list_projects(uow=db.uow)[0]}
        template = services.get_template(workers.TEMPLATE_ID, 1, uow=db.uow).template
    finally:
        db.close()

    plan = _plan(sorted(rounds), random.Random(20261102))
    results = _run_workers(db_url, plan, tmp_path)
    assert len(results) == len(plan) >= 2000
    by_id = {r["id"]: r for r in results}
    errors = [r for r in results if r["outcome"] == "error" or r.get("apply", {}).get("outcome") == "error"]
    assert not errors, f"{len(errors)} unexpected errors; first: {errors[0].get('error') or errors[0]['apply']}"

    facts = workers.inspect_store(db_url)
    db = Database(db_url)
    try:
        snapshots = {rid: services.get_round(UUID(rid), uow=db.uow) for rid in rounds}
        unapplied = approvals.unapplied_rounds(uow=db.uow)
    finally:
        db.close()

    # Each approver's vote is recorded once, and each stored vote came from exactly one accepted attempt.
    assert set(facts.live_votes_per_seat.values()) == {1}
    assert {seat for _, seat in facts.live_votes_per_seat} <= set(SEATS)
    accepted = [r for r in results if r["outcome"] == "ok" and not r["replayed"]]
    assert len(accepted) == len(facts.live_votes_per_seat) == facts.audit_actions["vote.cast"]
    assert Counter((plan[r["id"]]["round"], r["voter"]) for r in accepted) == Counter(facts.live_votes_per_seat)

    # Each round resolves once, to the decision its live votes give; closed requests hold no vote.
    assert facts.decisions_per_round == dict.fromkeys(rounds, 1)
    for rid, snapshot in snapshots.items():
        assert snapshot.status is RoundStatus.RESOLVED
        assert snapshot.decision is approvals.round_tally(snapshot).outcome is not None
        assert not {v.voter_id for v in snapshot.live_votes} & set(snapshot.closed_seats)
        expected_conditions = sum(1 for v in snapshot.live_votes if v.decision is Decision.CONDITIONAL_GO)
        wanted = expected_conditions if snapshot.decision is Decision.CONDITIONAL_GO else 0
        assert facts.conditions_per_round.get(rid, 0) == wanted, rid
    assert facts.audit_actions["round.resolved"] == len(rounds) == facts.audit_actions["round.opened"]

    # Each project transitions once, exactly as its decision says.
    assert unapplied == []
    for rid, key in rounds.items():
        decision = snapshots[rid].decision
        assert decision is not None
        move = lifecycle_move(template, before[key], snapshots[rid].gate_id, decision)
        assert facts.projects[key] == {
            "status": move.status.value, "stage_id": move.stage_id, "recycle_count": move.recycle_count
        }, key  # fmt: skip
        assert facts.applied_entries[key] == [rid]
    applies = [r["apply"] for r in results if "apply" in r]
    first_applies = Counter(
        plan[r["id"]]["round"] for r in results if r.get("apply", {}).get("already_applied") is False
    )
    assert first_applies == Counter(dict.fromkeys(rounds, 1))
    assert {a["outcome"] for a in applies} <= {"ok", "conflict"}
    assert facts.audit_actions["decision.applied"] == len(rounds)

    # Refusals are counted, and the security events among them are all in the chain, which is intact.
    outcomes = Counter(r["outcome"] for r in results)
    assert outcomes["denied"] >= 1 and outcomes["conflict"] >= len(plan) // 2
    assert facts.audit_actions.get("security.refused", 0) == outcomes["refused"]
    assert facts.audit_break is None and facts.audit_seqs_contiguous
    assert facts.audit_rows == sum(facts.audit_actions.values())

    # The outbox holds each message once: one decision notice per round for the sponsor and for the manager.
    assert facts.outbox_keys == facts.outbox_distinct_keys
    assert facts.outbox_by_kind["decision_made"] == 2 * len(rounds)
    assert facts.outbox_by_kind["approval_requested"] == 3 * len(rounds)

    # A retried command with the same idempotency key returns the first result; another act is a conflict.
    attempts_by_key: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for attempt in plan:
        if attempt.get("key"):
            attempts_by_key[attempt["key"]].append(attempt)
    broken_retries: list[str] = []
    for key, tries in attempts_by_key.items():
        stored = facts.vote_keys.get(key)
        answers = [by_id[a["id"]] for a in tries]
        if stored is None:
            assert all(o["outcome"] != "ok" for o in answers), key
            continue
        for attempt, outcome in zip(tries, answers, strict=True):
            same_act = (attempt["round"], attempt["voter"], attempt["decision"]) == (
                stored["round"], stored["voter"], stored["decision"]
            )  # fmt: skip
            if not same_act:
                assert outcome["outcome"] == "conflict", (key, outcome)
            elif outcome["outcome"] != "ok":
                broken_retries.append(f"{key}: {outcome['outcome']} {outcome['code']}")
            else:
                assert (outcome["voter"], outcome["decision"]) == (stored["voter"], stored["decision"])
        assert sum(1 for o in answers if o["outcome"] == "ok" and not o["replayed"]) == 1, key
    assert not broken_retries, f"{len(broken_retries)} retries did not get the first result: {broken_retries[:5]}"


def test_a_retry_racing_its_first_attempt_gets_the_first_result(db_url: str) -> None:
    """Deterministic form of the race: both attempts are queued behind a lock before either can record."""
    db = Database(db_url)
    try:
        workers.seed(db)
        workers.add_ready_project(db, "R1")
        round_id = workers.ensure_round(db, "R1")
        cmd = CastVote(round_id=round_id, voter_id="sam", decision=Decision.GO, idempotency_key="retry:R1:sam")
        answers: list[object] = []

        def attempt() -> None:
            try:
                answers.append(actors.cast_vote(cmd, uow=db.uow, now=workers.now(), probe=workers.probe))
            except Exception as exc:  # recorded, asserted below
                answers.append(exc)

        postgres = db_url.startswith("postgresql")
        with db.sessions() as holder, holder.begin():
            # SQLite: the first statement's BEGIN IMMEDIATE takes the write lock; PostgreSQL: the round's row lock.
            holder.execute(select(t.ApprovalRound.id).where(t.ApprovalRound.id == round_id).with_for_update())
            threads = [threading.Thread(target=attempt) for _ in range(2)]
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + 30
            while postgres and _lock_waiters(db) < 2:
                assert time.monotonic() < deadline, "the two attempts never queued behind the round lock"
                time.sleep(0.01)
            if not postgres:
                time.sleep(0.3)  # nothing to observe on SQLite: the attempts wait in BEGIN IMMEDIATE's busy handler
        for thread in threads:
            thread.join(timeout=60)
        results = [a for a in answers if isinstance(a, approvals.VoteResult)]
        assert len(results) == 2, f"a retry did not get the first result: {answers}"
        assert sorted(r.replayed for r in results) == [False, True]
        assert {(r.voter_id, r.decision) for r in results} == {("sam", Decision.GO)}
        assert len(services.get_round(round_id, uow=db.uow).live_votes) == 1
    finally:
        db.engine.dispose()


def _lock_waiters(db: Database) -> int:
    """Backends of this database waiting for a lock, seen from a fresh connection (a transaction's view of
    ``pg_stat_activity`` is frozen at its first read)."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    with db.engine.connect() as connection:
        return int(connection.execute(query).scalar_one())
