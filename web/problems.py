"""RFC 9457 problem details for the REST API: every error is JSON a client can branch on, never an HTML page.

Why the conversion lives in a route class and not in app-level exception handlers: the API router is
mounted into an app it does not own (the pages have their own error pages), so the API turns its own
errors into problems before they leave its routes. Every problem carries ``code``, the dotted code of the
``gates.vocabulary.errors`` type that caused it, so clients branch on ``code`` and people read ``detail``.

Mapping: InputError 422 (a body that is not JSON at all: 400), NotFoundError 404, ConflictError 409,
PermissionDeniedError 403, a missing, unknown or revoked token 401; request validation 422. Bad input must
never surface as a 500: a value the database refuses (too long for a column on PostgreSQL, a NUL byte) is a
422 and a constraint it breaks a 409, even when no check above the database caught it first.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from phasegate.gates.vocabulary.errors import (
    ConflictError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
    PhasegateError,
)

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:phasegate:problem:"
"""Problem ``type`` URIs: a URN per error code (stable, and no documentation host is implied)."""

TITLES = {
    400: "Malformed request",
    401: "Authentication required",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    413: "Content too large",
    422: "Invalid input",
    503: "Not available yet",
}


class FieldProblem(BaseModel):
    """One invalid field of a request: where it is (``body.reason``, ``query.limit``) and what is wrong."""

    loc: str
    msg: str


class Problem(BaseModel):
    """An RFC 9457 problem document, plus ``code`` (stable, dotted) and, for invalid input, the fields."""

    model_config = ConfigDict(json_schema_extra={"description": "RFC 9457 problem details."})

    type: str = Field(description="A URI naming the kind of problem: urn:phasegate:problem:CODE.")
    title: str
    status: int = Field(ge=400, le=599)
    detail: str = Field(description="One line for people: names the field and what is allowed.")
    instance: str = Field(description="The request path this problem is about.")
    code: str = Field(description="The dotted error code, e.g. vote.duplicate or project.not_found.")
    errors: list[FieldProblem] | None = None


class ApiProblem(HTTPException):
    """An HTTPException that already knows its problem ``code`` (auth and role checks raise these)."""

    def __init__(self, status: int, detail: str, *, code: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(status_code=status, detail=detail, headers=headers)
        self.code = code


def problem(
    request: Request,
    status: int,
    detail: str,
    *,
    code: str,
    errors: Sequence[FieldProblem] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        type=TYPE_PREFIX + code,
        title=TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        instance=request.url.path,
        code=code,
        errors=list(errors) if errors is not None else None,
    )
    return JSONResponse(
        body.model_dump(mode="json", exclude_none=True),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=dict(headers) if headers else None,
    )


def _loc(parts: Iterable[Any]) -> str:
    return ".".join(str(p) for p in parts) or "request"


def _field_problems(errors: Sequence[Any]) -> list[FieldProblem]:
    return [FieldProblem(loc=_loc(e.get("loc", ())), msg=str(e.get("msg", "invalid"))) for e in errors]


def _validation(request: Request, errors: Sequence[Any]) -> JSONResponse:
    fields = _field_problems(errors)
    if any(e.get("type") == "json_invalid" for e in errors):
        return problem(request, 400, "body: not valid JSON", code="request.malformed", errors=fields)
    first = fields[0] if fields else FieldProblem(loc="request", msg="invalid")
    return problem(request, 422, f"{first.loc}: {first.msg}", code=InputError.code, errors=fields)


async def single_valued_query(request: Request) -> None:
    """Refuse a query parameter given twice (``?person=a&person=b``): every one the API documents is single-valued.

    Why: left alone, FastAPI keeps the last value and answers 200, so a client that meant a list is silently
    given a filter on one element. A 422 naming the parameter is the answer the OpenAPI document promises.
    """
    keys = [key for key, _ in request.query_params.multi_items()]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise RequestValidationError(
            [
                {"loc": ("query", key), "msg": f"given {keys.count(key)} times; give it once", "type": "value_error"}
                for key in repeated
            ]
        )


def to_problem(request: Request, exc: Exception) -> JSONResponse | None:
    """The problem response for an exception the API expects, or None to let it propagate (a real 500)."""
    if isinstance(exc, ApiProblem):
        return problem(request, exc.status_code, str(exc.detail), code=exc.code, headers=exc.headers)
    if isinstance(exc, StarletteHTTPException):  # FastAPI raises Starlette's own for an unreadable body
        return problem(request, exc.status_code, str(exc.detail), code=f"http.{exc.status_code}", headers=exc.headers)
    if isinstance(exc, RequestValidationError):
        return _validation(request, exc.errors())
    if isinstance(exc, ValidationError):  # a command built in a handler refused its values
        return _validation(request, exc.errors(include_url=False))
    if isinstance(exc, PhasegateError):
        status = 422
        if isinstance(exc, NotFoundError):
            status = 404
        elif isinstance(exc, ConflictError):
            status = 409
        elif isinstance(exc, PermissionDeniedError):
            status = 403
        problems = getattr(exc, "problems", None)
        errors = [FieldProblem(loc="template", msg=p) for p in problems] if problems else None
        return problem(request, status, exc.message, code=exc.code, errors=errors)
    if isinstance(exc, DataError):
        reason = str(exc.orig).splitlines()[0] if exc.orig is not None else "value refused"
        return problem(request, 422, f"a value cannot be stored: {reason}", code="input.unstorable")
    if isinstance(exc, IntegrityError):
        return problem(request, 409, "the request conflicts with recorded data; reload and retry", code="conflict")
    return None


def _query_names(dependant: Dependant) -> set[str]:
    """Query parameters an operation declares, its dependencies' included."""
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


class ProblemRoute(APIRoute):
    """Routes whose errors leave as problem documents, whatever app mounts them."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        allowed = sorted(_query_names(self.dependant))

        async def handle(request: Request) -> Response:
            unknown = sorted(set(request.query_params) - set(allowed))
            if unknown:  # a misspelt filter (?stauts=open) must not silently list everything
                return problem(
                    request,
                    422,
                    f"query.{unknown[0]}: unknown parameter; allowed: {', '.join(allowed) or 'none'}",
                    code="input.unknown_parameter",
                    errors=[FieldProblem(loc=f"query.{name}", msg="unknown parameter") for name in unknown],
                )
            try:
                return await handler(request)
            except Exception as exc:
                converted = to_problem(request, exc)
                if converted is None:
                    raise
                return converted

        return handle


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problems an operation may answer with (``responses=`` of a route)."""
    described = {
        400: "The body is not JSON.",
        401: "No bearer token, an unknown or revoked one, or a disabled person's.",
        403: "The person's roles (within the token's scope) or seat do not allow this, or X-Phasegate-Act-As names "
        "someone else; the refusal is audited.",
        404: "A resource named in the path or body does not exist.",
        409: "The request contradicts recorded state.",
        422: "A field is invalid; `errors` lists each one.",
        503: "The work was handed to a Prefect flow run that has not ended yet; it is recorded when it does.",
    }
    return {
        status: {
            "model": Problem,
            "description": described[status],
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
