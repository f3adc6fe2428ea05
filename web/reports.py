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
from markupsafe import Markup
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
from phasegate.web import i18n, page_body, session
from phasegate.web.pages import render, runtime_of
from phasegate.web.portfolio_table import SHOWN, TableQuery, parse_query, select_rows

router = APIRouter(include_in_schema=False)
T = TypeVar("T")
DOWNLOADS = ("pdf", "html", "xlsx")
TABLE_DOWNLOADS = ("csv", "xlsx")


def acting_reader(request: Request, *, version: str | None = None) -> Actor:
    """The signed-in person with their current roles (``usecases.people.person_actor`` refuses a disabled one).

    With a ``version`` (``Runtime.change_stamp``, read before this call) the actor is kept per committed state,
    as the API keeps a token's (``web.auth``): disabling a person or changing their roles moves the stamp, so the
    next request looks them up again; a refusal is audited and never kept."""
    rt = runtime_of(request)
    me = session.signed_in(request)
    if me is None:  # the middleware lets no one without a sign-in through; this keeps the types honest
        raise PermissionDeniedError("sign in to read reports")

    def lookup() -> Actor:
        return person_actor(me.person_id, method=me.method, uow=rt.uow, now=utc_now(), reader=rt.reader)

    if version is None:
        return lookup()
    return rt.callers.get(("page_actor", me.person_id, me.method), lookup, version=version)


def _report(
    request: Request,
    period: str | None,
    *,
    version: str | None,
    with_maturity: bool = True,
    actor: Actor | None = None,
) -> PortfolioReport:
    """The report of ``period`` (default this week); with a ``version`` (``Runtime.change_stamp``, read before),
    the one this process computed from the same committed state today, if any (``usecases.memo``). ``actor``:
    the reader when the caller has looked them up already (else ``acting_reader``)."""
    rt = runtime_of(request)
    now = utc_now()
    chosen = parse_period(period, field="period").label if period else week_of(now.date()).label  # names ?period=
    return services.portfolio_report(
        period=chosen,
        actor=actor if actor is not None else acting_reader(request, version=version),
        uow=rt.uow,
        now=now,
        reader=rt.reader,
        memo=rt.memo,
        version=version,
        with_maturity=with_maturity,
    )


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
    """Charts, the first ``SHOWN`` portfolio rows (the downloads carry them all), the period's tables and gate
    analytics. The page's body follows from one committed state, day, period and language: it is rendered once
    per process and served as kept (``web.page_body``); who reads is checked on every request."""
    period = request.query_params.get("period") or None
    locale = i18n.pick_locale(request)
    rt = runtime_of(request)

    def build() -> page_body.Body:
        version = rt.change_stamp()  # before any read: what is kept is never older than its key
        actor = acting_reader(request, version=version)
        report = _report(request, period, version=version, actor=actor)
        gates = services.gate_report(
            actor=actor, uow=rt.uow, now=utc_now(), reader=rt.reader, memo=rt.memo, version=version
        )
        font = rt.settings.report_font

        def shared() -> dict[str, Any]:
            from phasegate.notifications.portfolio.charts import render_charts
            from phasegate.notifications.portfolio.document import report_font
            from phasegate.notifications.portfolio.html import chart_markup
            from phasegate.web.pages import ENV

            charts = render_charts(report, locale, font=report_font(locale, font))
            first = dataclasses.replace(report, rows=report.rows[:SHOWN])
            words = i18n.words(locale)

            def table(name: str, data: Any) -> Markup:
                html = ENV.get_template("_report_table.html").render(id=f"report-{name}", data=data, t=words)
                return Markup(html)

            return {
                "t": words,
                "locale": locale,
                "zh": locale == "zh-CN",
                "rw": lambda key: word(locale, key),
                "downloads": DOWNLOADS,
                "report": report,
                "gates": gates,
                "charts": [(c.name, c.title, chart_markup(c)) for c in charts],
                "portfolio": table("portfolio", portfolio_table(first, locale)),
                "portfolio_total": len(report.rows),
                "portfolio_shown": min(SHOWN, len(report.rows)),
                "decisions": table("decisions", decisions_table(report, locale)),
                "exceptions": table("exceptions", exceptions_table(report, locale)),
                "risks": table("risks", risks_table(report, locale)),
            }

        key = (utc_now().date(), report.period.label, locale, font)
        return page_body.body(rt, "_reports_body.html", shared, key=key, version=version)

    built = await guarded(request, build)
    if isinstance(built, HTMLResponse):
        return built
    return render(request, "reports.html", kept=built)


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
            _report(request, request.query_params.get("period") or None, version=rt.change_stamp()),
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
    rt = runtime_of(request)

    def build() -> tuple[bytes, str]:
        query = parse_query(request.query_params)
        report = _report(request, None, version=rt.change_stamp(), with_maturity=False)
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


def dashboard_table(request: Request, *, version: str | None) -> tuple[TableQuery, Callable[[], dict[str, Any]]]:
    """The dashboard's table query, once the reader may read the report (``InputError`` for a bad parameter,
    ``PermissionDeniedError`` for a refused reader), and what the table shows, worked out when called: the
    dashboard calls it only when it renders its body (``web.page_body``).

    The rows' HTML is rendered once per committed state, day, query and language (``usecases.memo``): 500 rows
    of bands and links cost more to render than everything else on the page."""
    query = parse_query(request.query_params)
    rt = runtime_of(request)
    locale = i18n.pick_locale(request)
    report = _report(request, None, version=version, with_maturity=False)

    def body() -> tuple[Markup, int]:
        from phasegate.web.pages import ENV

        rows = select_rows(report.rows, query)
        html = ENV.get_template("_portfolio_rows.html").render(
            table_rows=rows[:SHOWN], t=i18n.words(locale), zh=locale == "zh-CN", rw=lambda key: word(locale, key)
        )
        return Markup(html), len(rows)

    def shown() -> dict[str, Any]:
        if version is None:
            table_body, total = body()
        else:
            key = ("dashboard_rows", version, utc_now().date(), report.period.label, query, locale)
            table_body, total = rt.memo.get(key, body, version=version)
        return {
            "table_body": table_body,
            "table_shown_rows": min(total, SHOWN),
            "table_total": total,
            "table_query": query,
            "table_shown": SHOWN,
            "monitor_bands": Counter(r.rag_overall for r in report.rows if r.status == "active"),
        }

    return query, shown
