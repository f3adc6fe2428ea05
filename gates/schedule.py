"""Schedule criteria at a gate: the milestones that fell due by the evidence date are done.

Time arrives as ``GateEvidence.as_of``, never from a clock, so the same evidence always gives the same verdict.
A milestone counts as done by ``as_of`` when its ``done_on`` is on or before ``as_of``: re-evaluating old
evidence must not see work finished later. Days overdue count the due date itself, so a milestone due on the
evidence date and still open is 1 day overdue; ``tolerance_days`` (default 0) is how many such days are let
pass, hence with no tolerance every milestone due by ``as_of`` must be done.
"""

from __future__ import annotations

from datetime import date

from phasegate.gates.criteria import Criterion, evidence_reference, params_check, per_template
from phasegate.gates.vocabulary.evidence import GateEvidence, MilestoneEvidence
from phasegate.gates.vocabulary.snapshots import CriterionResult
from phasegate.gates.vocabulary.template import CriterionDef, GateDef, LifecycleTemplate

PARAMS: dict[str, tuple[str, ...]] = {"schedule.milestones_done": ("tolerance_days",)}
"""Accepted params per criterion code."""


def param_problems(definition: CriterionDef) -> list[str]:
    """Every problem with ``definition.params`` for a schedule criterion, one line each, naming the param."""
    code = definition.code
    allowed = PARAMS.get(code)
    if allowed is None:
        return [f"{code}: not a schedule criterion; schedule criteria are: {', '.join(PARAMS)}"]
    problems = []
    for name, value in definition.params.items():
        if name not in allowed:
            problems.append(f"{code}: unknown param {name!r}; allowed params: {', '.join(allowed)}")
        elif isinstance(value, bool) or not isinstance(value, int) or value < 0:
            problems.append(f"{code}: param {name!r} must be a whole number of days, 0 or more; got {value!r}")
    return problems


_check_params = params_check(param_problems)


@per_template
def _tolerance_days(definition: CriterionDef) -> int:
    _check_params(definition)
    value = definition.params.get("tolerance_days", 0)
    return value if isinstance(value, int) else 0  # always int after the check; keeps the type exact


def days_overdue(milestone: MilestoneEvidence, as_of: date) -> int:
    """Days a milestone open at ``as_of`` has been due, counting the due date; 0 when done or not yet due."""
    if milestone.due > as_of or (milestone.done_on is not None and milestone.done_on <= as_of):
        return 0
    return (as_of - milestone.due).days + 1


def _day_word(days: int) -> str:
    return "day" if days == 1 else "days"


def milestones_done(
    definition: CriterionDef, gate: GateDef, template: LifecycleTemplate, evidence: GateEvidence
) -> CriterionResult:
    """Every milestone due by ``as_of`` is done, or overdue by at most ``tolerance_days``. Done late is done."""
    tolerance = _tolerance_days(definition)
    threshold = f"<= {tolerance} {_day_word(tolerance)} overdue"
    fix = (
        "finish the overdue milestones and record their completion dates, or re-baseline them through change "
        "control before the gate",
        "完成逾期的里程碑并登记完成日期，或在阶段门评审前通过变更控制重新设定其基准日期",
    )
    as_of = evidence.as_of
    if as_of is None:
        return CriterionResult(
            code=definition.code,
            kind=definition.kind,
            remediable=definition.remediable,
            passed=False,
            evidence_missing=True,
            measured=None,
            threshold=threshold,
            message="cannot assess milestones: the evidence has no as-of date",
            message_zh="无法评估里程碑：证据未注明截止日期",
            remediation="take the gate's evidence as of a status date so milestones can be compared with it",
            remediation_zh="请按某一状态日期采集阶段门证据，以便据此核对里程碑",
            evidence_ref=evidence_reference("schedule", gate, evidence),
        )
    due = sorted((m for m in evidence.milestones if m.due <= as_of), key=lambda m: (m.due, m.id))
    overdue = [(m, days_overdue(m, as_of)) for m in due if days_overdue(m, as_of) > 0]
    late = [(m, days) for m, days in overdue if days > tolerance]
    grace = [(m, days) for m, days in overdue if days <= tolerance]

    def listing(items: list[tuple[MilestoneEvidence, int]]) -> tuple[str, str]:
        return (
            "; ".join(f"{m.id} {m.name} (due {m.due}, {days} {_day_word(days)} overdue)" for m, days in items),
            "；".join(f"{m.id} {m.name}（到期日 {m.due}，逾期 {days} 天）" for m, days in items)
            + "（逾期天数含到期日当天）",
        )

    worst = max((days for _, days in overdue), default=0)
    passed = not late
    if late:
        en, zh = listing(late)
        message = (
            f"{len(late)} of {len(due)} milestones due by {as_of} are overdue beyond the tolerance of "
            f"{tolerance} {_day_word(tolerance)}: {en}",
            f"截至 {as_of} 到期的 {len(due)} 个里程碑中，有 {len(late)} 个逾期超过容差 {tolerance} 天：{zh}",
        )
    elif not due:
        later = len(evidence.milestones)
        message = (
            f"no milestone is due by {as_of} ({later} due later)",
            f"截至 {as_of} 没有到期的里程碑（另有 {later} 个尚未到期）",
        )
    else:
        message = (
            f"all {len(due)} milestones due by {as_of} are done",
            f"截至 {as_of} 到期的 {len(due)} 个里程碑均已完成",
        )
        if grace:
            message = (
                f"{len(due) - len(grace)} of {len(due)} milestones due by {as_of} are done",
                f"截至 {as_of} 到期的 {len(due)} 个里程碑中已完成 {len(due) - len(grace)} 个",
            )
    if grace:
        en, zh = listing(grace)
        message = (
            f"{message[0]}; within the tolerance of {tolerance} {_day_word(tolerance)}: {en}",
            f"{message[1]}；在 {tolerance} 天容差之内：{zh}",
        )
    return CriterionResult(
        code=definition.code,
        kind=definition.kind,
        remediable=definition.remediable,
        passed=passed,
        measured=f"{worst} {_day_word(worst)} overdue",
        threshold=threshold,
        message=message[0],
        message_zh=message[1],
        remediation="" if passed else fix[0],
        remediation_zh="" if passed else fix[1],
        evidence_ref=evidence_reference("schedule", gate, evidence),
    )


SCHEDULE_CRITERIA: dict[str, Criterion] = {"schedule.milestones_done": milestones_done}
