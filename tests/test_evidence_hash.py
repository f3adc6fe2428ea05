"""The evidence hash is written in one pass by pydantic's serializer (``gates.fingerprint``); stored hashes are
compared with new ones, so its bytes must stay exactly the two-step canonical JSON of ``gates.vocabulary.canonical``."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from phasegate.gates.evaluation import evidence_hash
from phasegate.gates.fingerprint import _writer, canonical_model_json
from phasegate.gates.vocabulary.canonical import canonical_json, sha256_hex
from phasegate.gates.vocabulary.enums import DocumentStatus
from phasegate.gates.vocabulary.evidence import (
    DocumentEvidence,
    EvmSnapshot,
    GateEvidence,
    MilestoneEvidence,
    RiskEvidence,
    ScoreEvidence,
)

pytestmark = pytest.mark.unit  # pure: no database, no Prefect, no browser (make test-fast)

TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
AMOUNT = st.decimals(min_value=0, max_value=Decimal("1e12"), places=2, allow_nan=False, allow_infinity=False)
BIG = st.integers(min_value=-(2**70), max_value=2**70)
MOMENT = st.datetimes(
    timezones=st.sampled_from([None, UTC, timezone(timedelta(hours=8)), timezone(timedelta(hours=-3, minutes=-30))])
)

documents = st.builds(
    DocumentEvidence,
    deliverable_id=TEXT,
    version=BIG,
    sha256=TEXT,
    size=BIG,
    path=TEXT,
    status=st.sampled_from(DocumentStatus),
    approved_by=st.none() | TEXT,
    format=TEXT,
    headings=st.none() | st.lists(TEXT, max_size=4).map(tuple),
    current_sha256=st.none() | TEXT,
    approver_roles=st.lists(TEXT, max_size=3).map(tuple),
    registered_at=st.none() | MOMENT,
    approved_at=st.none() | MOMENT,
)
risks = st.builds(
    RiskEvidence,
    id=TEXT,
    title=TEXT,
    category=TEXT,
    owner=st.none() | TEXT,
    probability=st.integers(min_value=1, max_value=2**40),
    impact=st.integers(min_value=1, max_value=9),
    response=st.none() | TEXT,
    mitigation=TEXT,
    status=TEXT,
)
evidence = st.builds(
    GateEvidence,
    project_key=TEXT,
    template=TEXT,
    gate_id=TEXT,
    stage_id=TEXT,
    as_of=st.none() | st.dates(),
    budget=st.decimals(allow_nan=False, allow_infinity=False),
    currency=TEXT,
    actual_cost=st.decimals(allow_nan=False, allow_infinity=False),
    documents=st.lists(documents, max_size=3).map(tuple),
    roles=st.dictionaries(TEXT, st.lists(TEXT, max_size=2).map(tuple), max_size=4),
    evm=st.none()
    | st.builds(EvmSnapshot, as_of=st.dates(), bac=st.just(Decimal("1e12")), pv=AMOUNT, ev=AMOUNT, ac=AMOUNT),
    stage_budget=st.none() | AMOUNT,
    contingency_used=st.none() | st.decimals(allow_nan=False, allow_infinity=False),
    risks=st.lists(risks, max_size=3).map(tuple),
    milestones=st.lists(
        st.builds(MilestoneEvidence, id=TEXT, name=TEXT, due=st.dates(), done_on=st.none() | st.dates()), max_size=3
    ).map(tuple),
    scores=st.lists(
        st.builds(ScoreEvidence, gatekeeper=TEXT, factor=TEXT, score=st.integers(min_value=0, max_value=2**64)),
        max_size=4,
    ).map(tuple),
)


def _two_step(value: GateEvidence) -> bytes:
    return canonical_json(value.model_dump(mode="json"))


def test_gate_evidence_is_written_in_one_pass() -> None:
    assert _writer(GateEvidence) is not None


@settings(max_examples=300, deadline=None)
@given(evidence)
def test_one_pass_writes_the_bytes_of_the_two_step_canonical_json(value: GateEvidence) -> None:
    writer = _writer(GateEvidence)
    assert writer is not None
    assert writer.to_json(value, warnings="error") == _two_step(value)
    assert evidence_hash(value) == sha256_hex(value.model_dump(mode="json"))


def _plain() -> GateEvidence:
    return GateEvidence(
        project_key="P1",
        template="it-pmo@1",
        gate_id="g",
        stage_id="s",
        as_of=date(2026, 11, 2),
        budget=Decimal("1E+3"),
        currency="USD",
        actual_cost=Decimal("-0.00"),
        documents=(),
        roles={"z": ("b", "a"), "a": (), "é": ("x",), "Z": ("y",)},
    )


def test_a_known_hash_never_changes() -> None:
    payload = canonical_model_json(_plain())
    assert payload == (
        b'{"actual_cost":"-0.00","as_of":"2026-11-02","budget":"1E+3","contingency":null,"contingency_used":null,'
        b'"currency":"USD","documents":[],"evm":null,"gate_id":"g","milestones":[],"project_key":"P1",'
        b'"risks":[],"roles":{"Z":["y"],"a":[],"z":["b","a"],"\xc3\xa9":["x"]},"scores":[],"stage_budget":null,'
        b'"stage_id":"s","stage_spend":null,"template":"it-pmo@1"}'
    )
    assert evidence_hash(_plain()) == hashlib.sha256(payload).hexdigest()


@pytest.mark.filterwarnings("ignore:Pydantic serializer warnings")
def test_values_the_schema_does_not_expect_take_the_two_step_path() -> None:
    odd = _plain().model_copy(update={"budget": 1e16, "roles": {"b": ["x"], "a": ("y",)}})
    assert canonical_model_json(odd) == _two_step(odd)


def test_a_subclass_inside_the_evidence_takes_the_two_step_path() -> None:
    class Extended(ScoreEvidence):
        note: str = "extra"

    value = _plain().model_copy(update={"scores": (Extended(gatekeeper="g", factor="f", score=1),)})
    assert canonical_model_json(value) == _two_step(value)


@pytest.mark.filterwarnings("ignore:Pydantic serializer warnings")
def test_a_model_missing_a_field_or_carrying_another_takes_the_two_step_path() -> None:
    score = ScoreEvidence(gatekeeper="g", factor="f", score=1)
    extra = score.model_copy()
    extra.__dict__["note"] = "not a field"  # what a careless model_construct or __dict__ edit leaves behind
    missing = ScoreEvidence.model_construct(gatekeeper="g", factor="f")  # no score at all
    for odd in (extra, missing):
        value = _plain().model_copy(update={"scores": (odd,)})
        assert canonical_model_json(value) == _two_step(value)


def test_text_that_utf8_cannot_hold_fails_as_it_always_did() -> None:
    value = _plain().model_copy(update={"project_key": "\ud800"})
    with pytest.raises(UnicodeEncodeError):
        evidence_hash(value)


class _One(BaseModel):
    only: str


class _Empty(BaseModel):
    pass


class _Mixed(BaseModel):
    z: tuple[_One, ...]
    a: dict[str, _One]
    m: _Empty
    kind: Literal["x", "y"] = "x"
    when: datetime | None = None


class _Floaty(BaseModel):
    ratio: float


class _Aliased(BaseModel):
    value: int = Field(serialization_alias="a_value")


@pytest.mark.parametrize(
    "value",
    [
        _Mixed(z=(_One(only="b"), _One(only="a")), a={"q": _One(only="1"), "b": _One(only="2")}, m=_Empty()),
        _Mixed(z=(), a={}, m=_Empty(), kind="y", when=datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)),
    ],
)
def test_nested_models_dicts_and_literals_are_written_in_one_pass(value: _Mixed) -> None:
    assert _writer(_Mixed) is not None
    assert canonical_model_json(value) == canonical_json(value.model_dump(mode="json"))


def test_floats_and_aliases_keep_the_two_step_path() -> None:
    assert _writer(_Floaty) is None and _writer(_Aliased) is None
    for value in (_Floaty(ratio=1e16), _Aliased(value=3)):
        assert canonical_model_json(value) == canonical_json(value.model_dump(mode="json"))
