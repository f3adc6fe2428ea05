"""SpiffWorkflow peer: the gate as a BPMN process, its state serialized and committed after every step.

The process (``gate_approval.bpmn``): an automated readiness check (script task), the sponsor's user task,
then approve or reject. A submission runs the engine up to the user task and stores the serialized
workflow (SpiffWorkflow's own JSON serializer) in one committed INSERT. A decision is what a real service
does days later: read the row, deserialize, complete the user task with the sponsor's answer, run the
engine to the end, store the new state in one committed UPDATE. The BPMN spec is parsed once, untimed.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer  # type: ignore[import-untyped]
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow  # type: ignore[import-untyped]
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser  # type: ignore[import-untyped]
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG  # type: ignore[import-untyped]
from SpiffWorkflow.util.task import TaskState  # type: ignore[import-untyped]

from bench.peers.timing import Timing, apply_sqlite_pragmas

BPMN_FILE = Path(__file__).with_name("gate_approval.bpmn")
PROCESS_ID = "gate_approval"
REQUIRED_DOCUMENTS = 3


class GateProcess:
    """The parsed BPMN spec and a serializer configured for Spiff's task specs, reused for every instance."""

    def __init__(self) -> None:
        parser = SpiffBpmnParser()
        parser.add_bpmn_file(str(BPMN_FILE))
        self.spec = parser.get_spec(PROCESS_ID)
        self.serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))

    def submit(self, documents: int) -> str:
        """Start an instance, run the automated check, stop at the sponsor's task; the state to store."""
        workflow = BpmnWorkflow(self.spec)
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update(documents=documents, required=REQUIRED_DOCUMENTS)
        workflow.do_engine_steps()
        state: str = self.serializer.serialize_json(workflow)
        return state

    def decide(self, state: str, decision: str) -> tuple[str, str]:
        """Restore an instance, complete the sponsor's task, run to the end: the new state and the outcome."""
        workflow = self.serializer.deserialize_json(state)
        (task,) = workflow.get_tasks(state=TaskState.READY, manual=True)
        task.data["decision"] = decision
        task.run()
        workflow.do_engine_steps()
        if not workflow.completed:
            raise RuntimeError(f"spiff: the gate process did not complete after the decision {decision!r}")
        new_state: str = self.serializer.serialize_json(workflow)
        return new_state, str(workflow.data["outcome"])


def _run(connection: Any, mark: str, begin: str | None, decisions: Sequence[str]) -> Timing:
    """Submit every project, then decide every project: one committed statement per step."""
    process = GateProcess()
    insert = f"INSERT INTO gate_process (project, state) VALUES ({mark}, {mark})"
    load = f"SELECT state FROM gate_process WHERE project = {mark}"
    update = f"UPDATE gate_process SET state = {mark}, outcome = {mark} WHERE project = {mark}"
    keys = [f"P{i:05d}" for i in range(len(decisions))]
    commits = 0
    started = time.perf_counter()
    for key in keys:
        if begin:
            connection.execute(begin)
        connection.execute(insert, (key, process.submit(REQUIRED_DOCUMENTS)))
        connection.commit()
        commits += 1
    for key, decision in zip(keys, decisions, strict=True):
        if begin:
            connection.execute(begin)
        (state,) = connection.execute(load, (key,)).fetchone()
        new_state, outcome = process.decide(state, decision)
        if outcome != decision:
            raise RuntimeError(f"spiff: {key} decided {decision!r} but the process ended {outcome!r}")
        connection.execute(update, (new_state, outcome, key))
        connection.commit()
        commits += 1
    return Timing(rounds=len(keys), seconds=time.perf_counter() - started, commits=commits)


def run_sqlite(path: Path, synchronous: str, decisions: Sequence[str]) -> Timing:
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        apply_sqlite_pragmas(connection, synchronous)
        connection.execute("CREATE TABLE gate_process (project TEXT PRIMARY KEY, state TEXT NOT NULL, outcome TEXT)")
        # isolation_level=None: we BEGIN ourselves; commit() then ends that transaction.
        return _run(connection, "?", "BEGIN IMMEDIATE", decisions)
    finally:
        connection.close()


def run_postgres(conninfo: str, decisions: Sequence[str]) -> Timing:
    with psycopg.connect(conninfo) as connection:
        connection.execute("CREATE TABLE gate_process (project TEXT PRIMARY KEY, state TEXT NOT NULL, outcome TEXT)")
        connection.commit()
        return _run(connection, "%s", None, decisions)
