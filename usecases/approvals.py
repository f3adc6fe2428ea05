"""The use cases for rounds, votes, decisions, conditions, delegations and reminders, under the names doors import.

They live in ``usecases/`` (one module per capability); this module keeps ``approvals.cast_vote`` and its
siblings importable where the CLI, the flows, the web app, the tests and the benches already call them.
"""

from __future__ import annotations

from phasegate.gates.vocabulary.errors import SecurityRefusedError
from phasegate.usecases.conditions import list_conditions, resolve_condition
from phasegate.usecases.decisions import (
    DecisionApplied,
    ReconcileReport,
    RoundFailure,
    apply_round_decision,
    one_line,
    reconcile_decisions,
)
from phasegate.usecases.delegations import delegate, list_delegations, revoke_delegation
from phasegate.usecases.projects import close_project, resume_project
from phasegate.usecases.reminders import EscalationTargets, ReminderReport, send_reminders, send_weekly_digests
from phasegate.usecases.rounds import (
    ballots_of,
    cancel_round,
    get_round,
    list_rounds,
    policy_of,
    reassign_seat,
    round_tally,
    seats_of,
    unapplied_rounds,
)
from phasegate.usecases.voting import SIGNATURE_REFUSED, SIGNATURE_REQUIRED, VoteResult, cast_vote

__all__ = [
    "SIGNATURE_REFUSED",
    "SIGNATURE_REQUIRED",
    "DecisionApplied",
    "EscalationTargets",
    "ReconcileReport",
    "ReminderReport",
    "RoundFailure",
    "SecurityRefusedError",
    "VoteResult",
    "apply_round_decision",
    "ballots_of",
    "cancel_round",
    "cast_vote",
    "close_project",
    "delegate",
    "get_round",
    "list_conditions",
    "list_delegations",
    "list_rounds",
    "one_line",
    "policy_of",
    "reassign_seat",
    "reconcile_decisions",
    "resolve_condition",
    "resume_project",
    "revoke_delegation",
    "round_tally",
    "seats_of",
    "send_reminders",
    "send_weekly_digests",
    "unapplied_rounds",
]
