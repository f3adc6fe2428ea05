"""The reports pages: ``/reports`` (the portfolio report's charts and tables, gate analytics) and downloads.

Signed-in users only (``web.session.RequireSignIn`` guards every path here); the signed-in person is the
actor of the report use cases, which check ``read`` like every door. Bad parameters answer 400 naming the
parameter, refusals 403; nothing here writes.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, Response

from phasegate.flows.runtime import utc_now
from phasegate.gates.portfolio import PortfolioReport, parse_period, week_of
from phasegate.gates.vocabulary.errors import InputError, PermissionDeniedError
from phasegate.gates.vocabulary.identity import Actor
from phasegate.notifications.portfolio.document import render as render_report
from phasegate.notifications.portfolio.labels import word
from phasegate.notifications.portfolio.tables import (
    csv_text,
    decisions_table,
    exceptions_table,
    portfolio_table,
    risks_table,
)
from phasegate.usecases import services
from phasegate.usecases.people import person_actor
from phasegate.web import i18n, session
from phasegate.web.pages import render, runtime_of
from phasegate.web.portfolio_table import SHOWN, parse_query, select_rows

router = APIRouter(include_in_schema=False)
T = TypeVar("T")
DOWNLOADS = ("pdf", "html", "xlsx")
TABLE_DOWNLOADS = ("csv", "xlsx")


def acting_reader(request: Request) -> Actor:
    """The signed-in person with their current roles (``usecases.people.person_actor`` refuses a disabled one)."""
    rt = runtime_of(request)
    me = session.signed_in(request)
    if me is None:  # the middleware lets no one without a sign-in through; this keeps the types honest
        raise PermissionDeniedError("sign in to read reports")
    return person_actor(me.person_id, method=me.method, uow=rt.uow, now=utc_now(), reader=rt.reader)


def _report(request: Request, period: str | None) -> PortfolioReport:
    rt = runtime_of(request)
    now = utc_now()
    chosen = parse_period(period, field="period").label if period else week_of(now.date()).label  # names ?period=
    return services.portfolio_report(period=chosen, actor=acting_reader(request), uow=rt.uow, now=now, reader=rt.reader)


def _problem(request: Request, err: Exception) -> HTMLResponse:
    status = 403 if isinstance(err, PermissionDeniedError) else 400
    title = "forbidden_title" if status == 403 else "bad_request_title"
    return render(request, "message.html", status=status, title_key=title, body_key=None, detail=str(err))


async def guarded(request: Request, work: Callable[[], T]) -> T | HTMLResponse:
    try:
        return await run_in_threadpool(work)
    except (InputError, PermissionDeniedError) as err:
        return _problem(request, err)


@router.get("/reports", response_class=HTMLResponse)
async def reports_page(request: Request) -> Response:
    period = request.query_params.get("period") or None
    locale = i18n.pick_locale(request)
    rt = runtime_of(request)

    def build() -> dict[str, Any]:
        from phasegate.notifications.portfolio.charts import render_charts
        from phasegate.notifications.portfolio.document import report_font
        from phasegate.notifications.portfolio.html import chart_markup

        report = _report(request, period)
        gates = services.gate_report(actor=acting_reader(request), uow=rt.uow, now=utc_now(), reader=rt.reader)
        charts = render_charts(report, locale, font=report_font(locale, rt.settings.report_font))
        return {
            "report": report,
            "charts": [(c.name, c.title, chart_markup(c)) for c in charts],
            "portfolio": portfolio_table(report, locale),
            "decisions": decisions_table(report, locale),
            "exceptions": exceptions_table(report, locale),
            "risks": risks_table(report, locale),
            "gates": gates,
        }

    built = await guarded(request, build)
    if isinstance(built, HTMLResponse):
        return built
    return render(request, "reports.html", downloads=DOWNLOADS, rw=lambda key: word(locale, key), **built)


@router.get("/reports/portfolio.{fmt}")
async def report_download(request: Request, fmt: str) -> Response:
    """The whole report of ``?period=`` (default this week) as pdf, html or xlsx, in the page's language."""
    if fmt not in DOWNLOADS:
        return _problem(
            request, InputError(f"format: {fmt!r} is not a report format; use one of: {', '.join(DOWNLOADS)}")
        )
    locale = i18n.pick_locale(request)
    rt = runtime_of(request)

    def build() -> Any:
        return render_report(
            _report(request, request.query_params.get("period") or None),
            fmt,
            locale,
            font_setting=rt.settings.report_font,
        )

    rendered = await guarded(request, build)
    if isinstance(rendered, HTMLResponse):
        return rendered
    return Response(
        rendered.content,
        media_type=rendered.media_type,
        headers={"Content-Disposition": f'attachment; filename="{rendered.file_name}"'},
    )


@router.get("/reports/table.{fmt}")
async def table_download(request: Request, fmt: str) -> Response:
    """The dashboard's portfolio table, filtered and sorted as on the page, as CSV or XLSX (every matching row)."""
    if fmt not in TABLE_DOWNLOADS:
        return _problem(request, InputError(f"format: {fmt!r}; use one of: {', '.join(TABLE_DOWNLOADS)}"))
    locale = i18n.pick_locale(request)

    def build() -> tuple[bytes, str]:
        query = parse_query(request.query_params)
        report = _report(request, None)
        selected = dataclasses.replace(report, rows=tuple(select_rows(report.rows, query)))
        table = portfolio_table(selected, locale)
        if fmt == "csv":
            return csv_text(table).encode("utf-8"), "text/csv; charset=utf-8"
        from phasegate.notifications.portfolio.xlsx import table_xlsx

        return table_xlsx(table, "portfolio"), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

    built = await guarded(request, build)
    if isinstance(built, HTMLResponse):
        return built
    content, media = built
    name = f"portfolio-{utc_now().date().isoformat()}.{fmt}"
    return Response(content, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


def dashboard_table(request: Request) -> dict[str, Any]:
    """What the dashboard's portfolio table shows (called in the thread pool by the dashboard route)."""
    query = parse_query(request.query_params)
    report = _report(request, None)
    rows = select_rows(report.rows, query)
    monitor = Counter(r.rag_overall for r in report.rows if r.status == "active")
    return {
        "table_rows": rows[:SHOWN],
        "table_total": len(rows),
        "table_query": query,
        "table_shown": SHOWN,
        "monitor_bands": monitor,
    }
