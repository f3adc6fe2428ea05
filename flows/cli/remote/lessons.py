"""Remote ``lesson`` commands: lessons learned filed, edited, listed, searched and marked applied through the server.

Why the same helpers as the local commands: a lesson is validated on the laptop by the same command types
(``LessonDraft``, ``LessonEdit``), so a mistake reads the same before anything is sent, and what the server
answers is read back into the domain's types and printed by the local command's own lines.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from phasegate.flows.cli.common import ActFor, Db, Json, emit, sub_app
from phasegate.flows.cli.lessons import (
    AppliedIn,
    Avoid,
    Category,
    Gate,
    LessonRef,
    NewWhat,
    Owner,
    Project,
    Repeat,
    Tags,
    TaughtBy,
    What,
    category_of,
    draft_of,
    due_line,
    edit_of,
    lesson_number,
    line_of,
    show_lines,
)
from phasegate.flows.cli.remote.session import refuse_db, server

app = sub_app("Lessons learned (经验教训) through the server: add, edit, list, search, show, applied, due.")


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
    from phasegate.gates.vocabulary.lessons import LessonRecord

    values = {"project_key": project, "what_happened": what, "gate_id": gate}
    draft = draft_of(values | {"category": category, "tags": tags, "repeat": repeat, "avoid": avoid}, round_ref)
    with server(act_as=by) as remote:
        refuse_db(db, remote.login.url)
        lesson = LessonRecord.model_validate(remote.call("POST", "/lessons", body=draft.model_dump(mode="json")))
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
    lesson_id = lesson_number(lesson_ref)
    edit = edit_of({"what_happened": what, "category": category, "tags": tags, "repeat": repeat, "avoid": avoid})
    with server(act_as=by) as remote:
        refuse_db(db, remote.login.url)
        remote.call("PATCH", f"/lessons/{lesson_id}", body=edit.model_dump(mode="json", exclude_none=True))
    typer.echo(f"lesson #{lesson_id} edited")


def _print(found: list[Any], as_json: bool, *, empty: str | None = None) -> None:
    from phasegate.gates.vocabulary.lessons import LessonRecord

    lessons = [LessonRecord.model_validate(item) for item in found]
    if as_json:
        emit([lesson.model_dump(mode="json") for lesson in lessons])
        return
    if not lessons and empty:
        typer.echo(empty)
    for lesson in lessons:
        typer.echo(line_of(lesson))


@app.command("list")
def lesson_list(
    project: Annotated[str | None, typer.Option("--project")] = None,
    template: Annotated[str | None, typer.Option("--template")] = None,
    category: Category = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Lessons learned, oldest first, filtered by project, template or category."""
    chosen = category_of(category)
    with server() as remote:
        refuse_db(db, remote.login.url)
        params = {"project": project, "template": template, "category": chosen.value if chosen else None}
        found = list(remote.pages("/lessons", **{k: v for k, v in params.items() if v is not None}))
    _print(found, as_json)


@app.command("search")
def lesson_search(
    query: Annotated[list[str], typer.Argument(metavar="WORDS...", help="Chinese or English; all must match")],
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Full-text search of lessons (trigrams: works for Chinese, which has no spaces, and English alike)."""
    with server() as remote:
        refuse_db(db, remote.login.url)
        found = list(remote.pages("/lessons", q=" ".join(query)))
    _print(found, as_json, empty="no lesson matches")


@app.command("show")
def lesson_show(lesson_ref: LessonRef, db: Db = None, as_json: Json = False) -> None:
    """One lesson in full, with every review that showed it and every gatekeeper who applied it."""
    from phasegate.usecases.lessons import LessonView

    lesson_id = lesson_number(lesson_ref)
    with server() as remote:
        refuse_db(db, remote.login.url)
        view = LessonView.model_validate(remote.get(f"/lessons/{lesson_id}"))
    if as_json:
        emit(view.model_dump(mode="json"))
        return
    for line in show_lines(view):
        typer.echo(line)


@app.command("applied")
def lesson_applied(
    lesson_ref: LessonRef,
    round_ref: AppliedIn,
    by: ActFor = None,
    db: Db = None,
) -> None:
    """Record that a lesson shaped your decision in an approval round (its gatekeepers)."""
    from phasegate.flows.cli.common import parse_round_id

    lesson_id = lesson_number(lesson_ref)
    round_id = parse_round_id(round_ref)
    with server(act_as=by) as remote:
        refuse_db(db, remote.login.url)
        out = remote.call("POST", f"/lessons/{lesson_id}/applied", body={"round_id": str(round_id)})
    typer.echo(f"lesson #{lesson_id} {'recorded as applied' if out['recorded'] else 'was already recorded as applied'}")


@app.command("due")
def lesson_due(
    owner: Owner = None,
    db: Db = None,
    as_json: Json = False,
) -> None:
    """Killed projects whose lessons learned are still due (each closes once one is filed)."""
    from phasegate.gates.vocabulary.lessons import LessonDueRecord

    with server() as remote:
        refuse_db(db, remote.login.url)
        found = [LessonDueRecord.model_validate(d) for d in remote.get("/lessons/due", owner=owner)]
    if as_json:
        emit([due.model_dump(mode="json") for due in found])
        return
    for due in found:
        typer.echo(due_line(due))
