"""Schemathesis against the OpenAPI document of the real app: no 5xx, and every answer is one the document lists.

The app is ``web.app.create_app`` on a seeded SQLite file (templates, people, a project with an open round,
tokens), called in-process through its ASGI interface. Each API operation gets a bounded, deterministic run
of generated requests that fit the schema and requests that break it; every response is checked for: no
server error, a documented status, a documented content type, a body matching the documented schema,
invalid data refused, and a request without credentials refused.

Bounds: ``MAX_EXAMPLES`` per operation and generation mode, a fixed seed and deterministic generation, so
the run is repeatable and takes well under a minute.
"""

from __future__ import annotations

import re
import shutil
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import email_validator
import pytest
import schemathesis
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given, reject, settings
from pydantic import TypeAdapter, ValidationError
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.modes import GenerationMode
from schemathesis.schemas import BaseSchema

from phasegate.gates.vocabulary.commands import SPECIAL_USE_DOMAINS, AddPerson, CreateProject, Email
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR
from phasegate.models.db import make_engine
from phasegate.models.settings import Settings
from phasegate.models.uow import SqlUnitOfWork
from phasegate.usecases import services
from phasegate.web.api import router
from phasegate.web.api_resources import router as resources_router
from phasegate.web.api_session import router as session_router
from phasegate.web.api_team import router as team_router
from phasegate.web.app import create_app
from tests.test_api import seed

MAX_EXAMPLES = 15
SEED = 20261102


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, _sqlite_template: Path) -> tuple[str, dict[str, str]]:
    folder = tmp_path_factory.mktemp("api-schema")
    path = folder / "phasegate.db"
    shutil.copyfile(_sqlite_template, path)
    url = f"sqlite:///{path}"
    tokens = seed(url)
    engine = make_engine(url)
    for key in ("P1", "P2"):
        services.create_project(
            CreateProject(
                key=key, name=key, template_id="it-pmo", sponsor_id="sam", manager_id="mgr", budget=Decimal(1000)
            ),
            uow=lambda: SqlUnitOfWork(engine),
            now=datetime.now(UTC),
            actor=SYSTEM_ACTOR,
        )
    engine.dispose()
    return url, tokens


@pytest.fixture(scope="module")
def api_schema(seeded: tuple[str, dict[str, str]], tmp_path_factory: pytest.TempPathFactory) -> BaseSchema:
    url, _ = seeded
    app = create_app(Settings(database_url=url, home=tmp_path_factory.mktemp("home"), sqlite_synchronous="NORMAL"))
    config = SchemathesisConfig()
    config.update(seed=SEED, max_failures=None)
    config.projects.default.generation.update(max_examples=MAX_EXAMPLES, deterministic=True)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
    return schema.include(path_regex=r"^/api/v1/")


@pytest.fixture(scope="module")
def tokens(seeded: tuple[str, dict[str, str]]) -> dict[str, str]:
    return seeded[1]


def _operations() -> list[tuple[str, str]]:
    """(METHOD, path) of every API operation, read from the router so a new endpoint is tested without edits."""
    return sorted(
        (method, route.path)
        for route in (*router.routes, *session_router.routes, *team_router.routes, *resources_router.routes)
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    )


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize(("method", "path"), _operations(), ids=[f"{m} {p}" for m, p in _operations()])
def test_api_honours_its_openapi_document(
    api_schema: BaseSchema, tokens: dict[str, str], method: str, path: str, mode: GenerationMode
) -> None:
    """Votes are tried with an approver's token (pmo tokens may not vote), everything else with the PMO's."""
    who = "sponsor" if path.endswith("/votes") else "pmo"
    operation = api_schema[path][method]

    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def exercise(case: Any) -> None:
        if mode is GenerationMode.NEGATIVE and any(value in ({}, []) for value in (case.query or {}).values()):
            reject()  # sent as no parameter at all, which the schema allows: not a negative request
        case.call_and_validate(headers={"Authorization": f"Bearer {tokens[who]}"})

    exercise()


def test_the_email_schema_refuses_what_the_address_check_refuses() -> None:
    """``format: email`` allows an address at a special-use domain (``x@y.test``), which the address check refuses
    with a 422: the schema's pattern says so, for every such domain and in any case, and allows the rest."""
    assert list(SPECIAL_USE_DOMAINS) == email_validator.SPECIAL_USE_DOMAIN_NAMES
    pattern = re.compile(AddPerson.model_json_schema()["properties"]["email"]["pattern"])
    check = TypeAdapter(Email)
    addresses = [f"pmo@corp.{domain}" for domain in SPECIAL_USE_DOMAINS] + [
        "a@b.TEST",
        "x@localhost",
        "v@x.test.",
        "u@example.com",
        "t@test.com",
        "s@mytest.org",
        "r@local.example.cn",
    ]
    for address in addresses:
        try:
            check.validate_python(address)
            accepted = True
        except ValidationError:
            accepted = False
        assert bool(pattern.search(address)) == accepted, address
