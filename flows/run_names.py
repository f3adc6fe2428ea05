"""Readable flow run names: what a PMO analyst scans the Prefect UI for is the project, the gate and the outcome.

The same name whoever starts the run: a door creating it over the REST API (``flows.trigger``) names it
at creation, and each flow's ``flow_run_name`` names runs started any other way (in-process, from the UI,
by reconciliation) from the same database rows. Standard library and use cases only: doors import it
without Prefect.
"""

from __future__ import annotations

from uuid import UUID

from phasegate.flows.runtime import runtime
from phasegate.gates.vocabulary.errors import PhasegateError
from phasegate.usecases.reviews import reviewable_gate
from phasegate.usecases.rounds import get_round


def decision_run_name(project_key: str, gate_id: str, decision: str | None) -> str:
    """``ERP / ready-for-planning / go``."""
    return f"{project_key} / {gate_id} / {decision or 'undecided'}"


def round_run_name(round_id: str) -> str:
    """``decision_run_name`` of a round as the database has it; ``round <id>`` when there is no such round."""
    try:
        current = get_round(UUID(round_id), uow=runtime().reader)
    except (PhasegateError, ValueError):
        return f"round {round_id}"
    return decision_run_name(current.project_key, current.gate_id, current.decision)


def review_run_name(project_key: str) -> str:
    """``ERP / ready-for-planning / review``; without the gate when the project cannot be reviewed now."""
    try:
        gate_id = reviewable_gate(project_key, uow=runtime().reader)
    except PhasegateError:
        return f"{project_key} / review"
    return f"{project_key} / {gate_id} / review"
