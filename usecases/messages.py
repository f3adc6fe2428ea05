"""The notifications use cases queue: per person (one row per target), per organisation channel (tags),
and the approval request with its command, its signed link and, for a review, the gate packet.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from phasegate.gates.evm import compute as compute_evm
from phasegate.gates.vocabulary.evidence import GateEvidence
from phasegate.gates.vocabulary.snapshots import (
    Evaluation,
    OutboxRequest,
    PersonSnapshot,
    ProjectSnapshot,
)
from phasegate.gates.vocabulary.template import GateDef
from phasegate.usecases.lookups import require_person
from phasegate.usecases.ports import ApprovalLinks, UnitOfWork


def request_context(project: ProjectSnapshot, gate: GateDef) -> dict[str, Any]:
    """What every message about a project's gate names: the project and the gate, in both languages."""
    return {
        "project_key": project.key,
        "project_name": project.name,
        "gate_id": gate.id,
        "gate_name": gate.name,
        "gate_name_zh": gate.name_zh or gate.name,
    }


def criteria_context(evaluation: Evaluation) -> list[dict[str, Any]]:
    return [
        {
            "code": c.code,
            "passed": c.passed,
            "message": c.message,
            "message_zh": c.message_zh,
            "remediation": c.remediation,
            "remediation_zh": c.remediation_zh,
        }
        for c in evaluation.criteria
    ]


def gate_packet(
    evaluation: Evaluation,
    evidence: GateEvidence,
    project: ProjectSnapshot,
    gate: GateDef,
    round_id: UUID,
    asked: Sequence[str],
    now: datetime,
) -> dict[str, Any]:
    """The gate packet approvers receive with the request: the evaluation, EVM figures, top risks, who is asked."""
    top_risks = sorted(evidence.risks, key=lambda r: -r.score)[:10]
    return evaluation.model_dump(mode="json") | {
        "project_name": project.name,
        "gate_name": gate.name,
        "gate_name_zh": gate.name_zh or gate.name,
        "round_id": str(round_id),
        "generated_at": now.isoformat(),
        "evm": compute_evm(evidence.evm).as_json() if evidence.evm else None,
        "risks": [r.model_dump(mode="json") | {"score": r.score} for r in top_risks],
        "pending": list(asked),
    }


def approval_request(
    tx: UnitOfWork,
    round_id: UUID,
    approver_id: str,
    base: dict[str, Any],
    *,
    evidence_hash: str,
    links: ApprovalLinks | None,
    kind: str = "approval_requested",
    subject_suffix: str = "",
) -> list[OutboxRequest]:
    """The request one approver receives: how to vote by command and, when links are configured, by page."""
    approver = require_person(tx, approver_id, field="approver")
    context = base | {
        "round_id": str(round_id),
        "approver_name": approver.name,
        "vote_command": f"phasegate vote {round_id} --decision go",  # run from the approver's own OS login
        "approval_url": links(round_id, approver.id, evidence_hash) if links else None,
    }
    return messages_for(approver, kind, f"round:{round_id}{subject_suffix}", context)


def org_notice(kind: str, subject: str, context: dict[str, Any], tags: tuple[str, ...]) -> OutboxRequest:
    """A notice to the organisation's tagged channels (a PMO chat group, a project team's WeCom group)."""
    return OutboxRequest(
        idempotency_key=f"{kind}:{subject}:org",
        kind=kind,
        recipient_id=None,
        target="",
        locale="en",
        context=context,
        tags=tags,
    )


def messages_for(person: PersonSnapshot, kind: str, subject: str, context: dict[str, Any]) -> list[OutboxRequest]:
    return [
        OutboxRequest(
            idempotency_key=f"{kind}:{subject}:{person.id}:{index}",
            kind=kind,
            recipient_id=person.id,
            target=target,
            locale=person.locale,
            context=context,
        )
        for index, target in enumerate(person.notify_urls)
    ]
