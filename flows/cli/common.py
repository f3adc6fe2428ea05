"""What every command shares: the --db and --json options, the runtime, output and input parsing."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, NoReturn
from uuid import UUID

import typer
from pydantic import ValidationError

from phasegate.gates.vocabulary.errors import InputError

Db = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL (default: PHASEGATE_DATABASE_URL or a SQLite file under PHASEGATE_HOME).",
        show_default=False,
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
ActFor = Annotated[
    str | None,
    typer.Option(
        "--as",
        metavar="PERSON",
        help="Act for PERSON (a pmo_admin only; audited as the admin acting for them). "
        "Default: the person mapped to your OS login.",
        show_default=False,
    ),
]

# Options and arguments a command has in both trees, the local one and the one through the server
# (flows/cli/remote): declared once here, so the two stay the same command with the same options and help.
RoundArg = Annotated[str, typer.Argument(metavar="ROUND")]
IdArg = Annotated[str, typer.Argument(metavar="ID")]
FileArg = Annotated[Path, typer.Argument(metavar="FILE", help="CSV or XLSX")]
Reason = Annotated[str, typer.Option("--reason", help="Why (kept in the audit log)")]
ValidFrom = Annotated[str, typer.Option("--from", help="YYYY-MM-DD")]
ValidTo = Annotated[str, typer.Option("--to", help="YYYY-MM-DD")]
TemplateScope = Annotated[str | None, typer.Option("--template", help="Only this template's gates")]
GateScope = Annotated[str | None, typer.Option("--gate", help="Only this gate")]
DelegationPerson = Annotated[str | None, typer.Option("--person", help="Delegations from or to this person")]
SeatFrom = Annotated[str, typer.Option("--from", help="The approver whose seat moves")]
SeatTo = Annotated[str, typer.Option("--to", help="Who takes the seat")]
Missed = Annotated[bool, typer.Option("--missed", help="Record the condition as missed")]
Lessons = Annotated[str, typer.Option("--lessons", help="Lessons learned (经验教训)")]
NewName = Annotated[str | None, typer.Option("--name")]
NewSponsor = Annotated[str | None, typer.Option("--sponsor")]
NewManager = Annotated[str | None, typer.Option("--manager")]
NewBudget = Annotated[str | None, typer.Option("--budget", help="New approved budget, e.g. 275000")]
MilestoneName = Annotated[str, typer.Option("--name")]
Due = Annotated[str, typer.Option("--due", help="YYYY-MM-DD")]
DoneOn = Annotated[str | None, typer.Option("--done", help="YYYY-MM-DD when already done")]
DoneDay = Annotated[str | None, typer.Option("--on", help="YYYY-MM-DD (default: today)")]
ROLES_HELP = "Organisation role: pmo_admin, gatekeeper, manager or viewer (repeatable)"
PersonName = Annotated[str | None, typer.Option("--name")]
PersonEmail = Annotated[str | None, typer.Option("--email")]
PersonLocale = Annotated[str | None, typer.Option("--locale", help="en or zh-CN")]
PersonNotify = Annotated[
    list[str] | None, typer.Option("--notify", help="Apprise URL (repeatable; replaces the targets)")
]
PersonLogin = Annotated[str | None, typer.Option("--login", help="Map this OS login to the person")]
NoLogin = Annotated[bool, typer.Option("--no-login", help="Remove the person's OS login")]
PersonRoles = Annotated[list[str] | None, typer.Option("--role", help=ROLES_HELP + "; replaces the roles")]
Enable = Annotated[bool, typer.Option("--enable", help="Re-enable a disabled person")]

# project create, actuals add, baseline set, risk add: the same in both trees
TemplateRef = Annotated[str, typer.Option("--template", metavar="ID[@VERSION]")]
ProjectName = Annotated[str, typer.Option("--name")]
Sponsor = Annotated[str, typer.Option("--sponsor")]
Manager = Annotated[str, typer.Option("--manager")]
Budget = Annotated[str, typer.Option("--budget", help="Approved budget, e.g. 250000 or 250000.00")]
Currency = Annotated[str, typer.Option("--currency")]
CostAmount = Annotated[str | None, typer.Argument(help="Cost spent now (added to the cost ledger)")]
Note = Annotated[str, typer.Option("--note")]
AsOf = Annotated[str | None, typer.Option("--as-of", help="Status date of an EVM report (YYYY-MM-DD)")]
Ev = Annotated[str | None, typer.Option("--ev", help="Earned value to date")]
Ac = Annotated[str | None, typer.Option("--ac", help="Actual cost to date")]
Etc = Annotated[str | None, typer.Option("--etc", help="Bottom-up estimate to complete")]
Bac = Annotated[str, typer.Option("--bac", help="Budget at completion")]
Contingency = Annotated[str | None, typer.Option("--contingency", help="Contingency reserve")]
ContingencyUsed = Annotated[str | None, typer.Option("--contingency-used")]
Plan = Annotated[Path | None, typer.Option("--plan", help="CSV/XLSX: project, period_end, planned_value")]
StageBudgets = Annotated[list[str] | None, typer.Option("--stage-budget", help="STAGE=AMOUNT (repeatable)")]
RiskTitle = Annotated[str, typer.Option("--title")]
Probability = Annotated[int, typer.Option("--probability", help="1..5 on the default scale")]
Impact = Annotated[int, typer.Option("--impact", help="1..5 on the default scale")]
RiskOwner = Annotated[str | None, typer.Option("--owner")]
Mitigation = Annotated[str, typer.Option("--mitigation")]
Category = Annotated[str, typer.Option("--category")]
RiskStatus = Annotated[str, typer.Option("--status", help="open or closed")]
Pv = Annotated[str | None, typer.Option("--pv", help="Planned value to date (default: from the baseline plan)")]
RiskResponse = Annotated[
    str | None,
    typer.Option("--response", help="avoid, mitigate, transfer, accept, escalate, exploit, enhance, share"),
]


def sub_app(help_text: str) -> typer.Typer:
    return typer.Typer(no_args_is_help=True, help=help_text)


def runtime_for(db: str | None) -> Any:
    from phasegate.flows.runtime import runtime

    return runtime(db)


def os_login() -> str:
    """The login of the OS account running this process.

    Why not ``getpass.getuser()`` alone: it reads the ``USER`` and ``LOGNAME`` variables first, and anyone can
    set those to a colleague's name. The effective uid is what the operating system vouches for; the
    environment is consulted only where there is no password database.
    """
    import os

    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):
        import getpass

        return getpass.getuser()


def acting(rt: Any, as_person: str | None) -> Any:
    """The Actor of this call: the person mapped to the OS login, or whom a pmo_admin acts for with ``--as``.

    A refusal (unmapped login, ``--as`` by a non-admin, a disabled person) is audited and exits 2.
    """
    from phasegate.usecases.people import login_actor

    return login_actor(os_login(), as_person=as_person, uow=rt.uow, reader=rt.reader, now=now())


def now() -> Any:
    from phasegate.flows.runtime import utc_now

    return utc_now()


def emit(data: Any) -> None:
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def invalid(err: ValidationError, names: dict[str, str]) -> NoReturn:
    first = err.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "input"
    label = names.get(field, field)
    given = first.get("input")
    shown = f" (got {given!r})" if isinstance(given, (str, int, float)) else ""
    raise InputError(f"{label}: {first['msg']}{shown}")


def command(model: type[Any], names: dict[str, str], **values: Any) -> Any:
    try:
        return model(**values)
    except ValidationError as err:
        invalid(err, names)


def parse_round_id(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise InputError(
            f"ROUND: {value!r} is not a round id (a UUID such as shown by 'phasegate project show')"
        ) from None


def split_ref(ref: str) -> tuple[str, int | None]:
    if "@" not in ref:
        return ref, None
    name, _, version = ref.partition("@")
    if not version.isdigit():
        raise InputError(f"template reference {ref!r}: the version after '@' must be a whole number, e.g. it-pmo@1")
    return name, int(version)


def parse_date(value: str, option: str) -> Any:
    from datetime import date

    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{option}: {value!r} is not a date; use YYYY-MM-DD") from None


def parse_money(value: str | None, option: str) -> Decimal | None:
    from phasegate.gates.vocabulary.commands import RecordCost

    if value is None:
        return None
    cmd = command(RecordCost, {"amount": option}, project_key="-", amount=value)
    return Decimal(cmd.amount)
