"""Tolerances as data: template defaults, what a level sets, who may set what, and the audit of every change.

The use-case tests run on real SQLite and PostgreSQL; the resolution and the limit arithmetic are pure.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from phasegate.gates.tolerance import EffectiveTolerance, effective_tolerances, in_force
from phasegate.gates.vocabulary.commands import AddPerson, CreateProject, SetTolerance
from phasegate.gates.vocabulary.enums import ProjectStatus
from phasegate.gates.vocabulary.errors import AuthorizationError, InputError, TemplateError
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR, OrgRole
from phasegate.gates.vocabulary.snapshots import ProjectSnapshot
from phasegate.gates.vocabulary.tolerance import Dimension, ToleranceLevel, ToleranceLimit
from phasegate.models import tables as t
from phasegate.models.db import make_engine, make_session_factory
from phasegate.models.template_yaml import load_template_text, shipped_templates, template_content_hash
from phasegate.models.uow import SqlUnitOfWork
from phasegate.usecases import services
from phasegate.usecases.ports import UnitOfWork
from tests import actors

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _shipped(template_id: str, version: int) -> Any:
    return next(t for _, t in shipped_templates() if (t.id, t.version) == (template_id, version))


def _project(**extra: Any) -> ProjectSnapshot:
    values: dict[str, Any] = {
        "key": "P1",
        "name": "P1",
        "template_id": "it-pmo",
        "template_version": 2,
        "template_hash": "h",
        "sponsor_id": "sam",
        "manager_id": "mgr",
        "budget": Decimal(100000),
        "stage_id": "executing",
        "currency": "USD",
        "status": ProjectStatus.ACTIVE,
        "recycle_count": 0,
    }
    return ProjectSnapshot(**(values | extra))


# --- pure: limits and what is in force ---------------------------------------------------------------------


def test_a_limit_is_the_greater_of_percent_and_amount() -> None:
    limit = ToleranceLimit(percent=Decimal(10), amount=Decimal(15000))
    assert limit.allowance(Decimal(450000)) == Decimal(45000)  # 10 % of 450,000 beats 15,000
    assert limit.allowance(Decimal(100000)) == Decimal(15000)  # 10 % of 100,000 is 10,000: the amount wins
    assert ToleranceLimit(percent=Decimal("2.5")).allowance(Decimal(200)) == Decimal(5)
    assert ToleranceLimit(none=True).allowance(Decimal(100)) is None


@pytest.mark.parametrize(
    ("given", "message"),
    [({}, "give a percent, an amount"), ({"none": True, "percent": 5}, "'none' means no tolerance")],
)
def test_a_limit_is_a_limit_or_explicitly_none(given: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ToleranceLimit(**given)
    with pytest.raises(ValidationError, match=message):
        SetTolerance(project_key="P1", dimension="cost", level="project_board", **given)


def test_version_1_of_the_shipped_templates_is_unchanged_and_version_2_carries_defaults() -> None:
    v1, v2 = _shipped("it-pmo", 1), _shipped("it-pmo", 2)
    assert template_content_hash(v1) == "63bf97b77b5f373e3135b548585d19a1205764b6435bd0d2423390caa157d2cf"
    assert not v1.tolerances and {d.dimension for d in v2.tolerances} == set(Dimension)
    assert {d.dimension for d in _shipped("cooper-5", 2).tolerances} == set(Dimension)
    assert v2.stage("executing").tolerances
    assert [g.model_copy(update={"auto_review": None}) for g in v2.gates] == list(v1.gates)
    assert v2.gates[0].auto_review == "when_ready" and v1.gates[0].auto_review is None


def test_template_defaults_name_their_owner_by_project_role_and_nothing_said_is_unset() -> None:
    roles = {"sponsor": ("sam",), "manager": ("mgr",)}
    found = effective_tolerances(_shipped("it-pmo", 2), _project(), roles, [])
    by_key = {(e.scope, e.dimension): e for e in found}
    cost = by_key[("*", Dimension.COST)]
    assert (cost.source, cost.level, cost.owner_id) == ("template", ToleranceLevel.PROJECT_BOARD, "sam")
    assert cost.allowance(Decimal(100000)) == Decimal(15000)
    assert by_key[("*", Dimension.SCOPE)].none and not by_key[("*", Dimension.SCOPE)].held
    assert by_key[("*", Dimension.BENEFITS)].owner_id is None  # the pmo role is not assigned yet
    with_pmo = effective_tolerances(_shipped("it-pmo", 2), _project(), roles | {"pmo": ("pam",)}, [])
    assert {(e.scope, e.dimension): e for e in with_pmo}[("*", Dimension.BENEFITS)].owner_id == "pam"
    # The executing stage has its own cost tolerance; planning is bound by the project's.
    assert in_force(found, Dimension.COST, "executing") == by_key[("executing", Dimension.COST)]
    assert in_force(found, Dimension.COST, "planning") == cost
    old = effective_tolerances(_shipped("it-pmo", 1), _project(template_version=1), roles, [])
    assert [(e.scope, e.source) for e in old] == [("*", "unset")] * 6
    assert not any(e.held for e in old) and all(e.allowance(Decimal(1)) is None for e in old)


def test_a_template_saying_one_dimension_twice_is_refused_with_where() -> None:
    source = next(s for s, tpl in shipped_templates() if (tpl.id, tpl.version) == ("it-pmo", 2))
    doubled = source.replace(
        "  - {dimension: quality,", "  - {dimension: cost, percent: 1}\n  - {dimension: quality,", 1
    )
    with pytest.raises(TemplateError, match="tolerance dimension 'cost' is given more than once"):
        load_template_text(doubled, source="doubled.yaml")


# --- use cases on both databases --------------------------------------------------------------------------


class Env:
    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.sessions = make_session_factory(self.engine)
        self.at = T0

    def uow(self) -> UnitOfWork:
        return SqlUnitOfWork(self.engine)

    def now(self) -> datetime:
        self.at += timedelta(seconds=1)
        return self.at

    def set(self, actor: Any, **values: Any) -> EffectiveTolerance:
        cmd = SetTolerance(project_key="P1", **values)
        return services.set_tolerance(cmd, actor=actor, uow=self.uow, now=self.now())

    def audit(self, action: str) -> list[Any]:
        with self.sessions() as session:
            query = select(t.AuditEntry.payload).where(t.AuditEntry.action == action).order_by(t.AuditEntry.seq)
            return list(session.scalars(query))

    def rows(self) -> int:
        with self.sessions() as session:
            return len(session.scalars(select(t.Tolerance.id)).all())


@pytest.fixture
def env(db_url: str) -> Iterator[Env]:
    e = Env(db_url)
    for text, template in shipped_templates():
        services.publish_template(
            template,
            content_hash=template_content_hash(template),
            source=text,
            uow=e.uow,
            now=e.now(),
            actor=SYSTEM_ACTOR,
        )
    for pid in ("sam", "mgr", "pam", "gus"):
        services.add_person(
            AddPerson(id=pid, name=pid.title(), email=f"{pid}@example.com"), uow=e.uow, now=e.now(), actor=SYSTEM_ACTOR
        )
    services.create_project(
        CreateProject(
            key="P1", template_id="it-pmo", name="P1", sponsor_id="sam", manager_id="mgr", budget=Decimal(1000)
        ),
        uow=e.uow,
        now=e.now(),
        actor=SYSTEM_ACTOR,
    )
    yield e
    e.engine.dispose()


def test_a_new_project_takes_the_latest_template_and_its_defaults(env: Env) -> None:
    listed = services.list_tolerances("P1", uow=env.uow)
    assert listed.stage_id == "initiating"
    assert {(e.scope, e.dimension.value, e.source) for e in listed.tolerances if e.scope == "*"} == {
        ("*", d.value, "template") for d in Dimension
    }
    assert env.rows() == 0  # defaults are read from the pinned template, not copied


def test_the_sponsor_sets_a_board_tolerance_and_the_change_is_audited_before_and_after(env: Env) -> None:
    sam = actors.person("sam", OrgRole.GATEKEEPER)
    done = env.set(sam, dimension="cost", level="project_board", percent="8", reason="tighter after G2")
    assert (done.source, done.owner_id, done.percent, done.amount) == ("set", "sam", Decimal(8), None)
    listed = services.list_tolerances("P1", uow=env.uow).tolerances
    cost = next(e for e in listed if (e.scope, e.dimension) == ("*", Dimension.COST))
    assert (cost.source, cost.percent, cost.set_by, cost.reason) == ("set", Decimal(8), "sam", "tighter after G2")
    first = env.audit("tolerance.set")[-1]
    assert first["before"]["source"] == "template" and first["before"]["amount"] == "15000"
    assert first["after"] == {
        "level": "project_board",
        "owner_id": "sam",
        "percent": "8",
        "amount": None,
        "none": False,
    }
    again = env.set(sam, dimension="cost", level="project_board", none=True, owner_id="pam", reason="fixed price")
    assert again.none and again.owner_id == "pam" and env.rows() == 1  # replaced, not added
    second = env.audit("tolerance.set")[-1]
    assert second["before"]["percent"] == "8" and second["after"]["none"] is True


def test_levels_are_checked_in_the_use_case_and_refusals_are_audited(env: Env) -> None:
    mgr = actors.person("mgr", OrgRole.MANAGER)
    refused_before = len(env.audit("security.refused"))
    with pytest.raises(AuthorizationError, match="may not act as the project_board level") as board:
        env.set(mgr, dimension="cost", level="project_board", percent="20")
    assert board.value.code == "auth.tolerance_level"
    # The manager's own level may not loosen what the board holds (the template's default for cost)...
    with pytest.raises(AuthorizationError, match="held by the project_board level"):
        env.set(mgr, dimension="cost", level="project_manager", percent="50")
    # ...but may set one the board left to the stage, and the board may later take it over.
    mine = env.set(mgr, dimension="quality", level="project_manager", stage_id="planning", percent="3")
    assert (mine.scope, mine.level, mine.owner_id) == ("planning", ToleranceLevel.PROJECT_MANAGER, "mgr")
    env.set(actors.person("sam"), dimension="quality", level="project_board", stage_id="planning", percent="4")
    with pytest.raises(AuthorizationError, match="held by the project_board level"):
        env.set(mgr, dimension="quality", level="project_manager", stage_id="planning", percent="9")
    # Someone with no part in the project may not set any; corporate is the PMO's.
    with pytest.raises(AuthorizationError, match="may not set a project's tolerances"):
        env.set(actors.person("gus"), dimension="time", level="project_manager", amount="3")
    with pytest.raises(AuthorizationError, match="corporate"):
        env.set(actors.person("sam"), dimension="benefits", level="corporate", percent="5")
    env.set(actors.admin("pam"), dimension="benefits", level="corporate", percent="5")
    assert len(env.audit("security.refused")) == refused_before + 5
    assert env.rows() == 2


def test_bad_input_names_the_field_and_writes_nothing(env: Env) -> None:
    with pytest.raises(InputError, match="--stage: 'launch' is not a stage of it-pmo"):
        env.set(actors.person("sam"), dimension="time", level="project_board", stage_id="launch", amount="5")
    with pytest.raises(Exception, match="--owner: unknown person 'nobody'"):
        env.set(actors.person("sam"), dimension="time", level="project_board", owner_id="nobody", amount="5")
    assert env.rows() == 0 and not env.audit("tolerance.set")


# --- doors: the API reads, the CLI sets and lists ------------------------------------------------------------


def test_the_api_reads_the_tolerances_in_force(db_url: str, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from phasegate.models.settings import Settings
    from phasegate.web.app import create_app
    from tests.test_api import seed

    tokens = seed(db_url)
    engine = make_engine(db_url)
    services.create_project(
        CreateProject(
            key="P1", template_id="it-pmo", name="P1", sponsor_id="sam", manager_id="pam", budget=Decimal(1000)
        ),
        uow=lambda: SqlUnitOfWork(engine),
        now=T0,
        actor=SYSTEM_ACTOR,
    )
    engine.dispose()
    with TestClient(create_app(Settings(database_url=db_url, home=tmp_path / "home"))) as client:
        headers = {"Authorization": f"Bearer {tokens['viewer']}"}
        found = client.get("/api/v1/projects/P1/tolerances", headers=headers)
        assert found.status_code == 200, found.text
        body = found.json()
        cost = next(e for e in body["tolerances"] if (e["scope"], e["dimension"]) == ("*", "cost"))
        assert (cost["source"], cost["level"], cost["owner_id"], cost["amount"]) == (
            "template",
            "project_board",
            "sam",
            "15000",
        )
        assert client.get("/api/v1/projects/NOPE/tolerances", headers=headers).status_code == 404
        assert client.get("/api/v1/projects/P1/tolerances").status_code == 401


PHASEGATE = str(Path(sys.executable).with_name("phasegate"))


def _cli(url: str, *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([PHASEGATE, *args, "--db", url], capture_output=True, text=True, timeout=180)
    assert done.returncode == expect, f"{args} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr, done.stderr
    return done


def test_the_cli_sets_and_lists_and_refuses_bad_input_with_exit_2(sqlite_url: str) -> None:
    from tests.test_cli import ready

    url = sqlite_url
    ready(
        url,
        people=[
            AddPerson(id="sam", name="Sam", email="sam@example.com", roles=frozenset({OrgRole.GATEKEEPER})),
            AddPerson(id="mgr", name="Mgr", email="mgr@example.com", roles=frozenset({OrgRole.MANAGER})),
        ],
        projects=[
            CreateProject(
                key="P1", template_id="it-pmo", name="P", sponsor_id="sam", manager_id="mgr", budget=Decimal(1000)
            )
        ],
    )
    set_ = _cli(
        url,
        *("tolerance", "set", "P1", "cost", "--level", "project_board", "--percent", "12", "--amount", "20000"),
        *("--owner", "sam", "--reason", "board minute 7"),
    )
    assert "P1 cost tolerance: 12 % or 20000 (whichever is greater), set by the project_board level, owner sam" in (
        set_.stdout
    )
    bad = _cli(url, "tolerance", "set", "P1", "colour", "--level", "project_board", "--percent", "5", expect=2)
    assert bad.stderr.startswith("phasegate: DIMENSION:") and "'time'" in bad.stderr
    both = _cli(url, "tolerance", "set", "P1", "time", "--level", "project_board", "--none", "--amount", "5", expect=2)
    assert "'none' means no tolerance" in both.stderr
    stage = _cli(
        url, "tolerance", "set", "P1", "time", "--level", "corporate", "--stage", "nope", "--amount", "5", expect=2
    )
    assert "--stage: 'nope' is not a stage of it-pmo" in stage.stderr
    listed = json.loads(_cli(url, "tolerance", "list", "P1", "--json").stdout)
    assert listed["project_key"] == "P1" and listed["stage_id"] == "initiating"
    cost = next(e for e in listed["tolerances"] if (e["scope"], e["dimension"]) == ("*", "cost"))
    assert (cost["source"], cost["percent"], cost["amount"], cost["reason"]) == ("set", "12", "20000", "board minute 7")
    with sqlite3.connect(url.removeprefix("sqlite:///")) as con:
        assert con.execute("select count(*) from tolerances").fetchone()[0] == 1
    text = _cli(url, "tolerance", "list", "P1").stdout
    assert "none (explicitly no tolerance)" in text and "stage executing" in text
