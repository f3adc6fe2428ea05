"""Which tolerance holds for a project and each of its stages: what a level set, else the template's default.

Why pure: the list command, the API, the project page and the portfolio monitor must all read the same
answer, and the rule (a set row wins; a template default names its owner by project role; nothing said is
*unset*, never "none") is policy worth testing without a database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict

from phasegate.gates.vocabulary.snapshots import ProjectSnapshot
from phasegate.gates.vocabulary.template import LifecycleTemplate
from phasegate.gates.vocabulary.tolerance import PROJECT_SCOPE, Dimension, ToleranceDef, ToleranceLevel, ToleranceRecord

Source = Literal["set", "template", "unset"]


class EffectiveTolerance(BaseModel):
    """The tolerance in force on one dimension of a project (``scope`` ``*``) or stage, and where it comes from."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    scope: str
    dimension: Dimension
    source: Source
    level: ToleranceLevel | None = None
    owner_id: str | None = None
    percent: Decimal | None = None
    amount: Decimal | None = None
    none: bool = False
    reason: str = ""
    set_by: str | None = None
    set_at: datetime | None = None

    @property
    def held(self) -> bool:
        """True when there is a limit to measure against (not unset, not explicitly none)."""
        return self.source != "unset" and not self.none

    def allowance(self, baseline: Decimal) -> Decimal | None:
        """The allowed deviation, in the dimension's unit: the greater of percent of ``baseline`` and amount."""
        if not self.held:
            return None
        by_percent = baseline * self.percent / 100 if self.percent is not None else Decimal(0)
        return max(by_percent, self.amount if self.amount is not None else Decimal(0))


def owner_of(role: str, roles: Mapping[str, tuple[str, ...]]) -> str | None:
    """The person holding project role ``role`` (the first one assigned); ``None`` when nobody holds it yet."""
    people = roles.get(role, ())
    return people[0] if people else None


def _from_template(scope: str, default: ToleranceDef, roles: Mapping[str, tuple[str, ...]]) -> EffectiveTolerance:
    return EffectiveTolerance(
        scope=scope,
        dimension=default.dimension,
        source="template",
        level=default.level,
        owner_id=owner_of(default.owner_role, roles),
        percent=default.percent,
        amount=default.amount,
        none=default.none,
    )


def _from_record(record: ToleranceRecord) -> EffectiveTolerance:
    return EffectiveTolerance(
        scope=record.scope,
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


def effective_tolerances(
    template: LifecycleTemplate,
    project: ProjectSnapshot,
    roles: Mapping[str, tuple[str, ...]],
    records: Iterable[ToleranceRecord],
) -> list[EffectiveTolerance]:
    """Every dimension of the whole project (unset ones included), then each stage where anything is known.

    A stage without its own tolerance on a dimension is bound by the project's; it is not listed as unset.
    """
    stored = {(r.scope, r.dimension): r for r in records if r.project_key == project.key}
    defaults: dict[tuple[str, Dimension], ToleranceDef] = {
        (PROJECT_SCOPE, d.dimension): d for d in template.tolerances
    } | {(stage.id, d.dimension): d for stage in template.stages for d in stage.tolerances}
    found: list[EffectiveTolerance] = []
    for scope in (PROJECT_SCOPE, *(stage.id for stage in template.stages)):
        for dimension in Dimension:
            record = stored.get((scope, dimension))
            default = defaults.get((scope, dimension))
            if record is not None:
                found.append(_from_record(record))
            elif default is not None:
                found.append(_from_template(scope, default, roles))
            elif scope == PROJECT_SCOPE:
                found.append(EffectiveTolerance(scope=scope, dimension=dimension, source="unset"))
    return found


def in_force(
    tolerances: Iterable[EffectiveTolerance], dimension: Dimension, stage_id: str
) -> EffectiveTolerance | None:
    """The tolerance that binds ``dimension`` in stage ``stage_id``: the stage's own, else the project's."""
    by_scope = {t.scope: t for t in tolerances if t.dimension is dimension}
    return by_scope.get(stage_id) or by_scope.get(PROJECT_SCOPE)
