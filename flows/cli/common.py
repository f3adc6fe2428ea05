"""What every command shares: the --db and --json options, the runtime, output and input parsing."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Annotated, Any, NoReturn
from uuid import UUID

import typer
from pydantic import ValidationError

from models.errors import InputError

Db = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL (default: PHASEGATE_DATABASE_URL or a SQLite file under PHASEGATE_HOME).",
        show_default=False,
    ),
]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]


def sub_app(help_text: str) -> typer.Typer:
    return typer.Typer(no_args_is_help=True, help=help_text)


def runtime_for(db: str | None) -> Any:
    from flows.runtime import runtime

    return runtime(db)


def now() -> Any:
    from flows.runtime import utc_now

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
    from models.commands import RecordCost

    if value is None:
        return None
    cmd = command(RecordCost, {"amount": option}, project_key="-", amount=value)
    return Decimal(cmd.amount)
