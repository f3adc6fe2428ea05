"""The REST API for resources across projects: people's resource roles and monthly capacity, demand per project
stage (one batch, all or nothing, as the CLI's file import), the allocation view with over-allocation flagged,
project priorities and the HOLD queue.

Why a module of its own: ``web.api`` is near a thousand lines; these handlers share its types and conventions
(thin: validate the body, call the one use case the CLI calls, shape the answer). Demand rows are validated
by the same row model the file import uses (``models.imports.DemandPlanRow``), so a bad row reads the same.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, status
from pydantic import AfterValidator, BaseModel, Field, StringConstraints, ValidationError

from phasegate.gates.capacity import next_month
from phasegate.gates.vocabulary.commands import PersonId, ProjectKey
from phasegate.gates.vocabulary.resources import (
    CapacityOverride,
    DemandLine,
    PriorityRecord,
    ResourceProfile,
    parse_month,
)
from phasegate.models.imports import DemandPlanRow, ImportRowsError
from phasegate.usecases import services
from phasegate.usecases.resources import MAX_MONTHS
from phasegate.web.api import READ, READ_ONE, WRITE, Body, Key
from phasegate.web.auth import Acting, Reader, Runtime
from phasegate.web.problems import ProblemRoute, single_valued_query

router = APIRouter(prefix="/api/v1", route_class=ProblemRoute, dependencies=[Depends(single_valued_query)])

MAX_ROWS = 10_000
MONTH_PATTERN = r"^([1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])-(0[1-9]|1[0-2])$"
HOURS_PATTERN = r"^[0-9]{1,6}(\.[0-9]{1,2})?$"
PER_DAY_PATTERN = r"^(([1-9]|1[0-9]|2[0-3])(\.[0-9]{1,2})?|24(\.0{1,2})?)$"
"""Hours in a full working day: 1 to 24."""
MonthText = Annotated[str, StringConstraints(pattern=MONTH_PATTERN)]
HoursText = Annotated[str, StringConstraints(pattern=HOURS_PATTERN)]
RoleName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
MonthPath = Annotated[str, Path(pattern=MONTH_PATTERN, description="YYYY-MM")]


def _month(value: str | None, field: str) -> date | None:
    return None if value is None else parse_month(value, field=field)


def _regions() -> tuple[str, ...]:
    """The two-letter regions the working calendar knows, for the schema (listing them loads ~250 small modules,
    about 0.1 s, once when the app starts)."""
    import holidays

    return tuple(sorted(code for code in holidays.list_supported_countries() if len(code) == 2 and code.isupper()))


REGIONS = _regions()


def _known_region(value: str) -> str:
    if value not in REGIONS:
        raise ValueError(f"unknown region {value!r}; use an ISO 3166-1 alpha-2 code such as CN, US, GB, DE, JP, SG")
    return value


Region = Annotated[str, Field(json_schema_extra={"enum": list(REGIONS)}), AfterValidator(_known_region)]


class ProfileIn(Body):
    role: RoleName
    fte: Annotated[str, StringConstraints(pattern=r"^(0\.(0[1-9]|[1-9][0-9]?)|1(\.0{1,2})?)$")] = "1"
    hours_per_day: Annotated[str, StringConstraints(pattern=PER_DAY_PATTERN)] = "8"
    region: Region = "US"


@router.get("/resources/people", responses=READ, tags=["resources"])
def list_resource_people(_: Reader, rt: Runtime) -> list[ResourceProfile]:
    """Everyone with a resource role: role, FTE, hours per day and the working-calendar region."""
    return services.resource_people(uow=rt.reader)


@router.put("/resources/people/{person_id}", responses=WRITE, tags=["resources"])
def set_resource_profile(actor: Acting, rt: Runtime, person_id: PersonId, body: ProfileIn) -> ResourceProfile:
    """Make a person a resource of a role, or change their FTE, hours per day or region (pmo_admin; audited)."""
    fte, per_day = Decimal(body.fte), Decimal(body.hours_per_day)
    profile = ResourceProfile(person_id=person_id, role=body.role, fte=fte, hours_per_day=per_day, region=body.region)
    return services.set_resource_profile(profile, actor=actor, uow=rt.uow, now=rt.now())


class HoursIn(Body):
    hours: HoursText = Field(description="Hours available that month.")


class FteDaysIn(Body):
    fte_days: HoursText = Field(description="Full days available that month (x the person's hours per day).")


CapacityIn = HoursIn | FteDaysIn


class CapacityOut(BaseModel):
    person_id: str
    month: str
    override: CapacityOverride | None = Field(description="None: the calendar rule applies again.")


@router.put("/resources/people/{person_id}/capacity/{month}", responses=WRITE, tags=["resources"])
def set_capacity(actor: Acting, rt: Runtime, person_id: PersonId, month: MonthPath, body: CapacityIn) -> CapacityOut:
    """Set a person's capacity in one month, in hours or FTE-days (pmo_admin; audited); DELETE clears it."""
    first = parse_month(month, field="month")
    override = services.set_capacity(
        person_id,
        first,
        hours=Decimal(body.hours) if isinstance(body, HoursIn) else None,
        fte_days=Decimal(body.fte_days) if isinstance(body, FteDaysIn) else None,
        actor=actor,
        uow=rt.uow,
        now=rt.now(),
    )
    return CapacityOut(person_id=person_id, month=month, override=override)


@router.delete("/resources/people/{person_id}/capacity/{month}", responses=WRITE, tags=["resources"])
def clear_capacity(actor: Acting, rt: Runtime, person_id: PersonId, month: MonthPath) -> CapacityOut:
    """Back to the calendar rule for that month (pmo_admin; audited)."""
    first = parse_month(month, field="month")
    services.set_capacity(person_id, first, actor=actor, uow=rt.uow, now=rt.now())
    return CapacityOut(person_id=person_id, month=month, override=None)


class DemandRowIn(Body):
    row: int | None = Field(
        default=None, ge=1, le=MAX_ROWS + 1_000_000, description="The row number in the client's file, for messages."
    )
    project: ProjectKey
    stage: Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
    role: RoleName
    month: MonthText
    person: PersonId | None = None


class DemandHoursIn(DemandRowIn):
    hours: HoursText


class DemandDaysIn(DemandRowIn):
    fte_days: HoursText = Field(description="Person-days, at the person's hours per day (8 when no person).")


class DemandIn(Body):
    source: Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$")] = Field(
        default="body.rows", description="What the rows came from (the client's file name), for messages."
    )
    rows: list[DemandHoursIn | DemandDaysIn] = Field(min_length=1, max_length=MAX_ROWS)


@router.post("/resources/demand", responses=WRITE, tags=["resources"])
def import_demand(actor: Acting, rt: Runtime, body: DemandIn) -> services.DemandImport:
    """Replace the demand of every project stage the rows name, all or nothing (each project's manager or a
    pmo_admin); a bad row is named as ``body.rows:row N`` (1-based) with its column."""
    problems: list[str] = []
    rows: list[tuple[int, DemandPlanRow]] = []
    for index, given in enumerate(body.rows, start=1):
        number = given.row or index
        try:
            fields = given.model_dump(exclude_none=True, exclude={"row"})
            rows.append((number, DemandPlanRow.model_validate(fields)))
        except ValidationError as error:
            for detail in error.errors():
                where = f"{detail['loc'][0]}: " if detail["loc"] else ""
                message = str(detail["msg"]).removeprefix("Value error, ")
                problems.append(f"{body.source}:row {number}: {where}{message}")
    if problems:
        raise ImportRowsError(
            f"cannot import demand from {body.source} ({len(problems)} problems; nothing imported); first: "
            f"{problems[0]}",
            problems,
        )
    return services.import_demand(rows, source=body.source, actor=actor, uow=rt.uow, now=rt.now())


@router.get("/resources/demand", responses=READ_ONE, tags=["resources"])
def list_demand(
    _: Reader, rt: Runtime, project: Annotated[ProjectKey | None, Query(description="Only this project")] = None
) -> list[DemandLine]:
    """Demand lines per project, stage, role and month."""
    return services.demand_lines(uow=rt.reader, project_key=project)


@router.get("/resources/allocation", responses=READ_ONE, tags=["resources"])
def allocation(
    _: Reader,
    rt: Runtime,
    role: Annotated[RoleName | None, Query(description="Only this resource role")] = None,
    first: Annotated[MonthText | None, Query(alias="from", description="First month (default: this month)")] = None,
    months: Annotated[int, Query(ge=1, le=MAX_MONTHS, description="How many months from the first")] = 6,
    by: Annotated[Literal["role", "person"], Query(description="One row per role or per person")] = "role",
) -> services.AllocationView:
    """Capacity, committed and planned hours per role (or person) and month, with over-allocation flagged."""
    start = _month(first, "from") or rt.now().date().replace(day=1)
    end = start
    for _step in range(months - 1):
        end = next_month(end)
    return services.allocation_view(
        uow=rt.reader,
        today=rt.now().date(),
        first=start,
        last=end,
        role=role,
        by_person=by == "person",
    )


@router.get("/resources/queue", responses=READ, tags=["resources"])
def hold_queue(_: Reader, rt: Runtime) -> list[services.QueueEntry]:
    """Projects on hold for capacity, ranked by value per cost (with an expected benefit), else priority, then
    scorecard score; whether each fits now."""
    return services.hold_queue(uow=rt.reader)


class PriorityIn(Body):
    priority: int = Field(ge=0, le=1000, description="Higher goes first in the HOLD queue.")


@router.put("/projects/{key}/priority", status_code=status.HTTP_200_OK, responses=WRITE, tags=["resources"])
def set_priority(actor: Acting, rt: Runtime, key: Key, body: PriorityIn) -> PriorityRecord:
    """Set a project's priority in the HOLD queue (pmo_admin; audited)."""
    return services.set_priority(key, body.priority, actor=actor, uow=rt.uow, now=rt.now())
