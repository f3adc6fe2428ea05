"""Server-rendered pages: the portfolio dashboard, a project, and the approval link (GET shows, POST votes).

Routes decide status codes, cookies and templates; what a page contains comes from ``web.views`` and what
an approval link may do from ``web.approval``. Blocking work (SQL, the vote) runs in the thread pool.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, BackgroundTasks, Request
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from phasegate.flows.runtime import Runtime, utc_now
from phasegate.gates.vocabulary.errors import (
    ConflictError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    PhasegateError,
)
from phasegate.gates.vocabulary.identity import AuthMethod
from phasegate.models.db import reader_engine
from phasegate.models.keys import secret_key
from phasegate.models.one_read import OneRead
from phasegate.usecases import approvals
from phasegate.web import approval, csrf, i18n, page_body, session, store, views

TEMPLATES = Path(__file__).parent / "templates"
STALE_CODES = frozenset({"vote.evidence_changed", "vote.evidence_mismatch"})

router = APIRouter(include_in_schema=False)


def _when(value: object) -> str:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else str(value)


def _age(hours: int, t: Mapping[str, str]) -> str:
    return f"{hours // 24}{t['days']} {hours % 24}{t['hours']}" if hours >= 24 else f"{hours}{t['hours']}"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.globals["age"] = _age
    return env


ENV = _environment()


def runtime_of(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def _secret(request: Request) -> str:
    return secret_key(runtime_of(request).settings)


def render(
    request: Request,
    name: str,
    *,
    status: int = 200,
    person_locale: str | None = None,
    kept: page_body.Body | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render ``name`` in the request's language; a ``?lang=`` switch is remembered in a cookie. ``kept``: the
    page's body as kept (``web.page_body``), put where ``name`` writes ``{{ body }}``."""
    locale = i18n.pick_locale(request, person_locale)
    me = session.signed_in(request)
    signout_token, cookie = (None, None) if me is None else csrf.issue(request, _secret(request), csrf.SIGNOUT)
    if kept is not None:
        context["body"] = page_body.SLOT
    html = ENV.get_template(name).render(
        t=i18n.words(locale),
        locale=locale,
        path=request.url.path,
        zh=locale == "zh-CN",
        explain=lambda code: i18n.explain(code, locale),
        me=me,
        signout_token=signout_token,
        signout_field=csrf.SIGNOUT_FIELD,
        **context,
    )
    response = HTMLResponse(html if kept is None else page_body.around(html, kept), status_code=status)
    csrf.remember(response, request, cookie)
    chosen = i18n.switched(request)
    if chosen is not None:
        response.set_cookie(i18n.COOKIE, chosen, max_age=365 * 24 * 3600, samesite="lax", path="/")
    return response


def message_page(request: Request, *, status: int, title: str, body: str, **extra: Any) -> HTMLResponse:
    """A page that only says something (refusals, errors): ``title`` and ``body`` are keys of the page strings."""
    return render(request, "message.html", status=status, title_key=title, body_key=body, detail=None, **extra)


def refusal_page(request: Request, status: int, title: str, err: PhasegateError) -> HTMLResponse:
    """A use case's refusal: its meaning in the reader's language (``web.i18n.explain``) and its exact line."""
    return render(
        request, "message.html", status=status, title_key=title, body_key=None, detail=err.message, code=err.code
    )


# ------------------------------------------------------------------------------------------------ dashboard
@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request) -> HTMLResponse:
    """The portfolio at a glance, with the portfolio table filtered and sorted by the query (``web.reports``).

    The body is rendered once per committed state, day, language, query and ages of the pending rounds (all it
    shows follows from them) and served as kept (``web.page_body``); the reader is checked on every request."""
    from phasegate.notifications.portfolio.labels import word
    from phasegate.web.reports import dashboard_table

    rt = runtime_of(request)
    now = utc_now()
    version = rt.change_stamp()  # before any read: what is kept is never older than its key
    try:
        query, table = dashboard_table(request, version=version)
    except InputError as err:
        return render(
            request, "message.html", status=400, title_key="bad_request_title", body_key=None, detail=str(err)
        )
    except PermissionDeniedError as err:
        return render(request, "message.html", status=403, title_key="forbidden_title", body_key=None, detail=str(err))
    locale = i18n.pick_locale(request)
    p = views.portfolio(rt, now, version=version)
    clock = tuple((row.age_hours, row.overdue) for row in p.pending)  # what else the body takes from the clock

    def shared() -> dict[str, Any]:
        return {
            "t": i18n.words(locale),
            "locale": locale,
            "zh": locale == "zh-CN",
            "rw": lambda key: word(locale, key),
            "p": p,
        } | table()

    key = (now.date(), locale, query, clock)
    body = page_body.body(rt, "_dashboard_body.html", shared, key=key, version=version)
    return render(request, "dashboard.html", kept=body)


@router.get("/projects/{key}", response_class=HTMLResponse)
def project(request: Request, key: str) -> HTMLResponse:
    rt = runtime_of(request)
    now = utc_now()
    return render(request, "project.html", page=views.project_page(rt, key, now), now=now)


@router.get("/lessons", response_class=HTMLResponse)
def lessons(request: Request, q: str = "") -> HTMLResponse:
    """Lessons learned, all or those matching ``q`` (Chinese or English), with how often each was shown and applied."""
    rt = runtime_of(request)
    return render(request, "lessons.html", page=views.lessons_page(rt, q[:200]), q=q[:200])


@router.get("/resources", response_class=HTMLResponse)
def resources(request: Request, role: str = "", start: str = "", end: str = "") -> HTMLResponse:
    """Allocation per role and month with over-allocation flagged, and the HOLD queue ranked (value per cost,
    then priority)."""
    rt = runtime_of(request)
    try:
        page = views.resources_page(rt, role=role[:64] or None, first=start[:7] or None, last=end[:7] or None)
    except InputError as err:
        return render(
            request, "message.html", status=400, title_key="bad_request_title", body_key=None, detail=str(err)
        )
    return render(request, "resources.html", page=page, role=role[:64], start=start[:7], end=end[:7])


# ------------------------------------------------------------------------------------------------ approval
def _refused(request: Request, err: approval.LinkRefusedError) -> HTMLResponse:
    body = {
        410: "expired_body",
        404: "forged_body",
    }.get(err.status, "forged_body")
    return message_page(request, status=err.status, title="refused_title", body=body)


@dataclass(frozen=True)
class _Shown:
    """What an approval page shows of the database: the link with its round, whether the link was used, the
    packet and the approver's language (only the link for a stale one: the page just says so)."""

    link: approval.Link
    used: bool = False
    packet: views.Packet | None = None
    person_locale: str | None = None


def _shown(rt: Runtime, link: approval.Link, read: OneRead | None = None) -> _Shown:
    """Read what the page shows; ``read`` (one shared read-only transaction) serves every read when given."""
    if link.stale:
        return _Shown(link)
    reader = read.uow if read is not None else rt.reader
    sessions = read.sessions if read is not None else rt.read_sessions
    used = approval.link_used(rt, link, sessions)
    packet = views.packet(rt, link.current, reader=reader, sessions=sessions)
    with reader() as tx:
        person = tx.people.get_person(link.claim.approver_id)
    return _Shown(link, used, packet, person.locale if person else None)


def _approval_page(
    request: Request,
    rt: Runtime,
    link: approval.Link,
    *,
    status: int = 200,
    error: str | None = None,
    form: Mapping[str, Any] | None = None,
    shown: _Shown | None = None,
) -> HTMLResponse:
    """The packet and the form, from ``shown`` when the caller has read it (else read here)."""
    shown = shown if shown is not None else _shown(rt, link)
    if link.stale or shown.packet is None:
        approval.refuse_stale(rt, link, request=request, now=utc_now())
        return message_page(request, status=409, title="stale_title", body="stale_body")
    packet = shown.packet
    why_not = approval.blocker(link, shown.used)
    token = cookie = None
    if why_not is None:
        token, cookie = csrf.issue(request, approval.secret_of(rt.settings), link.digest)
    response = render(
        request,
        "approve.html",
        status=status,
        person_locale=shown.person_locale,
        pk=packet,
        link=link,
        approver_name=packet.names.get(link.claim.approver_id, link.claim.approver_id),
        why_not=why_not,
        just_voted=request.query_params.get("voted") == "1",
        my_vote=link.my_vote,
        csrf_field=csrf.FIELD,
        csrf_token=token,
        choices=approval.CHOICES,
        condition_rows=approval.CONDITION_ROWS,
        error=error,
        form=form or {},
    )
    csrf.remember(response, request, cookie)
    return response


@router.get("/approve/{token}", response_class=HTMLResponse)
def approval_get(request: Request, token: str) -> HTMLResponse:
    """Show the packet and, when this person may vote now, the form. Changes nothing about the round.

    Everything the page shows of the database is read in one read-only transaction (``models.one_read``), once
    per committed state and link (``Runtime.packets``, keyed by ``Runtime.change_stamp`` read first); the
    signature and expiry are checked, and refusals audited, on every request."""
    rt = runtime_of(request)
    now = utc_now()
    version = rt.change_stamp()  # before any read: what is kept is never older than its key

    def opened() -> _Shown:
        with OneRead(reader_engine(rt.engine)) as read:
            link = approval.open_link(rt, token, method="GET", now=now, request=request, reader=read.uow)
            return _shown(rt, link, read)

    try:
        approval.check_token(rt, token, method="GET", now=now, request=request)
        shown = (
            opened() if version is None else rt.packets.get((version, store.token_hash(token)), opened, version=version)
        )
    except approval.LinkRefusedError as err:
        return _refused(request, err)
    return _approval_page(request, rt, shown.link, shown=shown)


def _form_dict(raw: Any) -> dict[str, Any]:
    keys = ("decision", "reason", "evidence_hash", csrf.FIELD, "password", "one_time_code")
    data: dict[str, Any] = {key: raw.get(key) for key in keys}
    for name in ("text", "owner", "due", "verify"):
        data[f"condition_{name}"] = [str(v) for v in raw.getlist(f"condition_{name}")]
    return data


@router.post("/approve/{token}", response_class=HTMLResponse)
async def approval_post(request: Request, token: str, background: BackgroundTasks) -> Response:
    """Vote once through the same use case as the CLI; a replayed link is refused with 409."""
    rt = runtime_of(request)
    form = _form_dict(await request.form())
    now = utc_now()
    try:
        link = await run_in_threadpool(approval.open_link, rt, token, method="POST", now=now, request=request)
    except approval.LinkRefusedError as err:
        return _refused(request, err)
    try:
        csrf.verify(request, approval.secret_of(rt.settings), link.digest, form.get(csrf.FIELD))
    except csrf.CsrfError:
        await run_in_threadpool(approval.refuse_csrf, rt, link, request=request, now=now)
        return message_page(request, status=403, title="forbidden_title", body="csrf_body")
    if link.stale:
        await run_in_threadpool(approval.refuse_stale, rt, link, request=request, now=now)
        return message_page(request, status=409, title="stale_title", body="stale_body")
    if await run_in_threadpool(approval.link_used, rt, link):
        await run_in_threadpool(
            approval.refuse, rt, code=approval.REPLAYED, method="POST", digest=link.digest, now=now, request=request
        )
        return message_page(request, status=409, title="refused_title", body="replayed_body", vote=link.my_vote)
    try:
        cmd = approval.command(link, form)
        signature = approval.signature_from(form)
        me = session.signed_in(request)  # signed in as the link's approver: the vote records how they signed in
        method = me.method if me is not None and me.person_id == link.claim.approver_id else AuthMethod.APPROVAL_LINK
        await run_in_threadpool(
            approval.cast, rt, link, cmd, defer=background.add_task, signature=signature, method=method
        )
    except InputError as err:
        message = str(err)
        return await run_in_threadpool(lambda: _approval_page(request, rt, link, status=422, error=message, form=form))
    except ConflictError as err:
        if err.code in STALE_CODES:  # the refresh's fresh links go out in the background (see Runtime.vote)
            page = message_page(request, status=409, title="stale_title", body="stale_body")
            page.background = background
            return page
        return refusal_page(request, 409, "conflict_title", err)
    except PermissionDeniedError as err:
        if err.code == approvals.SIGNATURE_REFUSED:  # audited by the use case; the form comes back to retry
            refused = i18n.words(i18n.pick_locale(request))["signature_refused"]
            return await run_in_threadpool(
                lambda: _approval_page(request, rt, link, status=403, error=refused, form=form)
            )
        return refusal_page(request, 403, "forbidden_title", err)
    except NotFoundError as err:
        return refusal_page(request, 404, "not_found_title", err)
    return RedirectResponse(f"/approve/{token}?voted=1", status_code=303, background=background)
