"""Assessing a gate: the one evaluation every review, refresh and ``gate check`` goes through.

Why a module of its own: ``gate check`` (and the monitor's gate dates, the API's evaluation) only assess and
write nothing, so they import this and the evidence it reads, not the review's rounds, notices, lessons and
messages, which a command typed at a terminal would otherwise pay for at every start (``bench/cli_latency.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from phasegate.gates.criteria import Criterion
from phasegate.gates.evaluation import evaluate_gate
from phasegate.gates.recycling import with_recycle_limit
from phasegate.gates.registry import default_registry
from phasegate.gates.vocabulary.errors import InputError
from phasegate.gates.vocabulary.evidence import GateEvidence
from phasegate.gates.vocabulary.snapshots import Evaluation, ProjectSnapshot
from phasegate.gates.vocabulary.template import GateDef, LifecycleTemplate
from phasegate.usecases.evidence import collect_evidence
from phasegate.usecases.lookups import current_gate, require_project, require_template
from phasegate.usecases.ports import DocumentProbe, UnitOfWork
from phasegate.usecases.result import Result, UowFactory


class GateCheck(Result):
    evaluation: Evaluation
    evidence: GateEvidence


def assess_gate(
    tx: UnitOfWork,
    project: ProjectSnapshot,
    template: LifecycleTemplate,
    gate: GateDef,
    *,
    now: datetime,
    probe: DocumentProbe,
    registry: Mapping[str, Criterion] | None,
) -> GateCheck:
    """The one evaluation of a gate: evidence as of today, the template's criteria, then the recycle limit.

    Why one function: a review, the refresh of an open round after new evidence and ``gate check`` must
    recommend the same thing for the same evidence (after the recycle limit that is KILL, whatever the
    criteria say); each once had its own copy and they drifted.
    """
    evidence = collect_evidence(tx, project, gate, as_of=now.date(), probe=probe)
    evaluation = evaluate_gate(template, gate, evidence, registry or default_registry())
    current = template.gate_after(project.stage_id)
    if current is not None and current.id == gate.id:  # recycles count at the gate the project stands before
        evaluation = with_recycle_limit(evaluation, project.recycle_count, gate.recycle_limit)
    return GateCheck(evaluation=evaluation, evidence=evidence)


def check_gate(
    project_key: str,
    *,
    uow: UowFactory,
    now: datetime,
    probe: DocumentProbe,
    gate_id: str | None = None,
    registry: Mapping[str, Criterion] | None = None,
) -> GateCheck:
    """Evaluate the project's current gate (or ``gate_id``, to preview another) without writing anything."""
    with uow() as tx:
        project = require_project(tx, project_key)
        template = require_template(tx, project.template_id, project.template_version).template
        if gate_id is None:
            gate = current_gate(project, template)
        else:
            found = template.gate(gate_id)
            if found is None:
                raise InputError(
                    f"--gate: {gate_id!r} is not a gate of {template.id}@{template.version}; "
                    f"gates: {', '.join(g.id for g in template.gates)}",
                    code="gate.unknown",
                )
            gate = found
        return assess_gate(tx, project, template, gate, now=now, probe=probe, registry=registry)
