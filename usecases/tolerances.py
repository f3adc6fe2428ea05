"""Tolerances: a level sets how far a project or stage may deviate; everyone reads what is in force.

Why each change is audited with the value before and after: a tolerance decides whether a forecast is an
exception and to whom it goes, so who loosened it, when and why is what an auditor asks first.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from phasegate.gates.authorization import Act, authorize_level
from phasegate.gates.tolerance import EffectiveTolerance, effective_tolerances
from phasegate.gates.vocabulary.commands import SetTolerance
from phasegate.gates.vocabulary.errors import AuthorizationError, InputError
from phasegate.gates.vocabulary.identity import Actor
from phasegate.gates.vocabulary.tolerance import PROJECT_SCOPE, ToleranceRecord
from phasegate.usecases.guard import audit_name, permit, refusals_audited, stamp
from phasegate.usecases.lookups import project_roles, require_person, require_project, require_template
from phasegate.usecases.result import Result, UowFactory


class ToleranceList(Result):
    """What is in force on a project: its whole-project tolerances, then its stages' own."""

    project_key: str
    stage_id: str
    tolerances: tuple[EffectiveTolerance, ...]


def _shown(tolerance: EffectiveTolerance | None) -> dict[str, Any] | None:
    if tolerance is None or tolerance.source == "unset":
        return None
    return tolerance.model_dump(mode="json", include={"level", "owner_id", "percent", "amount", "none", "source"})


@refusals_audited(Act.SET_TOLERANCE)
def set_tolerance(cmd: SetTolerance, *, actor: Actor, uow: UowFactory, now: datetime) -> EffectiveTolerance:
    """Set or replace one dimension's tolerance as a level. A lower level never overrides a higher one."""
    with uow() as tx:
        project = require_project(tx, cmd.project_key, for_update=True)
        permit(tx, actor, Act.SET_TOLERANCE, project=project)
        authorize_level(actor, cmd.level, project=project)
        template = require_template(tx, project.template_id, project.template_version).template
        scope = PROJECT_SCOPE
        if cmd.stage_id is not None:
            if cmd.stage_id not in {s.id for s in template.stages}:
                stages = ", ".join(s.id for s in template.stages)
                raise InputError(f"--stage: {cmd.stage_id!r} is not a stage of {template.id}; stages are: {stages}")
            scope = cmd.stage_id
        owner_id = cmd.owner_id or actor.person_id
        require_person(tx, owner_id, field="--owner")
        roles = project_roles(tx, project)
        current = {
            (t.scope, t.dimension): t
            for t in effective_tolerances(template, project, roles, tx.tolerances.tolerances(project.key))
        }.get((scope, cmd.dimension))
        if current is not None and current.level is not None and current.level.rank < cmd.level.rank:
            raise AuthorizationError(
                f"the {cmd.dimension.value} tolerance of {project.key}"
                + (f" stage {scope}" if scope != PROJECT_SCOPE else "")
                + f" is held by the {current.level.value} level; the {cmd.level.value} level may not change it "
                "(set it as that level or above)",
                code="auth.tolerance_level",
                entity=f"project:{project.key}",
            )
        record = ToleranceRecord(
            project_key=project.key,
            scope=scope,
            dimension=cmd.dimension,
            level=cmd.level,
            owner_id=owner_id,
            percent=cmd.percent,
            amount=cmd.amount,
            none=cmd.none,
            reason=cmd.reason,
            set_by=actor.person_id,
            set_at=now,
        )
        tx.tolerances.put_tolerance(record)
        tx.append_audit(
            actor=audit_name(actor),
            action="tolerance.set",
            entity=f"project:{project.key}",
            payload={
                "scope": scope,
                "dimension": cmd.dimension.value,
                "before": _shown(current),
                "after": record.model_dump(mode="json", include={"level", "owner_id", "percent", "amount", "none"}),
                "reason": cmd.reason,
            }
            | stamp(actor),
            at=now,
        )
        tx.commit()
    return EffectiveTolerance(
        scope=scope,
        dimension=record.dimension,
        source="set",
        level=record.level,
        owner_id=record.owner_id,
        percent=record.percent,
        amount=record.amount,
        none=record.none,
        reason=record.reason,
        set_by=record.set_by,
        set_at=record.set_at,
    )


def list_tolerances(key: str, *, uow: UowFactory) -> ToleranceList:
    """The tolerances in force on a project (set by a level, else the template's default, else unset)."""
    with uow() as tx:
        project = require_project(tx, key)
        template = require_template(tx, project.template_id, project.template_version).template
        found = effective_tolerances(
            template, project, project_roles(tx, project), tx.tolerances.tolerances(project.key)
        )
        return ToleranceList(project_key=project.key, stage_id=project.stage_id, tolerances=tuple(found))
