"""CLI: lessons learned (经验教训): file, edit, list, search (Chinese or English), show, mark applied, and the
lessons killed projects still owe."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from phasegate.flows.cli.common import (
    ActFor,
    Db,
    Json,
    acting,
    command,
    emit,
    now,
    parse_round_id,
    runtime_for,
    sub_app,
)
from phasegate.gates.vocabulary.errors import InputError

app = sub_app("Lessons learned (经验教训): add, edit, list, search, show, applied, due.")

CATEGORIES = "scope, schedule, cost, quality, risk, resources, stakeholders, procurement, technical, governance, other"
NAMES = {
    "project_key": "PROJECT",
    "category": "--category",
    "tags": "--tags",
    "what_happened": "--what",
    "repeat": "--repeat",
    "avoid": "--avoid",
    "gate_id": "--gate",
    "round_id": "--round",
}
Category = Annotated[str | None, typer.Option("--category", help=CATEGORIES)]
Tags = Annotated[str | None, typer.Option("--tags", help="Comma-separated tags, e.g. vendor,budget")]
Repeat = Annotated[str | None, typer.Option("--repeat", help="What to do again")]
Avoid = Annotated[str | None, typer.Option("--avoid", help="What not to do again")]
Project = Annotated[str, typer.Argument(metavar="PROJECT")]
What = Annotated[str, typer.Option("--what", help="What happened")]
NewWhat = Annotated[str | None, typer.Option("--what", help="What happened")]
Gate = Annotated[str | None, typer.Option("--gate", help="The gate it was learned at")]
TaughtBy = Annotated[
    str | None, typer.Option("--round", metavar="ROUND", help="The approval round whose decision taught it")
]
LessonRef = Annotated[str, typer.Argument(metavar="ID")]
AppliedIn = Annotated[str, typer.Option("--round", metavar="ROUND", help="The approval round you decide in")]
Owner = Annotated[str | None, typer.Option("--owner", help="Only this manager's")]


def lesson_number(value: str) -> int:
    text = value.removeprefix("#")
    if not text.isdigit():
        raise InputError(f"ID: {value!r} is not a lesson number (see 'phasegate lesson list')")
    return int(text)


def line_of(lesson: Any) -> str:
    where = lesson.project_key + (f"/{lesson.gate_id}" if lesson.gate_id else "")
    tags = f" [{', '.join(lesson.tags)}]" if lesson.tags else ""
    return f"#{lesson.id:<4} {where:<24} {lesson.category.value:<12} {lesson.what_happened}{tags}"


def draft_of(values: dict[str, Any], round_ref: str | None) -> Any:
    """The lesson as typed (``LessonDraft``, validated here, so a mistake reads the same locally and remotely)."""
    from phasegate.gates.vocabulary.lessons import LessonDraft

    values = {k: v for k, v in values.items() if v is not None and (v or k == "gate_id")}
    if round_ref is not None:
        values["round_id"] = parse_round_id(round_ref)
    return command(LessonDraft, NAMES, **values)


def edit_of(values: dict[str, Any]) -> Any:
    from phasegate.gates.vocabulary.lessons import LessonEdit

    return command(LessonEdit, NAMES, **{k: v for k, v in values.items() if v is not None})


def category_of(category: str | None) -> Any:
    from phasegate.gates.vocabulary.enums import LessonCategory

    if category is None:
        return None
    try:
        return LessonCategory(category)
    except ValueError:
        raise InputError(f"--category: {category!r} is not a category; allowed: {CATEGORIES}") from None


@app.command("add")
def lesson_add(
    project: Project,
    what: What,
    category: Category = None,
    tags: Tags = None,
    repeat: Repeat = None,
    avoid: Avoid = None,
    gate: Gate = None,
    round_ref: TaughtBy = None,
    by: ActFor = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """File a lesson learned (the project's manager or sponsor, a gatekeeper or a pmo_admin)."""
    from phasegate.usecases import services

    values: dict[str, Any] = {"project_key": project, "what_happened": what, "gate_id": gate}
    values |= {"category": category, "tags": tags, "repeat": repeat, "avoid": avoid}
    draft = draft_of(values, round_ref)
    rt = runtime_for(db)
    lesson = services.add_lesson(draft, actor=acting(rt, by), uow=rt.uow, now=now())
    if as_json:
        emit(lesson.model_dump(mode="json"))
        return
    typer.echo(f"lesson #{lesson.id} filed for {lesson.project_key}")


@app.command("edit")
def lesson_edit(
    lesson_ref: LessonRef,
    what: NewWhat = None,
    category: Category = None,
    tags: Tags = None,
    repeat: Repeat = None,
    avoid: Avoid = None,
    by: ActFor = None,
    db: Db = None,
) -> None:
    """Rewrite a lesson (its author or a pmo_admin); the audit keeps the text before and after."""
    from phasegate.usecases import services

    edit = edit_of({"what_happened": what, "category": category, "tags": tags, "repeat": repeat, "avoid": avoid})
    rt = runtime_for(db)
    lesson = services.edit_lesson(lesson_number(lesson_ref), edit, actor=acting(rt, by), uow=rt.uow, now=now())
    typer.echo(f"lesson #{lesson.id} edited")


@app.command("list")
def lesson_list(
    project: Annotated[str | None, typer.Option("--project")] = None,
    template: Annotated[str | None, typer.Option("--template")] = None,
    category: Category = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Lessons learned, oldest first, filtered by project, template or category."""
    from phasegate.usecases import services

    chosen = category_of(category)
    found = services.list_lessons(
        uow=runtime_for(db).reader, project_key=project, template_id=template, category=chosen
    )
    if as_json:
        emit([lesson.model_dump(mode="json") for lesson in found])
        return
    for lesson in found:
        typer.echo(line_of(lesson))


@app.command("search")
def lesson_search(
    query: Annotated[list[str], typer.Argument(metavar="WORDS...", help="Chinese or English; all must match")],
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Full-text search of lessons (trigrams: works for Chinese, which has no spaces, and English alike)."""
    from phasegate.usecases import services

    found = services.search_lessons(" ".join(query), uow=runtime_for(db).reader)
    if as_json:
        emit([lesson.model_dump(mode="json") for lesson in found])
        return
    if not found:
        typer.echo("no lesson matches")
    for lesson in found:
        typer.echo(line_of(lesson))


@app.command("show")
def lesson_show(lesson_ref: LessonRef, db: Db = None, as_json: Json = False) -> None:
    """One lesson in full, with every review that showed it and every gatekeeper who applied it."""
    from phasegate.usecases import services

    view = services.show_lesson(lesson_number(lesson_ref), uow=runtime_for(db).reader)
    if as_json:
        emit(view.model_dump(mode="json"))
        return
    for line in show_lines(view):
        typer.echo(line)


def show_lines(view: Any) -> list[str]:
    """A lesson in full with its uses, as ``lesson show`` prints it (locally and through a server)."""
    lesson = view.lesson
    lines = [line_of(lesson)]
    for label, text in (("what happened", lesson.what_happened), ("repeat", lesson.repeat), ("avoid", lesson.avoid)):
        if text:
            lines.append(f"  {label}: {text}")
    lines.append(f"  by {lesson.author_id} at {lesson.created_at:%Y-%m-%d %H:%M} UTC")
    for use in view.uses:
        who = "" if use.kind.value == "shown" else f" by {use.person_id}"
        lines.append(f"  {use.kind.value}{who} at {use.project_key}/{use.gate_id} {use.at:%Y-%m-%d}")
    return lines


@app.command("applied")
def lesson_applied(
    lesson_ref: LessonRef,
    round_ref: AppliedIn,
    by: ActFor = None,
    db: Db = None,
) -> None:
    """Record that a lesson shaped your decision in an approval round (its gatekeepers)."""
    from phasegate.usecases import services

    rt = runtime_for(db)
    lesson_id = lesson_number(lesson_ref)
    added = services.mark_applied(lesson_id, parse_round_id(round_ref), actor=acting(rt, by), uow=rt.uow, now=now())
    typer.echo(f"lesson #{lesson_id} {'recorded as applied' if added else 'was already recorded as applied'}")


@app.command("due")
def lesson_due(
    owner: Owner = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Killed projects whose lessons learned are still due (each closes once one is filed)."""
    from phasegate.usecases import services

    found = services.lessons_due(uow=runtime_for(db).reader, owner_id=owner)
    if as_json:
        emit([due.model_dump(mode="json") for due in found])
        return
    for due in found:
        typer.echo(due_line(due))


def due_line(due: Any) -> str:
    return f"{due.project_key:<16} killed at {due.gate_id:<12} owner {due.owner_id:<10} since {due.opened_at:%Y-%m-%d}"
