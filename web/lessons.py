"""Editing a lesson learned from the web: the form the lessons page links to, for its author or a PMO admin.

Why a page of its own and one use case: the edit is ``usecases.lessons.edit_lesson`` as from the CLI and the API
(who may edit, the audit with before and after, refusals audited), so the page only proves who acts (the sign-in)
and that the form came from this browser (the CSRF token, scoped to the lesson).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from phasegate.flows.runtime import utc_now
from phasegate.gates.vocabulary.enums import LessonCategory
from phasegate.gates.vocabulary.errors import InputError
from phasegate.gates.vocabulary.lessons import LessonEdit
from phasegate.models.keys import secret_key
from phasegate.usecases import services
from phasegate.web import csrf
from phasegate.web.pages import message_page, render, runtime_of
from phasegate.web.refusals import audit_refusal
from phasegate.web.reports import acting_reader, guarded

router = APIRouter(include_in_schema=False)

FIELDS = ("what_happened", "category", "tags", "repeat", "avoid")


def _scope(lesson_id: int) -> str:
    return f"lesson:{lesson_id}"


@router.get("/lessons/{lesson_id}/edit", response_class=HTMLResponse)
async def edit_form(request: Request, lesson_id: int) -> Response:
    rt = runtime_of(request)
    view = await guarded(request, lambda: services.show_lesson(lesson_id, uow=rt.reader))
    if isinstance(view, HTMLResponse):
        return view
    token, cookie = csrf.issue(request, secret_key(rt.settings), _scope(lesson_id))
    response = render(
        request,
        "lesson_edit.html",
        lesson=view.lesson,
        categories=[c.value for c in LessonCategory],
        csrf_field=csrf.FIELD,
        csrf_token=token,
    )
    csrf.remember(response, request, cookie)
    return response


@router.post("/lessons/{lesson_id}/edit", response_class=HTMLResponse)
async def edit_submit(request: Request, lesson_id: int) -> Response:
    rt = runtime_of(request)
    form = await request.form()
    now = utc_now()
    try:
        csrf.verify(request, secret_key(rt.settings), _scope(lesson_id), str(form.get(csrf.FIELD) or "") or None)
    except csrf.CsrfError:
        payload = {"code": csrf.CsrfError.code, "form": _scope(lesson_id)}
        await run_in_threadpool(
            audit_refusal, request, rt.uow, action=csrf.REFUSED, entity=f"lesson:{lesson_id}", payload=payload, now=now
        )
        return message_page(request, status=403, title="forbidden_title", body="csrf_body")
    values = {name: str(form.get(name) or "").strip() for name in FIELDS}

    def edit() -> object:
        try:
            change = LessonEdit.model_validate({k: v for k, v in values.items() if v or k in ("repeat", "avoid")})
        except ValidationError as error:
            first = error.errors()[0]
            raise InputError(f"{'.'.join(str(p) for p in first['loc']) or 'form'}: {first['msg']}") from None
        return services.edit_lesson(lesson_id, change, actor=acting_reader(request), uow=rt.uow, now=now)

    done = await guarded(request, edit)
    if isinstance(done, HTMLResponse):
        return done
    return RedirectResponse(f"/lessons#lesson-{lesson_id}", status_code=303)
