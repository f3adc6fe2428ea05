"""Resources across projects: who can work how much (capacity), what plans ask for (demand), where they collide
(allocation, over-allocation flagged) and what a gate's next stage would take (``resources.committed``
evidence). The HOLD queue of projects waiting for capacity is ``usecases.hold_queue``.

Why here: capacity is the organisation's and demand is each project's, so only a view across both can tell a
gate whether its GO would commit people who are already committed elsewhere. The rules are pure
(``gates.capacity``); this module reads and writes them in one transaction each, checking who may.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

from phasegate.gates.authorization import Act
from phasegate.gates.calendar import WorkingCalendar
from phasegate.gates.capacity import (
    Capacities,
    allocation,
    months_between,
    next_month,
    next_stage_lines,
)
from phasegate.gates.vocabulary.enums import ProjectStatus
from phasegate.gates.vocabulary.errors import InputError, NotFoundError, UnknownReferencesError
from phasegate.gates.vocabulary.identity import Actor
from phasegate.gates.vocabulary.resources import (
    DEFAULT_HOURS_PER_DAY,
    HOURS,
    MAX_HOURS,
    AllocationRow,
    CapacityOverride,
    DemandLine,
    PriorityRecord,
    ResourceEvidence,
    ResourceProfile,
    month_label,
)
from phasegate.gates.vocabulary.snapshots import ProjectSnapshot
from phasegate.gates.vocabulary.template import GateDef, LifecycleTemplate
from phasegate.usecases.guard import audit_name, permit, refusals_audited, stamp
from phasegate.usecases.lookups import require_person, require_project, require_template
from phasegate.usecases.ports import UnitOfWork
from phasegate.usecases.result import Result, UowFactory

MAX_MONTHS = 36
"""The longest allocation view: three years of months is already more than a gate looks ahead."""

StageOf = dict[str, tuple[ProjectStatus, str]]


class DemandPlanRow(Protocol):
    """One parsed row of a demand plan, as the file import (``models.imports.DemandPlanRow``) and the API give
    it: the use case needs only these fields, so it does not depend on the file formats."""

    @property
    def project(self) -> str: ...
    @property
    def stage(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def month(self) -> date: ...
    @property
    def hours(self) -> Decimal | None: ...
    @property
    def fte_days(self) -> Decimal | None: ...
    @property
    def person(self) -> str | None: ...


def _check_region(region: str) -> None:
    try:
        WorkingCalendar(region=region)
    except InputError as error:
        raise InputError(error.message.replace("calendar.region", "--region"), code="resources.region") from None


@refusals_audited(Act.SET_CAPACITY)
def set_resource_profile(profile: ResourceProfile, *, actor: Actor, uow: UowFactory, now: datetime) -> ResourceProfile:
    """Make a person a resource of a role (or change their FTE, hours per day or calendar region)."""
    _check_region(profile.region)
    with uow() as tx:
        permit(tx, actor, Act.SET_CAPACITY, entity=f"person:{profile.person_id}")
        require_person(tx, profile.person_id, field="PERSON")
        stored = profile.model_copy(update={"set_by": actor.person_id, "set_at": now})
        tx.resources.put_resource_profile(stored, now=now)
        tx.append_audit(
            actor=audit_name(actor),
            action="resources.profile_set",
            entity=f"person:{profile.person_id}",
            payload={
                "role": profile.role,
                "fte": profile.fte,
                "hours_per_day": profile.hours_per_day,
                "region": profile.region,
            }
            | stamp(actor),
            at=now,
        )
        tx.commit()
    return stored


def _profile_of(tx: UnitOfWork, person_id: str) -> ResourceProfile:
    found = next((p for p in tx.resources.resource_profiles() if p.person_id == person_id), None)
    if found is None:
        raise NotFoundError(
            f"PERSON: {person_id!r} has no resource role yet; set one with "
            f"'phasegate resources person set {person_id} --role ROLE'",
            code="resources.no_profile",
        )
    return found


@refusals_audited(Act.SET_CAPACITY)
def set_capacity(
    person_id: str,
    month: date,
    *,
    hours: Decimal | None = None,
    fte_days: Decimal | None = None,
    actor: Actor,
    uow: UowFactory,
    now: datetime,
) -> CapacityOverride | None:
    """Set a person's hours for one month (leave, training, a part-time month), in hours or FTE-days; neither
    clears the override, so the calendar rule applies again. Returns the override, or None when cleared."""
    if hours is not None and fte_days is not None:
        raise InputError("give one of --hours or --fte-days, not both", code="resources.capacity_unit")
    with uow() as tx:
        permit(tx, actor, Act.SET_CAPACITY, entity=f"person:{person_id}")
        profile = _profile_of(tx, person_id)
        if fte_days is not None:
            hours = (fte_days * profile.hours_per_day).quantize(HOURS)
        override = None
        if hours is None:
            tx.resources.clear_capacity_override(person_id, month)
        else:
            override = CapacityOverride(
                person_id=person_id, month=month, hours=hours, set_by=actor.person_id, set_at=now
            )
            tx.resources.put_capacity_override(override, now=now)
        tx.append_audit(
            actor=audit_name(actor),
            action="resources.capacity_set",
            entity=f"person:{person_id}",
            payload={"month": month_label(month), "hours": hours} | stamp(actor),
            at=now,
        )
        tx.commit()
    return override


@refusals_audited(Act.SET_PRIORITY)
def set_priority(project_key: str, priority: int, *, actor: Actor, uow: UowFactory, now: datetime) -> PriorityRecord:
    """Rank a project in the HOLD queue: a higher number is offered freed capacity first."""
    record = PriorityRecord(project_key=project_key, priority=priority, set_by=actor.person_id, set_at=now)
    with uow() as tx:
        project = require_project(tx, project_key, for_update=True)
        permit(tx, actor, Act.SET_PRIORITY, project=project)
        tx.resources.put_priority(record, now=now)
        tx.append_audit(
            actor=audit_name(actor),
            action="resources.priority_set",
            entity=f"project:{project_key}",
            payload={"priority": priority} | stamp(actor),
            at=now,
        )
        tx.commit()
    return record


class DemandImport(Result):
    lines: int
    hours: Decimal
    projects: tuple[str, ...]
    stages: tuple[str, ...]
    """``PROJECT/STAGE`` of every stage whose demand the import replaced."""


def _demand_lines(
    tx: UnitOfWork, rows: Sequence[tuple[int, DemandPlanRow]], source: str
) -> tuple[list[DemandLine], dict[str, ProjectSnapshot]]:
    """Check every row against the portfolio (project, stage, role, person); all problems at once."""
    problems: list[str] = []
    projects: dict[str, ProjectSnapshot | None] = {}
    templates: dict[str, LifecycleTemplate] = {}
    profiles = {p.person_id: p for p in tx.resources.resource_profiles()}
    roles = sorted({p.role for p in profiles.values()})
    lines: list[DemandLine] = []
    for number, row in rows:
        where = f"{source}:row {number}"
        if row.project not in projects:
            projects[row.project] = tx.projects.get_project(row.project, for_update=True)
        project = projects[row.project]
        if project is None:
            problems.append(f"{where}: project: unknown project {row.project!r}; see 'phasegate project list'")
            continue
        if project.key not in templates:
            templates[project.key] = require_template(tx, project.template_id, project.template_version).template
        template = templates[project.key]
        stages = [s.id for s in template.stages]
        role = row.role.strip().lower()
        bad = False
        if row.stage not in stages:
            problems.append(
                f"{where}: stage: {row.stage!r} is not a stage of {template.id}@{template.version}; "
                f"stages: {', '.join(stages)}"
            )
            bad = True
        if role not in roles:
            problems.append(
                f"{where}: role: nobody has the role {row.role!r}; roles with capacity: {', '.join(roles) or 'none'} "
                "(phasegate resources person set PERSON --role ROLE)"
            )
            bad = True
        profile = profiles.get(row.person) if row.person else None
        if row.person and profile is None:
            problems.append(
                f"{where}: person: {row.person!r} has no resource role; set one with "
                f"'phasegate resources person set {row.person} --role {role}'"
            )
            bad = True
        elif profile is not None and profile.role != role:
            problems.append(f"{where}: person: {row.person} has the role {profile.role!r}, not {role!r}")
            bad = True
        if bad:
            continue
        per_day = profile.hours_per_day if profile is not None else DEFAULT_HOURS_PER_DAY
        hours = row.hours if row.hours is not None else (row.fte_days or Decimal(0)) * per_day
        if hours > MAX_HOURS:
            problems.append(f"{where}: fte_days: {row.fte_days} days x {per_day} h is more than {MAX_HOURS} h")
            continue
        lines.append(
            DemandLine(
                project_key=project.key,
                stage_id=row.stage,
                role=role,
                month=row.month,
                hours=hours.quantize(HOURS),
                person_id=row.person,
            )
        )
    if problems:
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        raise UnknownReferencesError(
            f"cannot import demand from {source} ({count}; nothing imported); first: {problems[0]}", problems
        )
    return lines, {key: p for key, p in projects.items() if p is not None}


@refusals_audited(Act.SET_DEMAND)
def import_demand(
    rows: Sequence[tuple[int, DemandPlanRow]], *, source: str, actor: Actor, uow: UowFactory, now: datetime
) -> DemandImport:
    """Replace the demand of every (project, stage) the file names with its rows: all or nothing.

    Each project's manager (or a pmo_admin) may set its demand; one project the actor may not touch refuses the
    whole file. Importing the same file again leaves the same lines.
    """
    if not rows:
        raise InputError(f"{source}: no demand rows; nothing imported", code="import.empty")
    with uow() as tx:
        lines, projects = _demand_lines(tx, rows, source)
        for project in projects.values():
            permit(tx, actor, Act.SET_DEMAND, project=project)
        scopes = sorted({(line.project_key, line.stage_id) for line in lines})
        tx.resources.replace_demand(scopes, lines, by=actor.person_id, now=now)
        by_project: dict[str, list[DemandLine]] = defaultdict(list)
        for line in lines:
            by_project[line.project_key].append(line)
        for key, own in sorted(by_project.items()):
            tx.projects.bump_evidence_version(key)  # an open round re-evaluates: its gate may read this demand
            tx.append_audit(
                actor=audit_name(actor),
                action="resources.demand_imported",
                entity=f"project:{key}",
                payload={
                    "source": source,
                    "stages": sorted({line.stage_id for line in own}),
                    "lines": len(own),
                    "hours": sum((line.hours for line in own), Decimal(0)),
                }
                | stamp(actor),
                at=now,
            )
        tx.commit()
    return DemandImport(
        lines=len(lines),
        hours=sum((line.hours for line in lines), Decimal(0)),
        projects=tuple(sorted(projects)),
        stages=tuple(f"{key}/{stage}" for key, stage in scopes),
    )


# --- reading -------------------------------------------------------------------------------------------------


def _stage_of(tx: UnitOfWork, keys: set[str]) -> StageOf:
    return tx.resources.project_stages(sorted(keys))


def _capacities(tx: UnitOfWork, months: Sequence[date]) -> Capacities:
    return Capacities.of(
        tx.resources.resource_profiles(), tx.resources.capacity_overrides(min(months), max(months)), months
    )


class AllocationView(Result):
    first: str
    last: str
    by: str
    """``role`` or ``person``."""
    rows: tuple[AllocationRow, ...]

    @property
    def over_allocated(self) -> tuple[AllocationRow, ...]:
        return tuple(row for row in self.rows if row.over_allocated)


def month_range(first: date | None, last: date | None, today: date) -> list[date]:
    """The months a view covers: from ``first`` (default this month) to ``last`` (default five months on)."""
    if first is None:
        first = date(today.year, today.month, 1)
    if last is None:
        last = first
        for _ in range(5):
            last = next_month(last)
    if last < first:
        raise InputError(f"--to {month_label(last)} is before --from {month_label(first)}", code="resources.range")
    months = months_between(first, last)
    if len(months) > MAX_MONTHS:
        raise InputError(
            f"--from {month_label(first)} --to {month_label(last)} spans {len(months)} months; "
            f"at most {MAX_MONTHS} at once",
            code="resources.range",
        )
    return months


def allocation_view(
    *,
    uow: UowFactory,
    today: date,
    first: date | None = None,
    last: date | None = None,
    role: str | None = None,
    by_person: bool = False,
) -> AllocationView:
    """Per role (or person) and month: capacity, committed and planned hours, free hours, over-allocation.

    Without ``first`` the view starts this month; without ``last`` it shows six months."""
    with uow() as tx:
        months = month_range(first, last, today)
        if role is not None:
            known = sorted({p.role for p in tx.resources.resource_profiles()})
            if role not in known:
                raise NotFoundError(
                    f"--role: nobody has the role {role!r}; roles: {', '.join(known) or 'none'}",
                    code="resources.role",
                )
        demand = tx.resources.demand(first=months[0], last=months[-1])
        stage_of = _stage_of(tx, {line.project_key for line in demand})
        rows = allocation(_capacities(tx, months), demand, stage_of, months, by_person=by_person, role=role)
    return AllocationView(
        first=month_label(months[0]),
        last=month_label(months[-1]),
        by="person" if by_person else "role",
        rows=tuple(rows),
    )


def resource_people(*, uow: UowFactory) -> list[ResourceProfile]:
    with uow() as tx:
        return tx.resources.resource_profiles()


def demand_lines(*, uow: UowFactory, project_key: str | None = None) -> list[DemandLine]:
    with uow() as tx:
        if project_key is not None:
            require_project(tx, project_key)
        return tx.resources.demand(project_key=project_key)


def stage_evidence(
    tx: UnitOfWork,
    project: ProjectSnapshot,
    template: LifecycleTemplate,
    *,
    reserved: dict[tuple[str, date], Decimal] | None = None,
) -> ResourceEvidence:
    """The next stage's demand of ``project`` against every role's capacity and what other active projects have
    committed (and ``reserved``: hours promised to projects ranked above in the HOLD queue)."""
    following = template.next_stage(project.stage_id)
    if following is None:
        return ResourceEvidence(next_stage=None)
    wanted = [line for line in tx.resources.demand(project_key=project.key) if line.stage_id == following.id]
    if not wanted:
        return ResourceEvidence(next_stage=following.id)
    months = sorted({line.month for line in wanted})
    others = [line for line in tx.resources.demand(first=months[0], last=months[-1]) if line.project_key != project.key]
    stage_of = _stage_of(tx, {line.project_key for line in others})
    lines = next_stage_lines(_capacities(tx, months), wanted, others, stage_of, reserved=reserved)
    return ResourceEvidence(next_stage=following.id, lines=lines)


def gate_resources(tx: UnitOfWork, project: ProjectSnapshot, gate: GateDef) -> ResourceEvidence | None:
    """What ``collect_evidence`` adds for a gate with a ``resources.`` criterion (None for any other gate, so
    their evidence, and its hash, stay as they were)."""
    if not any(c.code.startswith("resources.") for c in gate.criteria):
        return None
    template = require_template(tx, project.template_id, project.template_version).template
    return stage_evidence(tx, project, template)
