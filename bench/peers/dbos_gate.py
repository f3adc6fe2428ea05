"""DBOS Transact peer: the gate as a durable workflow whose human step is ``DBOS.recv``.

The workflow runs the automated check as a step, waits for the sponsor's message on the ``decision`` topic,
then records the outcome as a step. DBOS checkpoints each step, the wait and the message in its system
database, so each is its own committed transaction. A submission is ``DBOS.start_workflow``; a decision is
``DBOS.send`` to that workflow, and the round is complete when the workflow has returned.

Two ways of driving it are measured. ``wave``: submit every project, then decide every project, as the
scenario says (every submitted workflow waits in ``recv`` at once, one executor thread each).
``sequential``: one project at a time, submit and decide, which spares DBOS the thousand waiting threads
(its best case here). On SQLite, DBOS polls for messages; the poll interval is set to 10 ms so that the
poll is not what is measured.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, Literal

import sqlalchemy as sa
from dbos import DBOS, DBOSConfig, SetWorkflowID
from sqlalchemy import event

from bench.peers.timing import SQLITE_PRAGMAS, Timing

REQUIRED_DOCUMENTS = 3
POLL_SECONDS = 0.01
Mode = Literal["wave", "sequential"]


@DBOS.step()
def automated_check(documents: int, required: int) -> bool:
    return documents >= required


@DBOS.step()
def record_outcome(project: str, decision: str) -> str:
    return "go" if decision == "go" else "kill"


@DBOS.workflow()
def gate_approval(project: str, documents: int) -> str:
    if not automated_check(documents, REQUIRED_DOCUMENTS):
        return "not_ready"
    decision = DBOS.recv("decision", timeout_seconds=3600)
    if decision is None:
        return "timed_out"
    return record_outcome(project, str(decision))


def sqlite_engine(path: str, synchronous: str) -> sa.Engine:
    """DBOS's own SQLite setup (IMMEDIATE transactions, busy timeout) plus WAL and the shared ``synchronous``."""
    engine = sa.create_engine(f"sqlite:///{path}", connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = "IMMEDIATE"
        for pragma in SQLITE_PRAGMAS:
            dbapi_connection.execute(pragma)
        dbapi_connection.execute(f"PRAGMA synchronous={synchronous}")

    return engine


def _launch(url: str, engine: sa.Engine | None) -> None:
    config: DBOSConfig = {
        "name": "phasegate-bench",
        "system_database_url": url,
        "log_level": "WARNING",
        "notification_listener_polling_interval_sec": POLL_SECONDS,
    }
    if engine is not None:
        config["system_database_engine"] = engine
    DBOS(config=config)
    DBOS.launch()


def _drive(decisions: Sequence[str], mode: Mode) -> Timing:
    keys = [f"P{i:05d}" for i in range(len(decisions))]
    started = time.perf_counter()
    outcomes: list[str] = []
    if mode == "sequential":
        for key, decision in zip(keys, decisions, strict=True):
            with SetWorkflowID(key):
                handle = DBOS.start_workflow(gate_approval, key, REQUIRED_DOCUMENTS)
            DBOS.send(key, decision, "decision")
            outcomes.append(handle.get_result())
    else:
        handles = []
        for key in keys:
            with SetWorkflowID(key):
                handles.append(DBOS.start_workflow(gate_approval, key, REQUIRED_DOCUMENTS))
        for key, decision in zip(keys, decisions, strict=True):
            DBOS.send(key, decision, "decision")
        outcomes = [handle.get_result() for handle in handles]
    seconds = time.perf_counter() - started
    if outcomes != list(decisions):
        wrong = next(i for i, (o, d) in enumerate(zip(outcomes, decisions, strict=True)) if o != d)
        raise RuntimeError(f"dbos: {keys[wrong]} decided {decisions[wrong]!r} but ended {outcomes[wrong]!r}")
    # DBOS's own writes (status rows, step outputs, the message, its consumption) are not counted here.
    return Timing(rounds=len(keys), seconds=seconds, commits=0)


def run(url: str, decisions: Sequence[str], *, mode: Mode, engine: sa.Engine | None = None) -> Timing:
    """Launch DBOS on a fresh system database at ``url``, drive the rounds, shut DBOS down."""
    _launch(url, engine)
    try:
        return _drive(decisions, mode)
    finally:
        DBOS.destroy()
        if engine is not None:
            engine.dispose()
