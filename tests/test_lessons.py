"""Lessons learned: relevance scored by hand, full-text search in Chinese and English on SQLite (FTS5 trigram)
and PostgreSQL (pg_trgm), lessons shown at a later review and marked applied, a kill that leaves lessons due,
closure refused without a lesson, and the CLI's refusals.
"""

from __future__ import annotations

import hashlib
import json
from array import array
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from phasegate.gates.relevance import (
    TRIGRAM_SCHEME,
    ReviewContext,
    Scored,
    candidate,
    jaccard,
    lesson_codes,
    most_relevant,
    score,
    trigram_codes,
    trigrams,
)
from phasegate.gates.vocabulary.commands import AddPerson, CastVote, CreateProject, RequestReview
from phasegate.gates.vocabulary.enums import Decision, LessonCategory, LessonUseKind
from phasegate.gates.vocabulary.errors import ConflictError, InputError, PermissionDeniedError
from phasegate.gates.vocabulary.identity import SYSTEM_ACTOR, OrgRole
from phasegate.gates.vocabulary.lessons import LessonDraft, LessonEdit, LessonRecord
from phasegate.models import tables as t
from phasegate.models.db import make_engine, make_session_factory
from phasegate.models.repositories import lessons as repository_lessons
from phasegate.models.repositories.lessons import SqlLessons
from phasegate.models.template_yaml import shipped_templates, template_content_hash
from phasegate.models.uow import SqlUnitOfWork
from phasegate.notifications.render import render
from phasegate.usecases import approvals, services
from phasegate.usecases.ports import UnitOfWork
from tests import actors
from tests.gatekeeping import add_ready_project, probe, variant
from tests.test_api import Api, api  # noqa: F401  (the API fixture, shared)

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def lesson(
    lesson_id: int, *, template: str = "it-pmo", gate: str | None = "g1", tags: tuple[str, ...] = (), what: str = "x"
) -> LessonRecord:
    return LessonRecord(
        id=lesson_id,
        project_key="P",
        template_id=template,
        gate_id=gate,
        round_id=None,
        category=LessonCategory.OTHER,
        tags=tags,
        what_happened=what,
        repeat="",
        avoid="",
        author_id="a",
        created_at=T0,
    )


# pure relevance -----------------------------------------------------------------------------------------------
@pytest.mark.unit
def test_trigrams_and_jaccard_by_hand() -> None:
    assert trigrams("ABcd") == {"abc", "bcd"}
    assert trigrams("供应商延迟") == {"供应商", "应商延", "商延迟"}
    assert trigrams("ab") == frozenset()
    assert jaccard(trigrams("abcd"), trigrams("abce")) == pytest.approx(1 / 3)  # {abc} of {abc, bcd, bce}


@pytest.mark.unit
@given(st.text(max_size=40), st.text(max_size=40))
def test_trigram_codes_are_the_trigrams_one_for_one(a: str, b: str) -> None:
    """Scoring compares codes: they must stand for the trigrams exactly, so the similarity is the documented one."""
    assert len(trigram_codes(a)) == len(trigrams(a))
    decoded = {chr(code >> 42) + chr((code >> 21) & 0x1FFFFF) + chr(code & 0x1FFFFF) for code in trigram_codes(a)}
    assert decoded == trigrams(a)
    shared = len(trigram_codes(a) & trigram_codes(b))
    assert shared == len(trigrams(a) & trigrams(b))


@pytest.mark.unit
def test_score_adds_gate_tags_and_text_as_documented() -> None:
    context = ReviewContext(template_id="it-pmo", gate_id="g1", tags=frozenset({"g1", "budget"}), text="abce")
    # same template and gate 50 + one shared tag 15 + int(30 * 1/3) = 10
    assert score(lesson(1, tags=("budget", "vendor"), what="abcd"), context) == 75
    # same template, other gate 20, nothing else
    assert score(lesson(2, gate="g2", what="zzzz"), context) == 20
    # other template, one shared tag
    assert score(lesson(3, template="cooper-5", tags=("budget",), what="zzzz"), context) == 15
    # nothing in common: never shown
    assert score(lesson(4, template="cooper-5", what="zzzz"), context) == 0


@pytest.mark.unit
def test_most_relevant_ranks_by_score_then_newest_and_keeps_three() -> None:
    context = ReviewContext(template_id="it-pmo", gate_id="g1", tags=frozenset(), text="")
    lessons = [lesson(1), lesson(2, gate="g2"), lesson(3), lesson(4, template="other"), lesson(5, gate="g2"), lesson(6)]
    ranked = most_relevant([candidate(x) for x in lessons], context)
    assert [(r.lesson_id, r.score) for r in ranked] == [(6, 50), (3, 50), (1, 50)]
    assert [r.lesson_id for r in most_relevant([candidate(x) for x in lessons], context, limit=10)] == [6, 3, 1, 5, 2]


# Texts from a few phrases, so a lesson's text often matches the review's well or wholly (up to TEXT_WEIGHT).
_SHORT = st.sampled_from(["vendor late", "vendor was late", "budget overrun", "供应商延迟", "供应商 延迟 预算", ""])
_LESSONS = st.lists(
    st.builds(
        lambda template, gate, tags, what: (template, gate, tags, what),
        st.sampled_from(["it-pmo", "cooper-5"]),
        st.sampled_from(["g1", "g2", None]),
        st.lists(st.sampled_from(["g1", "budget", "doc", "risk"]), max_size=3, unique=True).map(tuple),
        _SHORT,
    ),
    max_size=25,
)


@pytest.mark.unit
@settings(max_examples=300, deadline=None)
@given(
    drawn=_LESSONS,
    tags=st.frozensets(st.sampled_from(["g1", "budget", "doc"])),
    text=_SHORT,
    limit=st.integers(0, 5),
)
def test_most_relevant_is_the_best_of_every_lesson_scored(
    drawn: list[tuple[str, str | None, tuple[str, ...], str]], tags: frozenset[str], text: str, limit: int
) -> None:
    """Stopping early (lessons that cannot reach the chosen ones are not scored) chooses as scoring them all does."""
    lessons = [lesson(n, template=tpl, gate=gate, tags=tg, what=what) for n, (tpl, gate, tg, what) in enumerate(drawn)]
    context = ReviewContext(template_id="it-pmo", gate_id="g1", tags=tags, text=text)
    everyone = sorted((r for r in (Scored(lesson_id=x.id, score=score(x, context)) for x in lessons) if r.score > 0),
                      key=lambda r: (-r.score, -r.lesson_id))  # fmt: skip
    assert most_relevant([candidate(x) for x in lessons], context, limit=limit) == everyone[:limit]


# with a database ------------------------------------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


class Env:
    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.sessions = make_session_factory(self.engine)
        self.clock = Clock()

    def uow(self) -> UnitOfWork:
        return SqlUnitOfWork(self.engine)

    def add(self, project: str, what: str, *, by: str = "mgr", **fields: Any) -> LessonRecord:
        return services.add_lesson(
            LessonDraft(project_key=project, what_happened=what, **fields),
            actor=actors.person(by, OrgRole.MANAGER),
            uow=self.uow,
            now=self.clock(),
        )

    def search(self, query: str) -> list[int]:
        return [found.id for found in services.search_lessons(query, uow=self.uow)]

    def review(self, key: str) -> services.ReviewResult:
        return services.start_review(
            RequestReview(project_key=key), uow=self.uow, now=self.clock(), probe=probe, actor=actors.admin("zed")
        )

    def decide(self, round_id: UUID, decision: Decision) -> None:
        for voter in ("sam", "fin"):
            actors.cast_vote(
                CastVote(round_id=round_id, voter_id=voter, decision=decision, reason="because"),
                uow=self.uow,
                now=self.clock(),
                probe=probe,
            )
        approvals.apply_round_decision(round_id, uow=self.uow, now=self.clock())

    def rows(self, query: Any) -> list[Any]:
        with self.sessions() as session:
            return list(session.execute(query).all())


@pytest.fixture
def env(db_url: str) -> Iterator[Env]:
    e = Env(db_url)
    text, tpl = variant({"policy": "m_of_n", "m": 2, "approvers": ["sponsor", "finance", "pmo"]}, "it-2of3")
    services.publish_template(
        tpl, content_hash=template_content_hash(tpl), source=text, uow=e.uow, now=e.clock(), actor=SYSTEM_ACTOR
    )
    for pid, locale in (("sam", "en"), ("fin", "zh-CN"), ("pam", "en"), ("mgr", "zh-CN"), ("zed", "en")):
        services.add_person(
            AddPerson(
                id=pid,
                name=pid.title(),
                email=f"{pid}@example.com",
                locale=locale,
                notify_urls=(f"json://127.0.0.1:9/{pid}",),
            ),
            uow=e.uow,
            now=e.clock(),
            actor=SYSTEM_ACTOR,
        )
    yield e
    e.engine.dispose()


def test_search_finds_chinese_and_english_on_both_dialects(env: Env) -> None:
    for key in ("S1", "S2"):
        add_ready_project(env.uow, env.clock, key)
    vendor_zh = env.add("S1", "供应商交付延迟导致进度滞后两个月", avoid="依赖单一供应商", tags=("vendor",)).id
    vendor_en = env.add(
        "S1", "Vendor delivery slipped; the schedule lost two months", repeat="Weekly vendor reviews"
    ).id
    scope_zh = env.add("S2", "需求变更未走变更控制流程", category=LessonCategory.SCOPE, tags=("scope",)).id

    assert env.search("供应商") == [vendor_zh]
    assert env.search("单一供应商") == [vendor_zh]  # the avoid field is searched too
    assert set(env.search("VENDOR")) == {vendor_zh, vendor_en}  # any case; the tag counts
    assert env.search("vendor weekly") == [vendor_en]  # every word must match
    assert env.search("变更") == [scope_zh]  # two characters: no trigram, matched as a substring
    assert env.search("供应 延迟") == [vendor_zh]
    assert env.search("两个月") == [vendor_zh]
    assert env.search("nothing-like-this") == []
    for hostile in ('vendor"', "100%", "a_b", "NEAR(vendor", "*"):
        assert env.search(hostile) == []  # query syntax stays text: no error, no match
    with pytest.raises(InputError, match="QUERY"):
        services.search_lessons("   ", uow=env.uow)

    # An edit is searched as edited (SQLite's FTS table follows by trigger; PostgreSQL reads the column).
    services.edit_lesson(
        scope_zh,
        LessonEdit(what_happened="Scope creep went through no change control"),
        actor=actors.person("mgr", OrgRole.MANAGER),
        uow=env.uow,
        now=env.clock(),
    )
    assert env.search("变更控制") == []
    assert env.search("scope creep") == [scope_zh]
    assert [found.id for found in services.list_lessons(uow=env.uow, project_key="S1")] == [vendor_zh, vendor_en]
    assert [found.id for found in services.list_lessons(uow=env.uow, category=LessonCategory.SCOPE)] == [scope_zh]


@pytest.mark.postgres
def test_postgresql_search_is_served_by_a_pg_trgm_gin_index(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        with engine.connect() as connection:
            definition = connection.exec_driver_sql(
                "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_lessons_search_trgm'"
            ).scalar()
    finally:
        engine.dispose()
    assert definition is not None and "gin" in definition and "gin_trgm_ops" in definition


def test_a_later_review_shows_the_lesson_and_a_gatekeeper_marks_it_applied(env: Env) -> None:
    add_ready_project(env.uow, env.clock, "OLD")
    first = env.review("OLD")
    assert first.round_id is not None and first.lessons == ()  # nothing learned yet
    env.decide(first.round_id, Decision.KILL)
    taught = env.add(
        "OLD",
        "Charter signed before the budget was agreed with finance",
        avoid="Signing the charter without a finance review",
        round_id=first.round_id,
        tags=("budget",),
    )
    assert taught.gate_id == first.evaluation.gate_id  # the round's gate, taken from the round

    add_ready_project(env.uow, env.clock, "NEW")
    later = env.review("NEW")
    assert later.round_id is not None
    assert [(shown["id"], shown["score"]) for shown in later.lessons][:1] == [(taught.id, later.lessons[0]["score"])]
    assert later.lessons[0]["score"] >= 50  # same template and gate

    # In the approvers' requests (both languages) and their packet, and recorded as shown.
    requests = env.rows(
        select(t.OutboxMessage.locale, t.OutboxMessage.context).where(
            t.OutboxMessage.kind == "approval_requested", t.OutboxMessage.idempotency_key.like(f"%{later.round_id}%")
        )
    )
    assert {locale for locale, _ in requests} == {"en", "zh-CN"}
    for locale, context in requests:
        assert context["lessons"][0]["id"] == taught.id and context["packet"]["lessons"][0]["id"] == taught.id
        message = render("approval_requested", locale, context)
        assert "Charter signed before the budget" in message.body_markdown
        assert ("Lessons learned" if locale == "en" else "经验教训") in message.body_markdown
        assert f"phasegate lesson applied ID --round {later.round_id}" in message.body_markdown
        assert "Signing the charter without a finance review" in message.body_html
    view = services.show_lesson(taught.id, uow=env.uow)
    assert [(u.kind, u.project_key, u.round_id) for u in view.uses] == [(LessonUseKind.SHOWN, "NEW", later.round_id)]

    assert approvals_apply(env, taught.id, later.round_id, "sam") is True
    assert approvals_apply(env, taught.id, later.round_id, "sam") is False  # once per gatekeeper and round
    with pytest.raises(PermissionDeniedError, match="no seat"):
        approvals_apply(env, taught.id, later.round_id, "zed")
    with pytest.raises(ConflictError, match="learned in round"):
        approvals_apply(env, taught.id, first.round_id, "sam")
    uses = services.show_lesson(taught.id, uow=env.uow).uses
    assert [(u.kind, u.person_id) for u in uses] == [(LessonUseKind.SHOWN, "system"), (LessonUseKind.APPLIED, "sam")]


def test_a_review_ranks_lessons_as_they_read_now_after_an_edit_or_a_new_one(env: Env) -> None:
    """A lesson's tags and trigrams are kept between reviews (``SqlLessons.candidates``): a review after an edit or a
    new lesson, in the same process, must rank them as they read now, not as the first review saw them."""
    add_ready_project(env.uow, env.clock, "P1")
    old = env.add("P1", "Unrelated words about catering")
    other = env.add("P1", "More unrelated words about parking")
    add_ready_project(env.uow, env.clock, "ZEBRAQUOKKA1")
    first = env.review("ZEBRAQUOKKA1")
    assert [(shown["id"], shown["score"]) for shown in first.lessons] == [(other.id, 20), (old.id, 20)]  # newest first

    services.edit_lesson(
        old.id,
        LessonEdit(what_happened="zebraquokka zebraquokka", tags=(first.evaluation.gate_id,)),
        actor=actors.admin("pam"),
        uow=env.uow,
        now=env.clock(),
    )
    newest = env.add("P1", "Parking again")
    add_ready_project(env.uow, env.clock, "ZEBRAQUOKKA2")
    second = env.review("ZEBRAQUOKKA2")
    shown = [(lesson["id"], lesson["score"]) for lesson in second.lessons]
    assert shown[0][0] == old.id and shown[0][1] > 20 + 15  # its new text matches the project's name, its tag the gate
    assert [lesson_id for lesson_id, _ in shown[1:]] == [newest.id, other.id]


def test_a_review_reuses_its_list_of_lessons_until_anything_writes_to_the_register(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Migration 0019's triggers restamp the register on every write to ``lessons``, whoever writes it: a review reads
    the lessons again after an add, an edit or a delete made in SQL by hand, and not after writes elsewhere (the
    reviews themselves, their lessons shown) or a write that rolled back. An edit that leaves ``edited_at`` alone
    still moves the lesson's revision (migration 0020), so the tags and trigrams kept for it are not reused."""
    reads: list[int] = []
    read_candidates = SqlLessons._read_candidates

    def counted(self: SqlLessons, engine: Any) -> Any:
        reads.append(1)
        return read_candidates(self, engine)

    monkeypatch.setattr(SqlLessons, "_read_candidates", counted)

    gates: list[str] = []

    def shown(key: str) -> list[int]:
        add_ready_project(env.uow, env.clock, key)
        review = env.review(key)
        gates.append(review.evaluation.gate_id)
        return [lesson["id"] for lesson in review.lessons]

    add_ready_project(env.uow, env.clock, "P1")
    catering = env.add("P1", "Unrelated words about catering")
    assert shown("R1") == [catering.id] and len(reads) == 1
    assert shown("R2") == [catering.id] and len(reads) == 1  # R1's commit wrote lesson_uses, not lessons
    with env.engine.connect() as connection:
        connection.execute(text("UPDATE lessons SET gate_id = 'nowhere'"))
        connection.rollback()
    assert shown("R3") == [catering.id] and len(reads) == 1

    parking = env.add("P1", "More unrelated words about parking")
    assert shown("R4") == [parking.id, catering.id] and len(reads) == 2
    with env.engine.begin() as connection:  # by hand, as an edit does: a tag naming the gate reviewed scores
        connection.execute(
            text("UPDATE lessons SET tags = :tags, edited_at = :at WHERE id = :id"),
            {"tags": json.dumps([gates[0]]), "at": env.clock(), "id": catering.id},
        )
    assert shown("R5") == [catering.id, parking.id] and len(reads) == 3
    with env.engine.begin() as connection:  # by hand, leaving edited_at alone: migration 0020's revision moves
        connection.execute(text("UPDATE lessons SET tags = :tags WHERE id = :id"), {"tags": "[]", "id": catering.id})
        connection.execute(
            text("UPDATE lessons SET tags = :tags WHERE id = :id"), {"tags": json.dumps([gates[0]]), "id": parking.id}
        )
    assert shown("R6") == [parking.id, catering.id] and len(reads) == 4
    with env.engine.begin() as connection:
        connection.execute(text("DELETE FROM lesson_uses WHERE lesson_id = :id"), {"id": catering.id})
        connection.execute(text("DELETE FROM lessons WHERE id = :id"), {"id": catering.id})
    assert shown("R7") == [parking.id] and len(reads) == 5


def test_a_lessons_trigram_codes_are_kept_in_its_row_and_always_those_of_its_text(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Migration 0020: the app writes a lesson's codes with its text; the database clears them when the text changes
    without them (by hand), and the first review to miss them writes them back. A fresh process (a new engine, as a
    CLI ``gate review`` is) then cuts no text at all."""
    add_ready_project(env.uow, env.clock, "P1")
    first = env.add("P1", "Vendor 供应商 slipped the delivery", repeat="Weekly check-ins")
    second = env.add("P1", "Catering was late")

    def kept(lesson_id: int) -> tuple[Any, ...]:
        with env.engine.connect() as connection:
            row = connection.execute(
                text("SELECT trigrams, trigrams_scheme, revision FROM lessons WHERE id = :id"), {"id": lesson_id}
            ).one()
        codes = None if row[0] is None else frozenset(array("q", bytes(row[0])))
        return codes, row[1], row[2]

    assert kept(first.id) == (lesson_codes(first.what_happened, first.repeat, first.avoid), TRIGRAM_SCHEME, 0)
    services.edit_lesson(
        first.id, LessonEdit(avoid="Single sourcing"), actor=actors.person("mgr"), uow=env.uow, now=env.clock()
    )
    assert kept(first.id) == (lesson_codes(first.what_happened, first.repeat, "Single sourcing"), TRIGRAM_SCHEME, 1)
    with env.engine.begin() as connection:  # by hand: the text without its codes, the tags alone
        connection.execute(
            text("UPDATE lessons SET what_happened = 'Parking ran out' WHERE id = :id"), {"id": first.id}
        )
        connection.execute(text("UPDATE lessons SET tags = '[\"x\"]' WHERE id = :id"), {"id": second.id})
    assert kept(first.id) == (None, TRIGRAM_SCHEME, 2)
    assert kept(second.id) == (lesson_codes(second.what_happened, second.repeat, second.avoid), TRIGRAM_SCHEME, 1)

    cut: list[str] = []
    counted = repository_lessons.lesson_codes

    def counting(*texts: str) -> frozenset[int]:
        cut.append(" ".join(texts))
        return counted(*texts)

    monkeypatch.setattr(repository_lessons, "lesson_codes", counting)
    with env.engine.begin() as connection:  # codes of an older scheme are as good as none
        connection.execute(text("UPDATE lessons SET trigrams_scheme = 0 WHERE id = :id"), {"id": second.id})
    fresh = Env(env.engine.url.render_as_string(hide_password=False))
    try:
        add_ready_project(fresh.uow, fresh.clock, "R1")
        fresh.review("R1")
        assert len(cut) == 2  # the two lessons without codes of this scheme, each cut once and written back
        assert kept(first.id) == (lesson_codes("Parking ran out", first.repeat, "Single sourcing"), TRIGRAM_SCHEME, 2)
        assert kept(second.id) == (lesson_codes(second.what_happened, second.repeat, second.avoid), TRIGRAM_SCHEME, 1)
    finally:
        fresh.engine.dispose()
    again = Env(env.engine.url.render_as_string(hide_password=False))
    try:
        add_ready_project(again.uow, again.clock, "R2")
        review = again.review("R2")
        assert len(cut) == 2 and {lesson["id"] for lesson in review.lessons} == {first.id, second.id}
    finally:
        again.engine.dispose()


@pytest.mark.unit
def test_the_trigram_scheme_names_the_codes_a_text_gets() -> None:
    """Rows keep codes under ``TRIGRAM_SCHEME``: a change to the codes (``_normal``, the coding) must come with a new
    scheme, or rows would keep codes no text gets any more. Pinned: a digest of the codes of one mixed text."""
    codes = sorted(trigram_codes("Vendor 供应商 SLIPPED the delivery, again: 交付延迟 (Q3)!"))
    digest = hashlib.sha256(b"".join(code.to_bytes(8, "little") for code in codes)).hexdigest()[:16]
    assert (TRIGRAM_SCHEME, digest) == (1, "daab10e57c3528e3")


def approvals_apply(env: Env, lesson_id: int, round_id: UUID, by: str) -> bool:
    return services.mark_applied(lesson_id, round_id, actor=actors.person(by), uow=env.uow, now=env.clock())


def test_a_kill_without_lessons_leaves_them_due_and_closure_waits_for_one(env: Env) -> None:
    add_ready_project(env.uow, env.clock, "K1")
    review = env.review("K1")
    assert review.round_id is not None
    env.decide(review.round_id, Decision.KILL)  # never blocked for want of a lesson
    due = services.lessons_due(uow=env.uow)
    assert [(d.project_key, d.owner_id, d.gate_id) for d in due] == [("K1", "mgr", review.evaluation.gate_id)]
    reminders = env.rows(
        select(t.OutboxMessage.recipient_id, t.OutboxMessage.locale, t.OutboxMessage.context).where(
            t.OutboxMessage.kind == "lesson_due"
        )
    )
    assert [(r[0], r[1]) for r in reminders] == [("mgr", "zh-CN")]
    zh = render("lesson_due", "zh-CN", reminders[0][2])
    assert "经验教训" in zh.title and "phasegate lesson add K1" in zh.body_markdown
    assert "Lessons learned due" in render("lesson_due", "en", reminders[0][2]).title

    with pytest.raises(InputError, match="no lessons learned yet") as refused:
        approvals.close_project("K1", actor=actors.person("sam"), lessons="", uow=env.uow, now=env.clock())
    assert refused.value.code == "lesson.required"
    filed = env.add("K1", "We kept building after the market test said no", category=LessonCategory.GOVERNANCE)
    assert services.lessons_due(uow=env.uow) == []
    assert [d.lesson_id for d in services.lessons_due(uow=env.uow, open_only=False)] == [filed.id]
    assert approvals.close_project("K1", actor=actors.person("sam"), lessons="", uow=env.uow, now=env.clock()).closed


def test_a_kill_after_lessons_were_filed_owes_nothing(env: Env) -> None:
    add_ready_project(env.uow, env.clock, "K2")
    env.add("K2", "Early lesson")
    review = env.review("K2")
    assert review.round_id is not None
    env.decide(review.round_id, Decision.KILL)
    assert services.lessons_due(uow=env.uow) == []
    assert env.rows(select(t.OutboxMessage.id).where(t.OutboxMessage.kind == "lesson_due")) == []


def test_who_may_file_and_edit_and_what_is_refused(env: Env) -> None:
    add_ready_project(env.uow, env.clock, "A1")
    with pytest.raises(PermissionDeniedError, match="may not record a lesson learned"):
        services.add_lesson(
            LessonDraft(project_key="A1", what_happened="x"),
            actor=actors.person("pam", OrgRole.VIEWER),
            uow=env.uow,
            now=env.clock(),
        )
    filed = env.add("A1", "Kick-off without the operations team", tags=("Ops", "ops", " handover "))
    assert filed.tags == ("ops", "handover")  # lower-cased, trimmed, once each
    with pytest.raises(PermissionDeniedError, match="may not edit a lesson learned"):
        services.edit_lesson(filed.id, LessonEdit(repeat="y"), actor=actors.person("sam"), uow=env.uow, now=env.clock())
    edited = services.edit_lesson(
        filed.id,
        LessonEdit(repeat="Invite operations to the kick-off"),
        actor=actors.admin("pam"),
        uow=env.uow,
        now=env.clock(),
    )
    assert (edited.repeat, edited.edited_by) == ("Invite operations to the kick-off", "pam")
    with pytest.raises(InputError, match="--gate"):
        env.add("A1", "x", gate_id="no-such-gate")
    with pytest.raises(InputError, match="nothing to change"):
        services.edit_lesson(filed.id, LessonEdit(), actor=actors.admin("pam"), uow=env.uow, now=env.clock())
    actions = [row[0] for row in env.rows(select(t.AuditEntry.action).order_by(t.AuditEntry.seq))]
    assert actions.count("lesson.added") == 1 and "lesson.edited" in actions
    assert actions.count("security.refused") == 2  # the viewer's lesson and sam's edit
    with pytest.raises(Exception, match="category"):
        LessonDraft(project_key="A1", what_happened="x", category="gossip")  # type: ignore[arg-type]


# the CLI ---------------------------------------------------------------------------------------------------------
def test_cli_adds_searches_shows_and_refuses_bad_input_with_exit_2(sqlite_url: str) -> None:
    from tests.test_cli import PILOT, PILOT_PEOPLE, Cli, ready

    cli = Cli.of(sqlite_url)
    ready(
        cli.url,
        people=PILOT_PEOPLE,
        projects=[PILOT],
    )
    added = cli.json(
        "lesson", "add", "P1", "--what", "供应商交付延迟", "--avoid", "single vendor", "--category", "procurement",
        "--tags", "vendor, 供应商", "--gate", "ready-for-planning",
    )  # fmt: skip
    assert added["id"] == 1 and added["tags"] == ["vendor", "供应商"] and added["gate_id"] == "ready-for-planning"
    assert "#1" in cli.run("lesson", "search", "供应商").stdout
    assert [found["id"] for found in cli.json("lesson", "search", "SINGLE", "vendor")] == [1]
    assert "no lesson matches" in cli.run("lesson", "search", "nothing").stdout
    assert "avoid: single vendor" in cli.run("lesson", "show", "1").stdout
    cli.run("lesson", "edit", "#1", "--repeat", "two vendors")
    assert cli.json("lesson", "show", "1")["lesson"]["repeat"] == "two vendors"
    before = cli.audit_count()
    for args, says in (
        (("lesson", "add", "P1", "--what", "x", "--category", "gossip"), "--category"),
        (("lesson", "add", "P1", "--what", "  "), "--what"),
        (("lesson", "add", "P1", "--what", "x", "--gate", "nope"), "--gate"),
        (("lesson", "add", "NOPE", "--what", "x"), "NOPE"),
        (("lesson", "show", "abc"), "ID"),
        (("lesson", "show", "99"), "unknown lesson 99"),
        (("lesson", "applied", "1", "--round", "r"), "ROUND"),
        (("lesson", "list", "--category", "gossip"), "--category"),
    ):
        done = cli.run(*args, expect=2)
        assert says in done.stderr, (args, done.stderr)
    assert cli.audit_count() == before  # nothing written


# the API and the page --------------------------------------------------------------------------------------------
def test_api_files_searches_edits_and_refuses_with_problems(api: Api) -> None:  # noqa: F811
    project = {"key": "L1", "name": "Pilot", "template_id": "it-pmo", "sponsor_id": "sam", "manager_id": "mgr"}
    assert api.post("/projects", project | {"budget": "1000.00"}).status_code == 201
    body = {"project_key": "L1", "what_happened": "需求变更未走变更控制流程", "category": "scope", "tags": ["Scope"]}
    created = api.post("/lessons", body, who="sponsor")
    assert created.status_code == 201, created.text
    lesson = created.json()
    assert (lesson["id"], lesson["tags"], lesson["author_id"]) == (1, ["scope"], "sam")
    assert [found["id"] for found in api.get("/lessons", q="变更控制").json()["items"]] == [1]
    assert api.get("/lessons", q="budget").json()["items"] == []
    assert api.get("/lessons", category="scope").json()["total"] == 1
    assert api.get("/lessons/1").json()["lesson"]["category"] == "scope"
    assert api.get("/lessons/99").status_code == 404
    patched = api.client.patch("/api/v1/lessons/1", json={"avoid": "口头变更"}, headers=api.headers("sponsor"))
    assert patched.status_code == 200 and patched.json()["avoid"] == "口头变更"
    before = len(api.audit())
    assert api.post("/lessons", body, who="viewer").status_code == 403  # a read-only token
    assert api.post("/lessons", body, who="outsider").status_code == 201  # a gatekeeper may file
    refused = api.client.patch("/api/v1/lessons/1", json={"avoid": "x"}, headers=api.headers("outsider"))
    assert refused.status_code == 403  # not the author
    for bad in ({**body, "category": "gossip"}, {**body, "what_happened": " "}, {**body, "tags": [" "]}):
        answer = api.post("/lessons", bad, who="sponsor")
        assert answer.status_code == 422, answer.text
    unknown_gate = api.post("/lessons", {**body, "gate_id": "nope"}, who="sponsor")
    assert unknown_gate.status_code == 422 and "--gate" in unknown_gate.text
    assert api.get("/lessons/due").json() == []
    actions = api.audit()[before:]
    assert actions.count("lesson.added") == 1 and actions.count("security.refused") == 2


def test_lessons_page_searches_in_both_languages_for_signed_in_people(sqlite_url: str, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from phasegate.models.settings import Settings
    from phasegate.web.app import create_app
    from tests.signin import csrf_token, give_password, sign_in

    e = Env(sqlite_url)
    for source, template in shipped_templates():
        services.publish_template(
            template,
            content_hash=template_content_hash(template),
            source=source,
            uow=e.uow,
            now=e.clock(),
            actor=SYSTEM_ACTOR,
        )
    services.add_person(
        AddPerson(id="mgr", name="王芳", email="m@example.com", roles=frozenset({OrgRole.MANAGER})),
        uow=e.uow,
        now=e.clock(),
        actor=SYSTEM_ACTOR,
    )
    services.add_person(
        AddPerson(id="sam", name="Sam", email="s@example.com", roles=frozenset({OrgRole.GATEKEEPER})),
        uow=e.uow,
        now=e.clock(),
        actor=SYSTEM_ACTOR,
    )

    services.create_project(
        CreateProject(key="W1", template_id="it-pmo", name="W", sponsor_id="sam", manager_id="mgr", budget=1),
        uow=e.uow,
        now=e.clock(),
        actor=SYSTEM_ACTOR,
    )
    e.add("W1", "供应商交付延迟", tags=("vendor",))
    e.add("W1", "Kick-off without operations")
    give_password(e.sessions, "mgr")
    with TestClient(create_app(Settings(database_url=sqlite_url, home=tmp_path / "home"))) as client:
        assert client.get("/lessons", follow_redirects=False).status_code in (302, 303)  # sign-in first
        assert sign_in(client, "mgr", next_path="/lessons").status_code == 303
        everything = client.get("/lessons")
        assert everything.status_code == 200 and everything.text.count("data-lesson=") == 2
        chinese = client.get("/lessons", params={"q": "供应商", "lang": "zh-CN"})
        assert (
            "经验教训" in chinese.text and chinese.text.count("data-lesson=") == 1 and "供应商交付延迟" in chinese.text
        )
        english = client.get("/lessons", params={"q": "operations", "lang": "en"})
        assert "Lessons learned" in english.text and 'data-lesson="2"' in english.text
        assert "No lesson matches" in client.get("/lessons", params={"q": "zzzz"}).text
        # Its author edits lesson 1 from the page; the form is CSRF-bound to this browser and this lesson.
        form = client.get("/lessons/1/edit", params={"lang": "zh-CN"})
        assert form.status_code == 200 and "编辑经验教训" in form.text and "供应商交付延迟" in form.text
        fields = {
            "csrf_token": csrf_token(form.text),
            "what_happened": "供应商交付延迟两周",
            "category": "procurement",
            "tags": "vendor, 供应商",
            "repeat": "两家供应商",
            "avoid": "",
        }
        saved = client.post("/lessons/1/edit", data=fields, follow_redirects=False)
        assert saved.status_code == 303 and saved.headers["location"] == "/lessons#lesson-1"
        shown = services.show_lesson(1, uow=e.uow).lesson
        assert (shown.what_happened, shown.category.value, shown.tags, shown.repeat) == (
            "供应商交付延迟两周",
            "procurement",
            ("vendor", "供应商"),
            "两家供应商",
        )
        assert client.post("/lessons/2/edit", data=fields, follow_redirects=False).status_code == 403  # token of #1
        bad = client.post("/lessons/1/edit", data=fields | {"category": "gossip"}, follow_redirects=False)
        assert bad.status_code == 400 and "category" in bad.text
        assert services.show_lesson(1, uow=e.uow).lesson.category.value == "procurement"  # nothing written
    give_password(e.sessions, "sam")
    with TestClient(create_app(Settings(database_url=sqlite_url, home=tmp_path / "home"))) as client:
        assert sign_in(client, "sam", next_path="/lessons").status_code == 303
        form = client.get("/lessons/1/edit")
        refused = client.post(
            "/lessons/1/edit",
            data={"csrf_token": csrf_token(form.text), "what_happened": "rewritten by someone else"},
            follow_redirects=False,
        )
        assert refused.status_code == 403  # a gatekeeper who is not the author
    assert services.show_lesson(1, uow=e.uow).lesson.what_happened == "供应商交付延迟两周"
    with e.sessions() as session:
        actions = list(session.scalars(select(t.AuditEntry.action).order_by(t.AuditEntry.seq)))
    assert actions.count("lesson.edited") == 1 and actions[-1] == "security.refused"
    e.engine.dispose()


def test_migration_0012_turns_old_closing_notes_into_lessons_and_back(empty_db_url: str) -> None:
    """Free-text ``lessons_learned`` rows (before 0012) become lessons of category other, searchable; a
    downgrade puts them back."""
    import uuid

    import sqlalchemy as sa

    from phasegate.models import schema

    schema.upgrade(empty_db_url, "0011")
    e = Env(empty_db_url)
    try:
        for source, template in shipped_templates():
            services.publish_template(
                template,
                content_hash=template_content_hash(template),
                source=source,
                uow=e.uow,
                now=e.clock(),
                actor=SYSTEM_ACTOR,
            )
        for pid in ("sam", "mgr"):
            services.add_person(
                AddPerson(id=pid, name=pid, email=f"{pid}@example.com"), uow=e.uow, now=e.clock(), actor=SYSTEM_ACTOR
            )
        # The project as a row of 0011's table: today's use case writes columns later revisions added.
        cooper = next(tpl for _, tpl in shipped_templates() if (tpl.id, tpl.version) == ("cooper-5", 1))
        names = ("key", "name", "template_id", "template_version", "template_hash", "sponsor_id", "manager_id")
        names += ("budget", "currency", "status", "stage_id", "recycle_count", "created_at", "updated_at")
        projects = sa.table("projects", *(sa.column(name) for name in names))
        with e.engine.begin() as connection:
            connection.execute(
                projects.insert(),
                [
                    {
                        "key": "OLD",
                        "name": "O",
                        "template_id": "cooper-5",
                        "template_version": 1,
                        "template_hash": template_content_hash(cooper),
                        "sponsor_id": "sam",
                        "manager_id": "mgr",
                        "budget": 1,
                        "currency": "EUR",
                        "status": "active",
                        "stage_id": cooper.stages[0].id,
                        "recycle_count": 0,
                        "created_at": T0,
                        "updated_at": T0,
                    }
                ],
            )
        old = sa.table(
            "lessons_learned",
            sa.column("id", sa.Uuid()),
            sa.column("project_key", sa.String()),
            sa.column("text", sa.Text()),
            sa.column("recorded_by", sa.String()),
            sa.column("recorded_at", sa.DateTime(timezone=True)),
        )
        with e.engine.begin() as connection:
            connection.execute(
                old.insert(),
                [
                    {
                        "id": uuid.uuid4(),
                        "project_key": "OLD",
                        "text": "需求冻结太晚",
                        "recorded_by": "sam",
                        "recorded_at": T0,
                    }
                ],
            )
    finally:
        e.engine.dispose()
    schema.upgrade(empty_db_url)
    e = Env(empty_db_url)
    try:
        [moved] = services.list_lessons(uow=e.uow)
        assert (moved.project_key, moved.template_id, moved.category, moved.author_id) == (
            "OLD",
            "cooper-5",
            LessonCategory.OTHER,
            "sam",
        )
        assert e.search("需求冻结") == [moved.id]
    finally:
        e.engine.dispose()
    schema.downgrade(empty_db_url, "0011")
    engine = make_engine(empty_db_url)
    try:
        with engine.connect() as connection:
            back = connection.execute(sa.select(old.c.project_key, old.c.text, old.c.recorded_by)).all()
    finally:
        engine.dispose()
    assert [tuple(row) for row in back] == [("OLD", "需求冻结太晚", "sam")]
