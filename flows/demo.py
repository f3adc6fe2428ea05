"""``phasegate demo``: a small portfolio driven end to end through the real services and flows.

It resets its own database under ``PHASEGATE_HOME/demo`` (so it can run again), generates its own secret
key there (``secret.key``, mode 0600: there is no default key to fall back on), starts a local notification
sink and a local Prefect server, and leaves the server running so the flow runs and their artifacts can be
browsed afterwards.

Who acts: the demo's PMO admin (zhao-min) is bootstrapped as the first admin, mapped to the OS login running
the demo, exactly as ``phasegate person add ... --login $(whoami) --role pmo_admin`` would. Every later act
goes through the same identity resolution as the CLI: as the admin, or as the admin acting for a manager or
sponsor (the CLI's ``--as``), so the audit log shows the admin acting for each of them.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, cast
from uuid import UUID

import typer

from phasegate.gates.portfolio import week_of
from phasegate.gates.vocabulary.commands import AddPerson, CastVote, CreateProject, RecordCost, RegisterDocument
from phasegate.gates.vocabulary.enums import Decision
from phasegate.gates.vocabulary.identity import OrgRole
from phasegate.gates.vocabulary.snapshots import EvmReportRecord
from phasegate.gates.vocabulary.template import LifecycleTemplate
from phasegate.models.keys import write_key_file
from phasegate.models.private_files import private_dir
from phasegate.models.settings import Settings
from phasegate.notifications.sink import JsonSink
from phasegate.usecases import people, services


@dataclass(frozen=True)
class DemoProject:
    key: str
    name: str
    template: str
    sponsor: str
    manager: str
    budget: str
    spent: str
    vote: Decision | None
    reason: str
    skip_documents: int = 0
    score: int = 7
    status: tuple[str, str] | None = None
    """A status report (earned value, actual cost) the portfolio monitor forecasts the cost from."""
    review: bool = True
    """False: nobody asks for the review; the portfolio monitor opens it (the gate says auto_review)."""
    plan: tuple[tuple[str, str, int], ...] = ()
    """Resource demand of the plan, next month: (stage, role, hours), imported by the manager as a CSV file."""


PEOPLE = (
    ("alice", "Alice Chen", "alice@example.com", "en"),
    ("wang-fang", "王芳", "wang.fang@example.com", "zh-CN"),
    ("bob", "Bob Martin", "bob@example.com", "en"),
    ("li-lei", "李雷", "li.lei@example.com", "zh-CN"),
    ("zhao-min", "赵敏", "zhao.min@example.com", "zh-CN"),
)
PMO = "zhao-min"
ROLES = {
    "alice": {OrgRole.GATEKEEPER},
    "wang-fang": {OrgRole.GATEKEEPER},
    "bob": {OrgRole.MANAGER},
    "li-lei": {OrgRole.MANAGER},
    PMO: {OrgRole.PMO_ADMIN, OrgRole.GATEKEEPER},
}

CAPACITY_TEMPLATE = "cooper-5-capacity"
"""The demo's own variant of cooper-5 whose gates also check ``resources.committed`` (the shipped templates keep
their pinned versions and hashes)."""
DATA_ENGINEERS = (("chen-jie", "陈杰", "CN"), ("sara", "Sara Lopez", "US"))
"""Two full-time data engineers, on the Chinese and US working calendars: about 320 hours a month together."""

PORTFOLIO = (
    DemoProject(
        "ERP-UPGRADE",
        "ERP upgrade to v12",
        "it-pmo",
        "alice",
        "bob",
        "450000",
        "38000",
        Decision.GO,
        "",
        plan=(("planning", "data-engineer", 200),),  # committed by its GO: the data team's month is mostly taken
    ),
    DemoProject(
        "CRM-MIGRATE",
        "CRM migration",
        "it-pmo",
        "wang-fang",
        "li-lei",
        "120000",
        "131500",
        Decision.RECYCLE,
        "Initiation overspent: re-plan the scope within the approved budget",
        status=("60000", "131500"),  # CPI 0.46: the EAC breaches the project board's cost tolerance
    ),
    DemoProject(
        "DATA-LAKE",
        "Customer data lake",
        CAPACITY_TEMPLATE,  # Gate 1 checks resources.committed: scoping needs more data engineers than are left
        "alice",
        "li-lei",
        "800000",
        "21000",
        Decision.HOLD,
        "Sound idea, but the data team has no capacity until next quarter",
        plan=(("scoping", "data-engineer", 240),),
    ),
    DemoProject(
        "SMART-KIOSK",
        "Smart retail kiosk",
        "cooper-5",
        "wang-fang",
        "bob",
        "300000",
        "9000",
        Decision.KILL,
        "Strategic fit is weak and a partner already sells this",
        score=3,
    ),
    # Reviewed after SMART-KIOSK was killed at the same gate: the kiosk's lesson surfaces in its packet.
    DemoProject(
        "AR-GLASSES",
        "AR glasses for field engineers",
        "cooper-5",
        "wang-fang",
        "li-lei",
        "250000",
        "7000",
        Decision.GO,
        "",
    ),
    DemoProject(
        "MOBILE-APP", "Field service mobile app", "it-pmo", "alice", "bob", "200000", "4000", None, "", skip_documents=1
    ),
    DemoProject(
        "HR-PORTAL", "HR self-service portal", "it-pmo", "wang-fang", "bob", "150000", "6000", None, "", review=False
    ),
)


def _document(folder: Path, template: LifecycleTemplate, deliverable_id: str, project: str) -> Path:
    deliverable = template.deliverable(deliverable_id)
    sections = "\n\n".join(f"## {s}\n\nContent of {s.lower()} for {project}." for s in deliverable.required_sections)
    path = folder / project / f"{deliverable_id}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# {deliverable.name}: {project}\n\n{sections}\n", encoding="utf-8")
    return path


# Four weekly status reports per project (fractions of BAC: planned, earned, actual), entered after the gates
# so the portfolio report has EVM figures, a RAG trend and an S-curve to show; and a few open risks.
STATUS = {
    "ERP-UPGRADE": ((0.05, 0.05, 0.05), (0.10, 0.10, 0.11), (0.15, 0.14, 0.15), (0.20, 0.19, 0.20)),
    "CRM-MIGRATE": ((0.20, 0.18, 0.22), (0.30, 0.26, 0.33), (0.40, 0.33, 0.45), (0.50, 0.40, 0.58)),
    "DATA-LAKE": ((0.02, 0.02, 0.02), (0.03, 0.03, 0.03), (0.04, 0.04, 0.04), (0.05, 0.05, 0.05)),
    "MOBILE-APP": ((0.01, 0.01, 0.01), (0.02, 0.02, 0.02), (0.04, 0.03, 0.03), (0.06, 0.05, 0.05)),
}
RISKS = {
    "ERP-UPGRADE": (("R1", "Vendor patch slips past cut-over", 4, 4), ("R2", "Key user availability", 3, 2)),
    "CRM-MIGRATE": (("R1", "数据迁移质量不达标", 4, 5),),
    "MOBILE-APP": (("R1", "Offline sync complexity", 2, 3),),
}


def _status_history(rt: Any, admin: Any) -> None:
    from datetime import timedelta

    from phasegate.flows.runtime import utc_now
    from phasegate.gates.vocabulary.evidence import RiskEvidence
    from phasegate.gates.vocabulary.snapshots import EvmReportRecord

    today = utc_now().date()
    budgets = {p.key: Decimal(p.budget) for p in PORTFOLIO}
    reports = [
        EvmReportRecord(
            project_key=key,
            as_of=today - timedelta(weeks=3 - week),
            planned_value=(budgets[key] * Decimal(str(pv))).quantize(Decimal("0.01")),
            earned_value=(budgets[key] * Decimal(str(ev))).quantize(Decimal("0.01")),
            actual_cost=(budgets[key] * Decimal(str(ac))).quantize(Decimal("0.01")),
        )
        for key, weeks in STATUS.items()
        for week, (pv, ev, ac) in enumerate(weeks)
    ]
    services.record_status(reports, actor=admin(), uow=rt.uow, now=utc_now())
    for key, risks in RISKS.items():
        entries = [RiskEvidence(id=i, title=t, probability=p, impact=m, owner=PMO) for i, t, p, m in risks]
        services.record_risks(key, entries, actor=admin(), uow=rt.uow, now=utc_now())


def run_demo() -> None:
    from phasegate.flows.cli.common import os_login
    from phasegate.flows.cli.database import db_upgrade
    from phasegate.flows.runtime import runtime, utc_now
    from phasegate.flows.server import prefect_run_context, start
    from phasegate.flows.trigger import prepare_prefect

    settings = Settings()

    def admin(for_person: str | None = None) -> Any:
        """The admin (mapped to this OS login), or the admin acting for a person: the CLI's ``--as``."""
        return people.login_actor(os_login(), as_person=for_person, uow=rt.uow, now=utc_now())

    root = (settings.home / "demo").resolve()
    if root.exists():
        shutil.rmtree(root)
    private_dir(root)
    db_url = f"sqlite:///{root / 'phasegate.db'}"
    os.environ["PHASEGATE_DOCUMENT_STORE"] = str(root / "store")  # reset with the demo, read by its flows too
    os.environ["PHASEGATE_REPORT_DIR"] = str(root / "reports")  # likewise: the demo writes nothing outside root
    inbox = root / "inbox.jsonl"

    typer.echo(f"phasegate demo: writing to {root}")
    # The demo's own key, for this process and the flows it runs in it: never the caller's real one.
    key_file = write_key_file(root / "secret.key")
    os.environ.pop("PHASEGATE_SECRET_KEY", None)
    os.environ["PHASEGATE_SECRET_KEY_FILE"] = str(key_file)
    typer.echo(f"secret key for this demo: {key_file} (mode 0600)")
    db_upgrade(db_url)
    rt = runtime(db_url)
    sink = JsonSink(inbox).start()
    typer.echo(f"notification sink listening on http://127.0.0.1:{sink.port}/ -> {inbox}")
    server = start(rt.settings)
    prepare_prefect()
    typer.echo(f"Prefect server: {server.url}")

    login = os_login()
    for person_id, name, email, locale in sorted(PEOPLE, key=lambda p: p[0] != PMO):  # the admin first
        cmd = AddPerson(
            id=person_id,
            name=name,
            email=email,
            locale=locale,  # type: ignore[arg-type]
            notify_urls=(f"json://127.0.0.1:{sink.port}/{person_id}",),
            login=login if person_id == PMO else None,
            roles=frozenset(ROLES[person_id]),
        )
        if person_id == PMO:
            people.bootstrap_admin(cmd, login=login, uow=rt.uow, now=utc_now())
        else:
            services.add_person(cmd, actor=admin(), uow=rt.uow, now=utc_now())
    typer.echo(f"PMO admin: {PMO}, mapped to your OS login {login!r}; the demo acts for the others as that admin")
    _resource_team(rt, admin)

    from phasegate.flows.gate_review import gate_review_flow
    from phasegate.flows.portfolio_monitor import portfolio_monitor_flow

    rows: list[tuple[str, str, str, str, str]] = []
    lessons_seen: list[str] = []
    capacity_notes: list[str] = []
    with prefect_run_context():
        for item in PORTFOLIO:
            project = services.create_project(
                CreateProject(
                    key=item.key,
                    template_id=item.template,
                    name=item.name,
                    sponsor_id=item.sponsor,
                    manager_id=item.manager,
                    budget=Decimal(item.budget),
                ),
                actor=admin(),
                uow=rt.uow,
                now=utc_now(),
            )
            template = services.get_template(project.template_id, project.template_version, uow=rt.uow).template
            gate = template.gate_after(project.stage_id)
            assert gate is not None
            services.assign_role(item.key, "pmo", PMO, actor=admin(), uow=rt.uow, now=utc_now())
            manager = admin(item.manager)
            if item.plan:
                _import_plan(rt, item, root / "plans", manager)
            signers = {"sponsor": item.sponsor, "pmo": PMO}
            for deliverable_id in gate.deliverables[item.skip_documents :]:
                path = _document(root / "documents", template, deliverable_id, item.key)
                with rt.document_store().custody(path) as stored:
                    services.register_document(
                        RegisterDocument(
                            project_key=item.key,
                            deliverable_id=deliverable_id,
                            path=str(path),
                            **stored.registered_as(),
                        ),
                        actor=manager,
                        uow=rt.uow,
                        now=utc_now(),
                    )
                signer = signers[template.deliverable(deliverable_id).approver_role]  # signs in their own name
                services.approve_document(item.key, deliverable_id, actor=admin(signer), uow=rt.uow, now=utc_now())
            if gate.scorecard is not None:
                factors = {f.id: item.score for f in gate.scorecard.factors}
                services.record_scores(item.key, factors, actor=admin(item.sponsor), uow=rt.uow, now=utc_now())
            services.record_cost(
                RecordCost(project_key=item.key, amount=Decimal(item.spent), note="stage actuals"),
                actor=manager,
                uow=rt.uow,
                now=utc_now(),
            )
            if item.status is not None:
                earned, actual = item.status
                services.record_status(
                    [
                        EvmReportRecord(
                            project_key=item.key,
                            as_of=utc_now().date(),
                            earned_value=Decimal(earned),
                            actual_cost=Decimal(actual),
                        )
                    ],
                    actor=manager,
                    uow=rt.uow,
                    now=utc_now(),
                )
            if not item.review:
                continue
            review = gate_review_flow(item.key, rt.seal_actor(manager, project_key=item.key), return_state=True)
            outcome = cast(dict[str, Any], review.result())
            recommendation = outcome["evaluation"]["recommendation"]
            for result in outcome["evaluation"]["criteria"]:
                if result["code"] == "resources.committed" and not result["passed"]:
                    capacity_notes.append(f"{item.key}/{gate.id}: {result['message']}")
                    capacity_notes.append(f"  remediation: {result['remediation']}")
            for shown in outcome.get("lessons") or ():
                lessons_seen.append(f"lesson #{shown['id']} from {shown['project_key']} shown at {item.key}/{gate.id}")
                if outcome["round_id"]:
                    services.mark_applied(
                        shown["id"], UUID(outcome["round_id"]), actor=admin(item.sponsor), uow=rt.uow, now=utc_now()
                    )
                    lessons_seen[-1] += f", applied by {item.sponsor}"
            decision = "-"
            if outcome["round_id"] and item.vote is not None:
                # The sponsor's vote takes the path every door takes: a deciding vote has the gate-decision
                # flow applied by the served deployment (or here, when nothing serves), as for a real sponsor.
                voted = rt.vote(
                    CastVote(
                        round_id=outcome["round_id"], voter_id=item.sponsor, decision=item.vote, reason=item.reason
                    ),
                    actor=admin(item.sponsor),
                )
                if voted.result.round_decision is not None:
                    _await_applied(rt, voted.result.round_id)
                decision = item.vote.value
                if item.vote is Decision.KILL:  # the manager files the lesson the kill left due
                    _file_lesson(rt, item, outcome["round_id"], admin(item.manager))
            after = services.project_view(item.key, uow=rt.uow).project
            rows.append((item.key, gate.id, recommendation, decision, f"{after.status.value} / {after.stage_id}"))
        # Between gates: the portfolio monitor (scheduled hourly when served) scans everything once now.
        monitor = portfolio_monitor_flow()
        for key in monitor["reviews_opened"]:
            view = services.project_view(key, uow=rt.uow)
            rows.append((key, view.gate_id or "-", "(monitor)", "-", "round open for the sponsor"))
        _status_history(rt, admin)
        from phasegate.flows.portfolio_report import portfolio_report_flow

        report = portfolio_report_flow(period=week_of(utc_now().date()).label)

    sink.stop()
    received = sum(1 for _ in inbox.open(encoding="utf-8")) if inbox.exists() else 0
    typer.echo("")
    typer.echo(f"{'project':<12} {'gate':<20} {'recommended':<15} {'decided':<9} status / stage")
    for key, gate_id, recommendation, decision, state in rows:
        typer.echo(f"{key:<12} {gate_id:<20} {recommendation:<15} {decision:<9} {state}")
    for line in lessons_seen:
        typer.echo(line)
    for line in capacity_notes:
        typer.echo(line if line.startswith(" ") else f"resources.committed failed at {line}")
    for entry in services.hold_queue(uow=rt.reader):
        fits = "fits now" if entry.fits else "waits: " + "; ".join(entry.shortfalls or ("no demand planned",))
        typer.echo(f"HOLD queue #{entry.rank}: {entry.project_key} -> {entry.next_stage} ({fits})")
    typer.echo("")
    for found in services.list_exceptions(uow=rt.uow, status="open"):
        typer.echo(
            f"exception:      {found.project_key} {found.dimension.value} forecast {found.forecast} against baseline "
            f"{found.baseline} (tolerance {found.allowance}), sent to {found.owner_id} ({found.level.value})"
        )
    typer.echo(f"reviews opened by the portfolio monitor: {', '.join(monitor['reviews_opened']) or 'none'}")
    typer.echo("")
    typer.echo(f"database:       {root / 'phasegate.db'}")
    typer.echo(f"secret key:     {key_file}")
    typer.echo(f"notifications:  {inbox} ({received} received)")
    typer.echo(f"report {report['period']}: " + ", ".join(str(path) for path in report["files"].values()))
    typer.echo(f"documents:      {root / 'documents'} (phasegate's copies: {root / 'store'})")
    typer.echo(f"Prefect UI:     {server.url.removesuffix('/api')}  (flow runs and their artifacts)")
    typer.echo("stop the Prefect server with: .venv/bin/phasegate server stop")
    typer.echo(f"try:            .venv/bin/phasegate project show ERP-UPGRADE --db {db_url}")
    typer.echo(f"                .venv/bin/phasegate exceptions list --db {db_url}")
    typer.echo(f"                .venv/bin/phasegate resources allocation --role data-engineer --db {db_url}")
    typer.echo(f"                .venv/bin/phasegate resources queue --db {db_url}")


def _resource_team(rt: Any, admin: Any) -> None:
    """The demo's capacity: the cooper-5 variant whose gates check resources, and two data engineers."""
    import yaml

    from phasegate.flows.runtime import utc_now
    from phasegate.gates.vocabulary.resources import ResourceProfile
    from phasegate.models.template_yaml import load_template_text, shipped_templates, template_content_hash

    source = max(((s, t) for s, t in shipped_templates() if t.id == "cooper-5"), key=lambda p: p[1].version)[0]
    data = yaml.safe_load(source)
    data |= {"id": CAPACITY_TEMPLATE, "version": 1, "name": "Cooper five-gate, resources checked at every gate"}
    for gate in data["gates"]:
        gate["criteria"].append({"code": "resources.committed"})
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    template = load_template_text(text, source=f"{CAPACITY_TEMPLATE}.yaml")
    content_hash = template_content_hash(template)
    services.publish_template(
        template, content_hash=content_hash, source=text, uow=rt.uow, now=utc_now(), actor=admin()
    )
    for person_id, name, region in DATA_ENGINEERS:
        cmd = AddPerson(id=person_id, name=name, email=f"{person_id}@example.com")
        services.add_person(cmd, actor=admin(), uow=rt.uow, now=utc_now())
        profile = ResourceProfile(person_id=person_id, role="data-engineer", region=region)
        services.set_resource_profile(profile, actor=admin(), uow=rt.uow, now=utc_now())


def _import_plan(rt: Any, item: DemoProject, folder: Path, manager: Any) -> None:
    """The manager imports the project's resource plan (next month's hours per stage and role) from a CSV file."""
    from phasegate.flows.runtime import utc_now
    from phasegate.gates.capacity import next_month
    from phasegate.gates.vocabulary.resources import month_label
    from phasegate.models.imports import parse_demand

    today = utc_now().date()
    month = month_label(next_month(today.replace(day=1)))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{item.key}.csv"
    lines = [f"{item.key},{stage},{role},{month},{hours}" for stage, role, hours in item.plan]
    path.write_text("project,stage,role,month,hours\n" + "\n".join(lines) + "\n", encoding="utf-8")
    services.import_demand(parse_demand(path), source=path.name, actor=manager, uow=rt.uow, now=utc_now())


def _file_lesson(rt: Any, item: DemoProject, round_id: str, manager: Any) -> None:
    """What the killed project's manager files (经验教训): it reaches the next review of the same gate."""
    from phasegate.gates.vocabulary.enums import LessonCategory
    from phasegate.gates.vocabulary.lessons import LessonDraft

    services.add_lesson(
        LessonDraft(
            project_key=item.key,
            round_id=UUID(round_id),
            category=LessonCategory.GOVERNANCE,
            tags=("strategic-fit", "scorecard"),
            what_happened=f"{item.name}: killed at the idea screen; a partner already sold the same product",
            repeat="Check what partners and competitors already sell before the idea screen",
            avoid="Scoring strategic fit without a market scan / 未做市场扫描就评估战略契合度",
        ),
        actor=manager,
        uow=rt.uow,
        now=rt.now(),
    )


def _await_applied(rt: Any, round_id: Any, *, seconds: float = 60.0) -> None:
    """Wait until the gate-decision flow run has applied the round's decision, so the table shows the result.

    A served deployment picks the run up within seconds; if none does in time, the demo says so and moves on
    (the decision is not lost: ``rounds reconcile`` and the scheduled reconciliation apply it).
    """
    import time

    from phasegate.usecases import services

    deadline = time.monotonic() + seconds
    while services.get_round(round_id, uow=rt.reader).applied_at is None:
        if time.monotonic() > deadline:
            typer.echo(f"round {round_id}: the gate-decision flow run has not finished yet; see the Prefect UI")
            return
        time.sleep(0.5)
