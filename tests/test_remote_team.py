"""Every command a team member needs, through a real ``phasegate serve`` (SQLite and PostgreSQL), from laptops that
hold only a token (the harness of ``tests/test_remote_cli.py``).

Proves, for delegation, rounds (cancel, reassign), conditions, projects (update, resume, close), people,
documents, milestones and the actuals and risk imports: the remote command prints what the local command prints
for the same database; the act is recorded and audited as the token's person; a token whose person may not act
is exit 2 with one clear line and a refusal in the server's audit log; ``--as`` someone else is refused and
audited on the server; a file with a bad row reads the same as locally and sends nothing, and a batch the server
refuses (an unknown project) writes nothing at all.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from phasegate.gates.vocabulary.enums import ProjectStatus
from phasegate.models import tables as t
from tests.test_remote_cli import Laptop, Team, team

__all__ = ["team"]  # the fixture: a server over a seeded database, and its tokens


def _audit(team: Team, action: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (actor, payload)
        for actor, payload in team.rows(
            select(t.AuditEntry.actor, t.AuditEntry.payload)
            .where(t.AuditEntry.action == action)
            .order_by(t.AuditEntry.seq)
        )
    ]


def _refusals(team: Team, actor: str) -> list[dict[str, Any]]:
    return [p for a, p in _audit(team, "security.refused") if a == actor]


def _same(laptop: Laptop, team: Team, *args: str) -> str:
    """Run ``args`` through the server and on the database: the same output (plain, and --json when asked)."""
    remote, local = laptop.run(*args).stdout, team.local(*args).stdout
    assert remote == local, (args, remote, local)
    return remote


def test_pmo_admin_runs_the_team_commands_through_the_server_as_locally(team: Team, tmp_path: Path) -> None:
    pam = team.laptop("pam")
    pam.logged_in(team, "pmo")

    # Rounds: a review opens one; its seat moves (转交) and it is cancelled through the server.
    round_id = json.loads(pam.run("gate", "review", "P1", "--json").stdout)["round_id"]
    moved = pam.run("rounds", "reassign", round_id, "--from", "sam", "--to", "fin", "--reason", "sam is away")
    assert moved.stdout == f"round {round_id}: sam's seat now held by fin\n"
    _same(pam, team, "rounds", "list", "--json")
    cancelled = pam.run("rounds", "cancel", round_id, "--reason", "scope under review")
    gate = json.loads(team.local("rounds", "list", "--json").stdout)[0]["gate"]
    assert cancelled.stdout == f"round {round_id} (P1, {gate}) cancelled\n"
    _same(pam, team, "rounds", "list")
    assert [a for a, _ in _audit(team, "round.cancelled")] == ["pam"]
    assert [a for a, _ in _audit(team, "round.reassigned")] == ["pam"]

    # Delegation: granted through the server as pam, listed the same both ways, revoked; each act audited as pam.
    granted = pam.run("delegate", "ann", "mgr", "--from", "2027-01-01", "--to", "2027-01-31", "--template", "it-pmo")
    listed = json.loads(_same(pam, team, "delegate", "list", "--person", "ann", "--json"))
    (new,) = [d for d in listed if d["delegate_id"] == "mgr"]
    assert granted.stdout == f"delegation {new['id']}: mgr may act for ann from 2027-01-01 to 2027-01-31 for it-pmo\n"
    _same(pam, team, "delegate", "list")
    revoked = pam.run("delegate", "revoke", new["id"])
    assert revoked.stdout == f"delegation {new['id']}: mgr no longer acts for ann\n"
    assert json.loads(team.local("delegate", "list", "--person", "ann", "--json").stdout)[0]["revoked"] is True
    assert [a for a, _ in _audit(team, "delegation.granted")][-1:] == ["pam"]
    assert [a for a, _ in _audit(team, "delegation.revoked")] == ["pam"]

    # A project update, a milestone and its completion: the second run (local) prints what the first (remote) did.
    for args in (
        ("project", "update", "P1", "--name", "Pilot II", "--budget", "1500", "--reason", "scope grew"),
        ("milestone", "add", "P1", "m1", "--name", "Kick-off", "--due", "2027-02-01"),
        ("milestone", "done", "P1", "m1", "--on", "2027-01-30"),
        ("doc", "approve", "P1", "business-case"),
    ):
        remote = pam.run(*args).stdout
        if args[0] == "doc":  # the first approval signs a new version; the local run finds it signed by pam
            assert remote.startswith("P1 business-case v2 approved by pam"), remote
            remote = pam.run(*args).stdout
        assert remote == team.local(*args).stdout, args
    assert team.rows(select(t.Project.name, t.Project.budget).where(t.Project.key == "P1"))[0][0] == "Pilot II"
    for action in ("project.updated", "milestone.set", "milestone.done", "document.approved"):
        assert _audit(team, action)[0][0] == "pam", action
        assert _audit(team, action)[0][1]["auth_method"] == "api_token", action

    # People: shown the same; updated and disabled as pam, each line the local `person show` line.
    _same(pam, team, "person", "show", "mgr", "--json")
    update_args = ("person", "update", "mgr", "--locale", "zh-CN", "--role", "manager", "--role", "viewer")
    assert pam.run(*update_args).stdout == team.local(*update_args).stdout
    assert (
        pam.run("person", "disable", "ann", "--reason", "left").stdout
        == "person " + team.local("person", "show", "ann").stdout
    )
    assert [a for a, _ in _audit(team, "person.disabled")] == ["pam"]

    # Imports: parsed on the laptop, sent as one batch, recorded in one transaction; the same lines as locally.
    actuals = tmp_path / "actuals.csv"
    actuals.write_text(
        "project,as_of,planned_value,earned_value,actual_cost\n"
        "P1,2027-01-31,300,250,280.50\nP1,2027-02-28,500,450,470\nNPD,2027-01-31,1,1,1\n"
    )
    risks = tmp_path / "risks.csv"
    risks.write_text(
        "project,id,title,probability,impact,owner,response,status\n"
        "P1,R1,Vendor late,3,4,mgr,mitigate,open\nNPD,R1,Market shifts,2,2,,accept,open\n"
    )
    for args in (("actuals", "import", str(actuals)), ("risk", "import", str(risks))):
        assert pam.run(*args, "--json").stdout == team.local(*args, "--json").stdout
        assert pam.run(*args).stdout == team.local(*args).stdout
    assert pam.run("actuals", "import", str(actuals)).stdout == "imported 3 status report(s) for 2 project(s)\n"
    _same(pam, team, "risk", "list", "P1", "--json")
    assert all(a == "pam" for a, _ in _audit(team, "risks.recorded"))

    # A bad row reads as locally and sends nothing; a project the server does not know writes no row at all.
    bad = tmp_path / "bad-risks.csv"
    bad.write_text("project,id,title,probability,impact\nP1,R9,Odd,high,2\n")
    remote_bad = pam.run("risk", "import", str(bad), expect=2).stderr
    assert remote_bad == team.local("risk", "import", str(bad), expect=2).stderr and "probability" in remote_bad
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("project,id,title,probability,impact\nP1,R8,New,1,1\nNOPE,R1,Ghost,1,1\n")
    remote_unknown = pam.run("risk", "import", str(unknown), expect=2).stderr
    assert remote_unknown == team.local("risk", "import", str(unknown), expect=2).stderr
    assert "unknown project(s) NOPE; nothing was imported" in remote_unknown
    assert team.rows(select(t.Risk.id).where(t.Risk.id == "R8")) == []
    assert not (pam.home / "phasegate-home").exists()


def test_sponsors_verifiers_and_refusals_through_the_server(team: Team) -> None:
    pam, sam, fin, vic = (team.laptop(n) for n in ("pam", "sam", "fin", "vic"))
    pam.logged_in(team, "pmo")
    sam.logged_in(team, "sponsor")
    fin.logged_in(team, "delegate")
    vic.logged_in(team, "viewer")

    # A conditional go whose condition pam verifies through the server.
    round_id = json.loads(pam.run("gate", "review", "P1", "--json").stdout)["round_id"]
    sam.run(
        "vote", round_id, "--decision", "conditional_go", "--reason", "once security signs off",
        "--condition", "Security review passed;mgr;2027-01-15;verifier:pam",
    )  # fmt: skip
    (condition,) = json.loads(pam.run("conditions", "list", "--json").stdout)
    assert fin.run("conditions", "verify", condition["id"], expect=2).stderr.count("\n") == 1
    assert pam.run("conditions", "verify", condition["id"]).stdout == f"condition {condition['id']}: met\n"
    _same(pam, team, "conditions", "list", "--json")
    assert [a for a, _ in _audit(team, "condition.met")] == ["pam"]

    # The sponsor resumes a held project and closes a killed one, through the server, as themselves.
    team.execute(update(t.Project).where(t.Project.key == "P1").values(status=ProjectStatus.ON_HOLD.value))
    assert sam.run("project", "resume", "P1", "--reason", "funding back").stdout == "P1 resumed\n"
    team.execute(update(t.Project).where(t.Project.key == "NPD").values(status=ProjectStatus.KILLED.value))
    assert sam.run("project", "close", "NPD", "--lessons", "test the market first").stdout == "NPD closed\n"
    assert [a for a, _ in _audit(team, "project.resumed")] == ["sam"]
    assert [a for a, _ in _audit(team, "project.closed")] == ["sam"]
    _same(pam, team, "project", "list", "--json")

    # Refusals: one clear line, exit 2, and an audit entry on the server naming the token's person.
    for laptop, person, args in (
        (sam, "sam", ("project", "update", "P1", "--name", "Mine", "--reason", "why not")),
        (sam, "sam", ("rounds", "cancel", round_id, "--reason", "no")),
        (fin, "fin", ("person", "disable", "mgr", "--reason", "no")),
        (fin, "fin", ("milestone", "add", "P1", "m9", "--name", "X", "--due", "2027-03-01")),
        (vic, "vic", ("delegate", "vic", "sam", "--from", "2027-01-01", "--to", "2027-01-02")),
        (vic, "vic", ("doc", "approve", "P1", "business-case")),
    ):
        before = len(_refusals(team, person))
        refused = laptop.run(*args, expect=2)
        assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
        assert len(_refusals(team, person)) == before + 1, args
    assert team.rows(select(t.Project.name).where(t.Project.key == "P1")) == [("Pilot",)]

    # --as someone else: refused by the server, which audits the attempt as the token's person.
    for args in (
        ("project", "resume", "P1", "--reason", "x", "--as", "pam"),
        ("vote", round_id, "--decision", "go", "--as", "pam"),
    ):
        refused = sam.run(*args, expect=2)
        assert "through the server you act as sam (the token's person), not pam" in refused.stderr, refused.stderr
    attempts = [p for p in _refusals(team, "sam") if p["code"] == "auth.act_for"]
    assert len(attempts) == 2 and attempts[0]["as"] == "pam"
    # --as oneself is no claim at all.
    assert sam.run("rounds", "list", "--as", "sam").returncode == 0
