"""The strategy pages: ``/prioritisation`` (the best portfolio within a budget) and ``/maturity`` (the maturity
score of a quarter with its trend).

Signed-in users only (``web.session.RequireSignIn`` guards every path); the signed-in person is the actor of the
use cases, which check ``read`` like every door. Bad parameters answer 400 naming the parameter, refusals 403;
nothing here writes.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, Response

from phasegate.flows.runtime import utc_now
from phasegate.gates.maturity import LEVEL_NAMES, LEVEL_NAMES_ZH
from phasegate.gates.vocabulary.errors import InputError
from phasegate.usecases import services
from phasegate.web.pages import render, runtime_of
from phasegate.web.reports import acting_reader, guarded

router = APIRouter(include_in_schema=False)

CAPACITY_CHOICES: dict[str, bool | None] = {"": None, "true": True, "false": False}
"""The page's capacity choice: empty constrains whenever a demand plan is recorded (the default)."""


@router.get("/prioritisation", response_class=HTMLResponse)
async def prioritisation_page(request: Request) -> Response:
    budget = (request.query_params.get("budget") or "").strip()
    capacity = (request.query_params.get("with_capacity") or "").strip().lower()
    rt = runtime_of(request)

    def build() -> Any:
        if capacity not in CAPACITY_CHOICES:
            raise InputError(f"with_capacity: {capacity!r}; allowed: true, false, or empty (when a plan is recorded)")
        if not budget:
            acting_reader(request)  # a refused reader is refused here too, before any figure is shown
            return None
        return services.prioritise_portfolio(
            budget=budget,
            actor=acting_reader(request),
            uow=rt.uow,
            now=utc_now(),
            reader=rt.reader,
            with_capacity=CAPACITY_CHOICES[capacity],
        )

    built = await guarded(request, build)
    if isinstance(built, HTMLResponse):
        return built
    return render(request, "prioritisation.html", proposal=built, budget=budget, with_capacity=capacity)


@router.get("/maturity", response_class=HTMLResponse)
async def maturity_page(request: Request) -> Response:
    quarter = (request.query_params.get("quarter") or "").strip() or None
    rt = runtime_of(request)

    def build() -> Any:
        return services.maturity_report(
            actor=acting_reader(request), uow=rt.uow, now=utc_now(), quarter=quarter, reader=rt.reader
        )

    built = await guarded(request, build)
    if isinstance(built, HTMLResponse):
        return built
    return render(request, "maturity.html", report=built, level_names=LEVEL_NAMES, level_names_zh=LEVEL_NAMES_ZH)
