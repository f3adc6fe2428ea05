"""The gate dossier (``phasegate audit export``) on SQLite and PostgreSQL, built through the real services.

A project goes through a review and a 2-of-3 round (sponsor, finance, pmo) with a direct vote, a delegate's
conditional go, a refused attempt and the applied decision. The export must hold all of it with every hash
re-verifiable from the JSON alone; a database edited behind the application's back must still export, with
the broken thing named and exit status 1.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import select, update
from sqlalchemy.sql.expression import Executable

from phasegate.flows.dossier import render_dossier_html
from phasegate.gates.vocabulary.commands import (
    AddPerson,
    CastVote,
    Delegate,
    RecordCost,
    RequestReview,
)
from phasegate.gates.vocabulary.enums import Decision
from phasegate.gates.vocabulary.errors import ConflictError, NotFoundError
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR
from phasegate.gates.vocabulary.snapshots import ConditionSpec
from phasegate.models import tables as t
from phasegate.models.db import make_engine, make_session_factory
from phasegate.models.dossier import Dossier, collect_dossier
from phasegate.models.template_yaml import template_content_hash
from phasegate.models.uow import SqlUnitOfWork
from phasegate.usecases import approvals, services
from phasegate.usecases.ports import UnitOfWork
from tests import actors
from tests.conftest import TEST_AUDIT_KEY
from tests.gatekeeping import TWO_OF_THREE, add_ready_project, probe, variant

PHASEGATE = str(Path(sys.executable).with_name("phasegate"))
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday
EXPORTED_AT = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
HOSTILE = "<script>alert('x')</script> & 签字"


class World:
    """A database with people, a 2-of-3 variant of it-pmo and a clock that ticks one second per act."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = make_session_factory(self.engine)
        self.now = T0

    def tick(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now

    def uow(self) -> UnitOfWork:
        return SqlUnitOfWork(self.engine, audit_key=TEST_AUDIT_KEY)

    def vote(self, round_id: UUID, voter: str, decision: Decision, **extra: Any) -> approvals.VoteResult:
        return actors.cast_vote(
            CastVote(round_id=round_id, voter_id=voter, decision=decision, **extra),
            uow=self.uow,
            now=self.tick(),
            probe=probe,
        )

    def dossier(self, key: str) -> Dossier:
        with self.sessions() as session:
            return collect_dossier(session, key, now=EXPORTED_AT, audit_key=TEST_AUDIT_KEY)

    def export(self, key: str, out: Path, *extra: str, expect: int) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [PHASEGATE, "audit", "export", "--project", key, "--out", str(out), "--db", self.url, *extra],
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == expect, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr, done.stderr
        return done

    def tamper(self, statement: Executable) -> None:
        """An SQL UPDATE straight on the database, behind the application's back."""
        with self.engine.begin() as conn:
            conn.execute(statement)


def _project(world: World, key: str) -> UUID:
    """A project through to an open round: roles, the first gate's approved documents, a review."""
    add_ready_project(world.uow, world.tick, key)
    review = services.start_review(
        RequestReview(project_key=key, requested_by="zed"),
        uow=world.uow,
        now=world.tick(),
        probe=probe,
        actor=actors.admin("zed"),
    )
    assert review.round_id is not None, review.evaluation.reasons
    return review.round_id


@pytest.fixture
def world(db_url: str) -> Iterator[World]:
    w = World(db_url)
    source, template = variant(TWO_OF_THREE, "it-2of3")
    services.publish_template(
        template,
        content_hash=template_content_hash(template),
        source=source,
        uow=w.uow,
        now=w.tick(),
        actor=SYSTEM_ACTOR,
    )
    for pid in ("sam", "fin", "pam", "mgr", "dee", "zed"):
        services.add_person(
            AddPerson(id=pid, name=pid.title(), email=f"{pid}@example.com"), uow=w.uow, now=w.tick(), actor=SYSTEM_ACTOR
        )
    yield w
    w.engine.dispose()


@pytest.fixture
def decided(world: World) -> tuple[World, UUID]:
    """Project D1 decided CONDITIONAL_GO by sam, dee for fin (a delegate) and pam, after a refused attempt.

    D10 shares D1's prefix, so a sloppy ``startswith("project:D1")`` would pull its entries in.
    """
    round_id = _project(world, "D1")
    _project(world, "D10")
    approvals.delegate(
        Delegate(principal_id="fin", delegate_id="dee", valid_from=T0.date(), valid_to=T0.date() + timedelta(days=9)),
        uow=world.uow,
        now=world.tick(),
        actor=SYSTEM_ACTOR,
    )
    with pytest.raises(approvals.SecurityRefusedError):
        world.vote(round_id, "dee", Decision.GO, on_behalf_of="sam")  # no delegation from sam
    world.vote(round_id, "sam", Decision.GO, reason=HOSTILE)
    condition = ConditionSpec(
        text="Finance signs the revised budget",
        owner_id="mgr",
        due_on=T0.date() + timedelta(days=30),
        verification="verifier:fin",
    )
    resolved = world.vote(
        round_id,
        "dee",
        Decision.CONDITIONAL_GO,
        on_behalf_of="fin",
        reason="budget to be re-signed",
        conditions=(condition,),
    )
    assert resolved.round_decision is None  # GO or CONDITIONAL_GO: the third seat decides which
    second = condition.model_copy(update={"text": "PMO re-reads the risk register", "verification": "verifier:pam"})
    last = world.vote(round_id, "pam", Decision.CONDITIONAL_GO, reason="risks to re-read", conditions=(second,))
    assert last.round_decision is Decision.CONDITIONAL_GO
    approvals.apply_round_decision(round_id, uow=world.uow, now=world.tick())
    return world, round_id


def _all_checks(document: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every ``*_ok`` flag anywhere in the dossier JSON, with where it is."""
    if isinstance(document, dict):
        for name, value in document.items():
            if name.endswith("_ok"):
                yield f"{path}.{name}", value
            yield from _all_checks(value, f"{path}.{name}")
    elif isinstance(document, list):
        for index, value in enumerate(document):
            yield from _all_checks(value, f"{path}[{index}]")


def _canonical_sha256(value: Any) -> str:
    """The published recipe, written out independently of models.canonical."""
    data = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def _canonical_hmac(value: Any) -> str:
    """The keyed recipe (docs/security.md): HMAC-SHA256 of the same canonical JSON under the audit key."""
    data = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return hmac.new(TEST_AUDIT_KEY, data.encode("utf-8"), hashlib.sha256).hexdigest()


# ------------------------------------------------------------------------------------------------ contents
def test_export_holds_the_whole_gate_history_and_every_check_passes(
    decided: tuple[World, UUID], tmp_path: Path
) -> None:
    world, round_id = decided
    done = world.export("D1", tmp_path, expect=0)
    assert "every hash verified" in done.stdout
    doc = json.loads((tmp_path / "D1-dossier.json").read_text(encoding="utf-8"))

    assert doc["verified"] is True and doc["problems"] == []
    checks = dict(_all_checks(doc))
    assert checks and all(value is True for value in checks.values()), [k for k, v in checks.items() if v is not True]
    assert doc["chain"]["intact"] is True and doc["chain"]["bad_entries"] == []
    with world.sessions() as session:
        head = session.execute(select(t.AuditEntry.seq, t.AuditEntry.hash).order_by(t.AuditEntry.seq.desc())).first()
    assert head is not None and (doc["chain"]["head_seq"], doc["chain"]["head_hash"]) == (head[0], head[1])
    assert doc["chain"]["entries"] == head[0]

    (review,) = doc["reviews"]
    assert review["evidence"]["project_key"] == "D1" and review["evaluation"]["recommendation"]
    assert _canonical_sha256(review["evidence"]) == review["evidence_hash"] == review["recomputed_hash"]

    (rnd,) = doc["rounds"]
    assert rnd["id"] == str(round_id) and rnd["policy_spec"]["m"] == 2
    assert {s["person_id"] for s in rnd["seats"]} == {"sam", "fin", "pam"} and rnd["closed_seats"] == []
    votes = {v["signer_id"]: v for v in rnd["votes"]}
    assert set(votes) == {"sam", "dee", "pam"}
    assert (votes["dee"]["on_behalf_of"], votes["dee"]["voter_id"], votes["dee"]["decision"]) == (
        "fin",
        "fin",
        "conditional_go",
    )
    assert votes["dee"]["conditions"][0]["text"] == "Finance signs the revised budget"
    assert votes["sam"]["on_behalf_of"] is None and votes["sam"]["reason"] == HOSTILE
    assert all(v["review_id"] == review["id"] and v["superseded"] is False for v in votes.values())

    (decision,) = doc["decisions"]
    assert (decision["decision"], decision["decided_by"]) == ("conditional_go", ["fin", "pam", "sam"])
    assert {(c["text"], c["owner_id"], c["status"]) for c in doc["conditions"]} == {
        ("Finance signs the revised budget", "mgr", "open"),
        ("PMO re-reads the risk register", "mgr", "open"),
    }

    # Every entry re-verifies from the JSON and the audit key alone, and its chain of prev_hash links is the log's.
    entries = doc["audit"]
    for entry in entries:
        fields = {k: entry[k] for k in ("seq", "at", "actor", "action", "entity", "payload", "prev_hash")}
        assert entry["scheme"] == "hmac-sha256"
        assert _canonical_hmac(fields) == entry["hash"] == entry["recomputed_hash"]
    actions = [e["action"] for e in entries]
    for expected in ("project.created", "review.recorded", "round.opened", "security.refused", "vote.cast"):
        assert expected in actions, expected
    assert actions.count("vote.cast") == 3 and "round.resolved" in actions and "decision.applied" in actions
    assert "delegation.granted" in actions  # the delegation the delegate's vote rests on
    assert all(
        e["entity"] in ("project:D1", f"round:{round_id}", "person:fin") or e["entity"].startswith("project:D1/")
        for e in entries
    )
    assert [e["seq"] for e in entries] == sorted(e["seq"] for e in entries)

    html = (tmp_path / "D1-dossier.html").read_text(encoding="utf-8")
    assert "所有哈希均已重新校验通过" in html and str(round_id) in html and review["evidence_hash"] in html


def test_vote_entries_carry_what_an_approval_record_holds(decided: tuple[World, UUID]) -> None:
    world, round_id = decided
    dossier = world.dossier("D1")
    by_action: dict[str, list[Any]] = {}
    for entry in dossier.audit:
        by_action.setdefault(entry.action, []).append(entry)
    votes = {e.actor: e for e in by_action["vote.cast"]}
    evidence_hash = dossier.rounds[0].evidence_hash
    delegate = votes["dee"]
    assert delegate.payload["on_behalf_of"] == "fin"
    assert (delegate.payload["meaning"], delegate.payload["decision"]) == ("approved", "conditional_go")
    assert delegate.payload["reason"] == "budget to be re-signed"
    assert delegate.payload["evidence_hash"] == evidence_hash
    assert delegate.payload["policy"] == dossier.rounds[0].policy_spec
    assert votes["sam"].payload["on_behalf_of"] is None and votes["sam"].payload["reason"] == HOSTILE
    for entry in votes.values():
        assert entry.entity == f"round:{round_id}" and entry.at.endswith("+00:00")
    (refused,) = by_action["security.refused"]
    assert (refused.actor, refused.payload["on_behalf_of"]) == ("dee", "sam")
    assert "no delegation from sam" in refused.payload["why"] and refused.payload["evidence_hash"] == evidence_hash


def test_html_is_standalone_bilingual_and_escaped(decided: tuple[World, UUID]) -> None:
    world, _ = decided
    html = render_dossier_html(world.dossier("D1"))
    assert "<script" not in html and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; 签字" in html
    assert "<link" not in html and "src=" not in html and "http" not in html
    for heading in ("Audit chain · 审计链", "Gate reviews · 阶段门评审", "Votes · 投票", "Decisions · 决策"):
        assert heading in html
    assert "所有哈希均已重新校验通过" in html and "FAILED" not in html


def test_an_unknown_project_is_a_user_error(world: World, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="--project: unknown project 'NOPE'"):
        world.dossier("NOPE")
    out = tmp_path / "out"
    done = world.export("NOPE", out, expect=2)
    assert "unknown project" in done.stderr and not out.exists()


# ------------------------------------------------------------------------------------------------ tampering
def test_an_edited_vote_reason_in_the_audit_log_is_named_and_exits_1(
    decided: tuple[World, UUID], tmp_path: Path
) -> None:
    world, _ = decided
    with world.sessions() as session:
        entry = session.scalars(
            select(t.AuditEntry).where(t.AuditEntry.action == "vote.cast", t.AuditEntry.actor == "dee")
        ).one()
        seq, payload = entry.seq, dict(entry.payload)
    payload["reason"] = "no conditions needed"
    world.tamper(update(t.AuditEntry).where(t.AuditEntry.seq == seq).values(payload=payload))

    done = world.export("D1", tmp_path, expect=1)
    assert f"entry {seq} was edited" in done.stderr
    doc = json.loads((tmp_path / "D1-dossier.json").read_text(encoding="utf-8"))
    assert doc["verified"] is False and doc["chain"]["intact"] is False
    assert (doc["chain"]["first_break_seq"], doc["chain"]["first_break_kind"]) == (seq, "edited")
    (broken,) = [e for e in doc["audit"] if not e["hash_ok"]]
    assert broken["seq"] == seq and broken["payload"]["reason"] == "no conditions needed"
    dee = next(v for v in doc["rounds"][0]["votes"] if v["signer_id"] == "dee")
    assert dee["audit_ok"] is False and "reason" in dee["audit_mismatch"]
    assert "FAILED" in (tmp_path / "D1-dossier.html").read_text(encoding="utf-8")


def test_edited_review_evidence_is_named_and_exits_1(decided: tuple[World, UUID], tmp_path: Path) -> None:
    world, _ = decided
    with world.sessions() as session:
        review = session.scalars(select(t.GateReview).where(t.GateReview.project_key == "D1")).one()
        review_id, evidence = review.id, dict(review.evidence)
    evidence["budget"] = "999999.00"
    world.tamper(update(t.GateReview).where(t.GateReview.id == review_id).values(evidence=evidence))

    done = world.export("D1", tmp_path, expect=1)
    assert f"review {review_id}: stored evidence hashes to" in done.stderr
    doc = json.loads((tmp_path / "D1-dossier.json").read_text(encoding="utf-8"))
    assert doc["chain"]["intact"] is True  # the log is fine; the review row is not
    (review_doc,) = doc["reviews"]
    assert review_doc["hash_ok"] is False and review_doc["recomputed_hash"] == _canonical_sha256(evidence)
    assert all(v["evidence_ok"] is False for v in doc["rounds"][0]["votes"])  # they signed other evidence
    assert {p["subject"] for p in doc["problems"]} >= {f"review:{review_id}", f"round:{doc['rounds'][0]['id']}"}


def test_a_vote_row_edited_in_place_disagrees_with_its_audit_entry(decided: tuple[World, UUID], tmp_path: Path) -> None:
    world, round_id = decided
    world.tamper(
        update(t.Vote).where(t.Vote.round_id == round_id, t.Vote.signer_id == "sam").values(reason="looks fine")
    )

    done = world.export("D1", tmp_path, expect=1)
    assert "by sam: differs from entry" in done.stderr and "reason" in done.stderr
    doc = json.loads((tmp_path / "D1-dossier.json").read_text(encoding="utf-8"))
    assert doc["chain"]["intact"] is True
    sam = next(v for v in doc["rounds"][0]["votes"] if v["signer_id"] == "sam")
    assert (sam["audit_ok"], sam["audit_mismatch"]) == (False, ["reason"])


def test_a_break_elsewhere_in_the_chain_still_fails_this_project(decided: tuple[World, UUID], tmp_path: Path) -> None:
    """Entry 1 (a person added) concerns no project, but every later hash depends on it."""
    world, _ = decided
    world.tamper(update(t.AuditEntry).where(t.AuditEntry.seq == 1).values(actor="mallory"))

    done = world.export("D1", tmp_path, "--json", expect=1)
    summary = json.loads(done.stdout)
    assert (summary["verified"], summary["chain"]["first_break_seq"]) == (False, 1)
    assert summary["problems"][0] == {
        "subject": "audit:1",
        "check": "chain",
        "message": "audit chain: entry 1 was edited",
    }
    doc = json.loads(Path(summary["json"]).read_text(encoding="utf-8"))
    assert doc["chain"]["first_break_seq"] == 1 and all(e["hash_ok"] for e in doc["audit"])
    assert Path(summary["html"]) == tmp_path / "D1-dossier.html" and Path(summary["html"]).is_file()


def test_evidence_rewritten_with_a_matching_hash_still_disagrees_with_the_chain(decided: tuple[World, UUID]) -> None:
    """Whoever edits the evidence and recomputes its hash column is caught by the chained review.recorded entry."""
    world, _ = decided
    with world.sessions() as session:
        review = session.scalars(select(t.GateReview).where(t.GateReview.project_key == "D1")).one()
        review_id, evidence = review.id, dict(review.evidence)
    evidence["budget"] = "1.00"
    forged = _canonical_sha256(evidence)
    world.tamper(
        update(t.GateReview).where(t.GateReview.id == review_id).values(evidence=evidence, evidence_hash=forged)
    )

    dossier = world.dossier("D1")

    (review_doc,) = dossier.reviews
    assert (review_doc.hash_ok, review_doc.audit_ok) == (True, False)
    assert {p.subject for p in dossier.problems} >= {f"review:{review_id}"} and not dossier.verified
    assert all(not v.evidence_ok for v in dossier.rounds[0].votes)


def test_superseded_votes_stay_bound_to_the_evidence_they_saw(world: World) -> None:
    """New evidence under an open round: a second review, the first vote superseded yet still verifiable."""
    round_id = _project(world, "D2")
    world.vote(round_id, "sam", Decision.GO)
    services.record_cost(
        RecordCost(project_key="D2", amount=Decimal(10)), uow=world.uow, now=world.tick(), actor=SYSTEM_ACTOR
    )
    with pytest.raises(ConflictError, match="evidence of D2 changed"):
        world.vote(round_id, "fin", Decision.GO)
    world.vote(round_id, "sam", Decision.GO)

    dossier = world.dossier("D2")

    assert dossier.verified, dossier.problems
    first, second = dossier.reviews
    assert first.evidence_hash != second.evidence_hash
    assert first.round_id == second.round_id == round_id and dossier.rounds[0].evidence_hash == second.evidence_hash
    assert (first.audit_seq, second.audit_seq) != (None, None) and first.audit_seq != second.audit_seq
    old, new = dossier.rounds[0].votes
    assert (old.superseded, old.review_id) == (True, first.id)
    assert (new.superseded, new.review_id) == (False, second.id)
    assert "round.refreshed" in {e.action for e in dossier.audit}
