"""Risk, schedule and scorecard criteria at their boundaries, plus the scorecard's order and monotonicity laws.

Each boundary is tested on both sides: exactly at a threshold and one step beyond (one score point, one day,
0.1 percentage point), because an off-by-one there silently moves a project through a gate.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phasegate.gates.criteria import REGISTRY, Criterion
from phasegate.gates.evaluation import evaluate_gate, recommend
from phasegate.gates.risk import DEFAULT_MITIGATING, RISK_CRITERIA, risk_band, validate_risk
from phasegate.gates.risk import PARAMS as RISK_PARAMS
from phasegate.gates.risk import param_problems as risk_param_problems
from phasegate.gates.schedule import SCHEDULE_CRITERIA, days_overdue
from phasegate.gates.schedule import param_problems as schedule_param_problems
from phasegate.gates.scorecard import SCORECARD_CRITERIA, ScorecardSummary, summarize
from phasegate.gates.scorecard import param_problems as scorecard_param_problems
from phasegate.gates.vocabulary.enums import CriterionKind, Recommendation
from phasegate.gates.vocabulary.errors import InputError
from phasegate.gates.vocabulary.evidence import GateEvidence, MilestoneEvidence, RiskEvidence, ScoreEvidence
from phasegate.gates.vocabulary.snapshots import CriterionResult
from phasegate.gates.vocabulary.template import (
    COOPER_FACTORS,
    CriterionDef,
    FactorDef,
    GateDef,
    LifecycleTemplate,
    RiskBandDef,
    RiskScaleDef,
    ScorecardDef,
    StageDef,
)

pytestmark = pytest.mark.unit  # pure: no database, no Prefect, no browser (make test-fast)

Params = dict[str, str | int | float | bool]
AS_OF = date(2026, 6, 1)
MISSING = "missing"  # expected outcome: passed False, evidence_missing True


def make_template(scorecard: ScorecardDef | None = None, scale: RiskScaleDef | None = None) -> LifecycleTemplate:
    gate = GateDef(id="g3", name="Go to development", after="business-case", scorecard=scorecard)
    return LifecycleTemplate(
        id="t",
        version=1,
        name="test",
        stages=(StageDef(id="business-case", name="Business case"), StageDef(id="development", name="Development")),
        gates=(gate,),
        risk_scale=scale or RiskScaleDef(),
    )


def make_evidence(**fields: Any) -> GateEvidence:
    defaults: dict[str, Any] = {
        "project_key": "P-1",
        "template": "t@1",
        "gate_id": "g3",
        "stage_id": "business-case",
        "as_of": AS_OF,
        "budget": Decimal(100000),
        "currency": "CNY",
        "actual_cost": Decimal(0),
        "documents": (),
    }
    return GateEvidence(**(defaults | fields))


def run(
    code: str,
    evidence: GateEvidence,
    params: Params | None = None,
    *,
    template: LifecycleTemplate | None = None,
    kind: CriterionKind = CriterionKind.MUST_MEET,
) -> CriterionResult:
    template = template or make_template()
    criteria: dict[str, Criterion] = {**RISK_CRITERIA, **SCHEDULE_CRITERIA, **SCORECARD_CRITERIA}
    return criteria[code](
        CriterionDef(code=code, kind=kind, params=params or {}), template.gates[0], template, evidence
    )


def check(result: CriterionResult, expected: bool | str) -> None:
    assert result.message and result.message_zh
    if expected == MISSING:
        assert not result.passed and result.evidence_missing, result.message
        assert result.remediation and result.remediation_zh
    else:
        assert result.passed is expected and not result.evidence_missing, result.message
        assert bool(result.remediation) is not expected and bool(result.remediation_zh) is not expected


def risk(
    rid: str,
    p: int,
    i: int,
    *,
    owner: str | None = "ann",
    response: str | None = "mitigate",
    mitigation: str = "second supplier qualified",
    status: str = "open",
) -> RiskEvidence:
    return RiskEvidence(
        id=rid, title=rid, probability=p, impact=i, owner=owner, response=response, mitigation=mitigation, status=status
    )


# --- risk scale helpers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "band"),
    [
        (1, "low"),
        (4, "low"),
        (5, "medium"),
        (9, "medium"),
        (10, "high"),
        (15, "high"),
        (16, "critical"),
        (25, "critical"),
    ],
)
def test_risk_band_uses_the_scale_bands(score: int, band: str) -> None:
    assert risk_band(score, RiskScaleDef()).name == band


@pytest.mark.parametrize("score", [0, 26, -3])
def test_risk_band_rejects_scores_off_the_scale(score: int) -> None:
    with pytest.raises(InputError, match=rf"risk score {score} is outside the scale 1\.\.25"):
        risk_band(score, RiskScaleDef())


def test_validate_risk_names_each_input_out_of_range() -> None:
    scale = RiskScaleDef()
    assert validate_risk(1, 1, scale) == []
    assert validate_risk(5, 5, scale) == []
    assert validate_risk(6, 0, scale) == [
        "probability 6 is outside the scale 1..5",
        "impact 0 is outside the scale 1..5",
    ]


# --- risk.top_band_mitigated -------------------------------------------------------------------------------

# fmt: off
TOP_BAND: list[tuple[str, tuple[RiskEvidence, ...], Params, bool | str]] = [
    ("empty register", (), {}, True),
    ("empty register, register required", (), {"require_register": True}, MISSING),
    ("only closed risks, register required", (risk("R1", 5, 5, owner=None, status="closed"),),
     {"require_register": True}, True),
    ("top band, owned and mitigated", (risk("R1", 4, 4),), {}, True),
    ("top band at 16, no owner", (risk("R1", 4, 4, owner=None),), {}, False),
    ("top band, blank owner", (risk("R1", 5, 5, owner="  "),), {}, False),
    ("top band, no mitigation text", (risk("R1", 5, 5, mitigation=" "),), {}, False),
    ("top band, no response", (risk("R1", 5, 5, response=None),), {}, False),
    ("top band, accepted", (risk("R1", 5, 5, response="accept"),), {}, False),
    ("top band, accepted where accept counts", (risk("R1", 5, 5, response="accept"),),
     {"responses": "mitigate, accept"}, True),
    ("top band, mitigated where only avoid counts", (risk("R1", 5, 5),), {"responses": "avoid"}, False),
    ("top band, response written loosely", (risk("R1", 5, 5, response=" Transfer "),), {}, True),
    ("high band at 15, no owner or plan: not top", (risk("R1", 3, 5, owner=None, response=None, mitigation=""),),
     {}, True),
    ("closed top-band risk ignored", (risk("R1", 5, 5, owner=None, status="closed"),), {}, True),
    ("retired, any case, ignored", (risk("R1", 5, 5, owner=None, status=" Retired"),), {}, True),
    ("unfamiliar status still counts", (risk("R1", 5, 5, owner=None, status="monitoring"),), {}, False),
    ("off the scale only", (risk("R1", 6, 5),), {}, MISSING),
    ("off the scale and a real gap: the gap wins", (risk("R1", 6, 5), risk("R2", 4, 5, owner=None)), {}, False),
]
# fmt: on


@pytest.mark.parametrize(("case", "risks", "params", "expected"), TOP_BAND, ids=[c[0] for c in TOP_BAND])
def test_top_band_mitigated(case: str, risks: tuple[RiskEvidence, ...], params: Params, expected: bool | str) -> None:
    check(run("risk.top_band_mitigated", make_evidence(risks=risks), params), expected)


def test_top_band_failure_lists_each_risk_with_score_and_band() -> None:
    risks = (
        risk("R-1", 4, 4, owner=None),
        risk("R-2", 5, 5, response="accept", mitigation=""),
        risk("R-3", 5, 4),  # fine
        risk("R-4", 3, 5, owner=None),  # high, not top
    )
    result = run("risk.top_band_mitigated", make_evidence(risks=risks))
    assert not result.passed and not result.evidence_missing
    assert result.measured == "2 unmitigated of 3"
    assert "R-2 (score 25, critical): response 'accept' does not reduce it" in result.message
    assert "no mitigation plan" in result.message
    assert "R-1 (score 16, critical): no owner" in result.message
    assert "R-3" not in result.message and "R-4" not in result.message
    assert "R-2（评分 25，极高）" in result.message_zh and "未指定负责人" in result.message_zh
    assert result.message.index("R-2") < result.message.index("R-1")  # worst first


def test_top_band_follows_the_template_scale() -> None:
    scale = RiskScaleDef(
        probability_max=3,
        impact_max=3,
        bands=(
            RiskBandDef(name="low", min_score=1, max_score=2),
            RiskBandDef(name="medium", min_score=3, max_score=5),
            RiskBandDef(name="severe", name_zh="严重", min_score=6, max_score=9),
        ),
    )
    template = make_template(scale=scale)
    at_top = run("risk.top_band_mitigated", make_evidence(risks=(risk("R1", 2, 3, owner=None),)), template=template)
    below = run("risk.top_band_mitigated", make_evidence(risks=(risk("R1", 1, 5, owner=None),)), template=template)
    check(at_top, False)
    assert "severe" in at_top.message and "严重" in at_top.message_zh
    check(below, MISSING)  # impact 5 is off a 3-point scale, even though the default scale would take it


# --- risk.exposure_within_tolerance ------------------------------------------------------------------------

# fmt: off
EXPOSURE: list[tuple[str, tuple[RiskEvidence, ...], Params, bool | str, str | None]] = [
    ("empty register", (), {"max_exposure": 0}, True, "0"),
    ("empty register, register required", (), {"max_exposure": 10, "require_register": True}, MISSING, None),
    ("exactly at max", (risk("R1", 4, 5), risk("R2", 2, 5)), {"max_exposure": 30}, True, "30"),
    ("one over max", (risk("R1", 4, 5), risk("R2", 2, 5), risk("R3", 1, 1)), {"max_exposure": 30}, False, "31"),
    ("closed risks do not count", (risk("R1", 4, 5), risk("R2", 5, 5, status="closed")), {"max_exposure": 20},
     True, "20"),
    ("top band count at the limit", (risk("R1", 5, 5), risk("R2", 1, 1)), {"max_exposure": 100, "max_top_band": 1},
     True, "26; top band 1"),
    ("top band count over the limit", (risk("R1", 5, 5), risk("R2", 4, 4)), {"max_exposure": 100, "max_top_band": 1},
     False, "41; top band 2"),
    ("no top band allowed", (risk("R1", 4, 4),), {"max_exposure": 100, "max_top_band": 0}, False, "16; top band 1"),
    ("off the scale only", (risk("R1", 1, 9),), {"max_exposure": 100}, MISSING, None),
    ("off the scale but already over", (risk("R1", 1, 9), risk("R2", 5, 5)), {"max_exposure": 24}, False, "25"),
]
# fmt: on


@pytest.mark.parametrize(("case", "risks", "params", "expected", "measured"), EXPOSURE, ids=[c[0] for c in EXPOSURE])
def test_exposure_within_tolerance(
    case: str, risks: tuple[RiskEvidence, ...], params: Params, expected: bool | str, measured: str | None
) -> None:
    result = run("risk.exposure_within_tolerance", make_evidence(risks=risks), params)
    check(result, expected)
    assert result.measured == measured


def test_exposure_failure_says_by_how_much_and_names_the_largest_risks() -> None:
    risks = (risk("R1", 2, 2), risk("R2", 5, 4), risk("R3", 3, 3), risk("R4", 5, 5))
    result = run("risk.exposure_within_tolerance", make_evidence(risks=risks), {"max_exposure": 50})
    assert result.threshold == "<= 50"
    assert "exposure 58" in result.message and "by 8" in result.message
    assert "largest: R4 (25), R2 (20), R3 (9)" in result.message
    assert "超出容差 50" in result.message_zh


# --- risk params -------------------------------------------------------------------------------------------


def test_risk_registry_matches_its_params() -> None:
    assert set(RISK_CRITERIA) == set(RISK_PARAMS)
    assert risk_param_problems(CriterionDef(code="risk.top_band_mitigated")) == []
    assert risk_param_problems(CriterionDef(code="risk.exposure_within_tolerance", params={"max_exposure": 0})) == []
    assert DEFAULT_MITIGATING == ("mitigate", "avoid", "transfer")


@pytest.mark.parametrize(
    ("code", "params", "problem"),
    [
        ("risk.exposure_within_tolerance", {}, "param 'max_exposure' is required"),
        ("risk.exposure_within_tolerance", {"max_exposure": -1}, "param 'max_exposure' must be an integer, 0 or more"),
        ("risk.exposure_within_tolerance", {"max_exposure": 10.5}, "param 'max_exposure' must be an integer"),
        ("risk.exposure_within_tolerance", {"max_exposure": True}, "param 'max_exposure' must be an integer"),
        ("risk.exposure_within_tolerance", {"max_exposure": "40"}, "param 'max_exposure' must be an integer"),
        ("risk.exposure_within_tolerance", {"max_exposure": 9, "max_top_band": -1}, "param 'max_top_band'"),
        ("risk.exposure_within_tolerance", {"max_exposure": 9, "maximum": 1}, "unknown param 'maximum'"),
        ("risk.top_band_mitigated", {"responses": "mitgate"}, "param 'responses' must be a comma-separated list"),
        ("risk.top_band_mitigated", {"responses": ""}, "param 'responses' must be a comma-separated list"),
        ("risk.top_band_mitigated", {"responses": "avoid,"}, "param 'responses' must be a comma-separated list"),
        ("risk.top_band_mitigated", {"responses": 3}, "param 'responses' must be a comma-separated list"),
        ("risk.top_band_mitigated", {"require_register": "yes"}, "param 'require_register' must be true or false"),
        ("risk.top_band_mitigated", {"max_exposure": 3}, "unknown param 'max_exposure'"),
    ],
)
def test_bad_risk_params_are_input_errors_naming_the_param(code: str, params: Params, problem: str) -> None:
    definition = CriterionDef(code=code, params=params)
    assert any(problem in line for line in risk_param_problems(definition)), risk_param_problems(definition)
    template = make_template()
    with pytest.raises(InputError, match="^" + code.replace(".", r"\.")):
        RISK_CRITERIA[code](definition, template.gates[0], template, make_evidence())


def test_risk_param_problems_rejects_codes_it_does_not_own() -> None:
    assert risk_param_problems(CriterionDef(code="schedule.milestones_done")) == [
        "schedule.milestones_done: not a risk criterion; risk criteria are: "
        "risk.top_band_mitigated, risk.exposure_within_tolerance"
    ]


# --- schedule.milestones_done ------------------------------------------------------------------------------


def milestone(due: date, done_on: date | None = None, mid: str = "M1") -> MilestoneEvidence:
    return MilestoneEvidence(id=mid, name="Design freeze", due=due, done_on=done_on)


DAY = timedelta(days=1)

# fmt: off
MILESTONES: list[tuple[str, tuple[MilestoneEvidence, ...], Params, bool | str, str]] = [
    ("no milestones", (), {}, True, "0 days overdue"),
    ("due today, not done, no tolerance", (milestone(AS_OF),), {}, False, "1 day overdue"),
    ("due today, not done, tolerance 0", (milestone(AS_OF),), {"tolerance_days": 0}, False, "1 day overdue"),
    ("due today, not done, tolerance 1", (milestone(AS_OF),), {"tolerance_days": 1}, True, "1 day overdue"),
    ("due tomorrow, not done", (milestone(AS_OF + DAY),), {}, True, "0 days overdue"),
    ("due yesterday, not done, tolerance 1", (milestone(AS_OF - DAY),), {"tolerance_days": 1}, False,
     "2 days overdue"),
    ("due yesterday, not done, tolerance 2", (milestone(AS_OF - DAY),), {"tolerance_days": 2}, True, "2 days overdue"),
    ("due today, done today", (milestone(AS_OF, AS_OF),), {}, True, "0 days overdue"),
    ("done late is done", (milestone(AS_OF - 30 * DAY, AS_OF - 2 * DAY),), {}, True, "0 days overdue"),
    ("done after the evidence date is not done by it", (milestone(AS_OF - DAY, AS_OF + DAY),), {}, False,
     "2 days overdue"),
    ("no as-of date", (milestone(AS_OF),), {}, MISSING, ""),
]
# fmt: on


@pytest.mark.parametrize(
    ("case", "milestones", "params", "expected", "measured"), MILESTONES, ids=[c[0] for c in MILESTONES]
)
def test_milestones_done(
    case: str, milestones: tuple[MilestoneEvidence, ...], params: Params, expected: bool | str, measured: str
) -> None:
    as_of = None if expected == MISSING else AS_OF
    result = run("schedule.milestones_done", make_evidence(as_of=as_of, milestones=milestones), params)
    check(result, expected)
    assert result.measured == (measured or None)


def test_overdue_milestones_are_listed_with_days_late() -> None:
    milestones = (
        milestone(AS_OF - 9 * DAY, mid="M1"),
        milestone(AS_OF - 2 * DAY, AS_OF - DAY, mid="M2"),
        milestone(AS_OF, mid="M3"),
        milestone(AS_OF + DAY, mid="M4"),
    )
    result = run("schedule.milestones_done", make_evidence(milestones=milestones), {"tolerance_days": 3})
    check(result, False)
    assert result.threshold == "<= 3 days overdue" and result.measured == "10 days overdue"
    assert "1 of 3 milestones due by 2026-06-01 are overdue" in result.message
    assert "M1 Design freeze (due 2026-05-23, 10 days overdue)" in result.message
    assert "within the tolerance of 3 days: M3 Design freeze (due 2026-06-01, 1 day overdue)" in result.message
    assert "M2" not in result.message and "M4" not in result.message
    assert "逾期 10 天" in result.message_zh


def test_days_overdue_counts_the_due_date() -> None:
    assert days_overdue(milestone(AS_OF), AS_OF) == 1
    assert days_overdue(milestone(AS_OF + DAY), AS_OF) == 0
    assert days_overdue(milestone(AS_OF - DAY, AS_OF), AS_OF) == 0


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"tolerance_days": -1}, "param 'tolerance_days' must be a whole number of days, 0 or more; got -1"),
        ({"tolerance_days": 1.5}, "param 'tolerance_days' must be a whole number"),
        ({"tolerance_days": True}, "param 'tolerance_days' must be a whole number"),
        ({"tolerance_days": "2"}, "param 'tolerance_days' must be a whole number"),
        ({"grace": 2}, "unknown param 'grace'; allowed params: tolerance_days"),
    ],
)
def test_bad_schedule_params_are_input_errors(params: Params, problem: str) -> None:
    definition = CriterionDef(code="schedule.milestones_done", params=params)
    assert any(problem in line for line in schedule_param_problems(definition))
    template = make_template()
    with pytest.raises(InputError, match=r"^schedule\.milestones_done"):
        SCHEDULE_CRITERIA["schedule.milestones_done"](definition, template.gates[0], template, make_evidence())
    assert schedule_param_problems(CriterionDef(code="schedule.milestones_done")) == []
    assert schedule_param_problems(CriterionDef(code="risk.top_band_mitigated"))[0].startswith(
        "risk.top_band_mitigated: not a schedule criterion"
    )


# --- scorecard summary -------------------------------------------------------------------------------------

COOPER = ScorecardDef()
FACTOR_IDS = [f.id for f in COOPER_FACTORS]


def scores(gatekeeper: str, values: list[int] | int, factors: list[str] | None = None) -> list[ScoreEvidence]:
    factors = factors or FACTOR_IDS
    values = values if isinstance(values, list) else [values] * len(factors)
    return [ScoreEvidence(gatekeeper=gatekeeper, factor=f, score=v) for f, v in zip(factors, values, strict=True)]


def single(max_score: int = 100, **card: Any) -> ScorecardDef:
    """A one-factor scorecard out of 100: the percentage is the mean, so a panel lands it on any tenth."""
    return ScorecardDef(factors=(FactorDef(id="fit", name="Fit", floor=0),), max_score=max_score, **card)


def one(gatekeeper: str, value: int) -> ScoreEvidence:
    return ScoreEvidence(gatekeeper=gatekeeper, factor="fit", score=value)


def panel(*values: int) -> list[ScoreEvidence]:
    """One gatekeeper per value, each scoring the single factor."""
    return [one(f"g{index}", value) for index, value in enumerate(values)]


def test_summary_figures() -> None:
    summary = summarize(
        COOPER,
        scores("ann", [8, 6, 7, 5, 9, 4]) + scores("bob", [6, 6, 2, 5, 4, 4]) + scores("cai", [7, 6, 3, 5, 8, 4]),
    )
    fit = summary.factors[0]
    assert (fit.mean, fit.min, fit.max, fit.spread, fit.n, fit.flagged) == (Decimal("7.00"), 6, 8, 2, 3, False)
    market = summary.factors[2]
    assert (market.mean, market.spread, market.flagged, market.below_floor) == (Decimal("4.00"), 5, True, False)
    feasibility = summary.factors[4]
    assert (feasibility.mean, feasibility.spread, feasibility.flagged) == (Decimal("7.00"), 5, True)
    assert summary.factors[1].mean == Decimal("6.00") and summary.factors[1].spread == 0
    # means 7, 6, 4, 5, 7, 4 -> 33 / 6 = 5.5 of 10 = 55.0 %
    assert summary.weighted_mean == Decimal("5.50") and summary.percent_of_max == Decimal("55.0")
    assert summary.gatekeepers == ("ann", "bob", "cai") and summary.incomplete == () and summary.problems == ()
    assert not summary.passed


def test_means_round_half_even_to_two_places() -> None:
    summary = summarize(single(max_score=10), panel(1, 1, 2))  # 4/3
    assert summary.factors[0].mean == Decimal("1.33") and summary.weighted_mean == Decimal("1.33")
    assert summary.percent_of_max == Decimal("13.3")


def test_weights_are_read_as_written() -> None:
    card = ScorecardDef(
        factors=(FactorDef(id="a", name="A", weight=0.1, floor=0), FactorDef(id="b", name="B", weight=0.2, floor=0)),
        max_score=10,
    )
    summary = summarize(
        card, [ScoreEvidence(gatekeeper="g", factor="a", score=3), ScoreEvidence(gatekeeper="g", factor="b", score=9)]
    )
    # (0.1 x 3 + 0.2 x 9) / 0.3 = 7 exactly; binary floats would give 6.999...
    assert summary.weighted_mean == Decimal("7.00") and summary.percent_of_max == Decimal("70.0")


def test_unusable_scores_are_problems_left_out_of_the_maths() -> None:
    given_scores = [
        *scores("ann", 6),
        ScoreEvidence(gatekeeper="ann", factor="vibes", score=10),
        ScoreEvidence(gatekeeper="bob", factor="strategic-fit", score=11),
        ScoreEvidence(gatekeeper="bob", factor="synergies", score=0),
        ScoreEvidence(gatekeeper="cai", factor="synergies", score=2),
        ScoreEvidence(gatekeeper="cai", factor="synergies", score=9),
        ScoreEvidence(gatekeeper="dan", factor="synergies", score=6),
        ScoreEvidence(gatekeeper="dan", factor="synergies", score=6),  # the same score twice counts once
    ]
    summary = summarize(COOPER, given_scores)
    assert [(p.gatekeeper, p.factor, p.scores, p.reason) for p in summary.problems] == [
        ("ann", "vibes", (10,), "unknown_factor"),
        ("bob", "strategic-fit", (11,), "out_of_range"),
        ("cai", "synergies", (2, 9), "conflicting"),
    ]
    assert summary.factors[0].n == 1 and summary.factors[0].mean == Decimal("6.00")
    synergies = summary.factors[3]
    assert (synergies.n, synergies.mean, synergies.min, synergies.max) == (3, Decimal("4.00"), 0, 6)
    assert summary.gatekeepers == ("ann",) and summary.incomplete == ("bob", "dan")


def test_summary_fails_without_enough_complete_gatekeepers() -> None:
    card = ScorecardDef(min_gatekeepers=2)
    partial = summarize(card, scores("a", 9) + scores("b", 9, FACTOR_IDS[1:]))
    assert partial.gatekeepers == ("a",) and partial.incomplete == ("b",)
    assert not partial.enough_gatekeepers and not partial.passed and partial.percent_of_max == Decimal("90.0")
    assert summarize(card, scores("a", 9) + scores("b", 9)).passed


def test_unscored_factor_leaves_the_weighted_mean_undefined() -> None:
    summary = summarize(COOPER, scores("ann", 9, FACTOR_IDS[:5]))
    assert summary.factors[5].n == 0 and summary.factors[5].mean is None and not summary.factors[5].below_floor
    assert summary.weighted_mean is None and summary.percent_of_max is None and not summary.passed


# --- scorecard.pass ----------------------------------------------------------------------------------------


def run_card(card: ScorecardDef, given_scores: list[ScoreEvidence]) -> CriterionResult:
    return run(
        "scorecard.pass",
        make_evidence(scores=tuple(given_scores)),
        template=make_template(scorecard=card),
        kind=CriterionKind.SHOULD_MEET,
    )


# fmt: off
CARD_CASES: list[tuple[str, ScorecardDef, list[ScoreEvidence], bool | str, str | None]] = [
    ("exactly the pass mark", single(), panel(60), True, "60.0%"),
    ("0.1 below the pass mark", single(), panel(*[60] * 9, 59), False, "59.9%"),
    ("59.95 reads 60.0, and 60.0 is compared", single(), panel(*[60] * 19, 59), True, "60.0%"),
    ("59.94 reads 59.9", single(), panel(*[60] * 49, 57), False, "59.9%"),
    ("pass mark with decimals", single(pass_percent=62.5), panel(62, 63), True, "62.5%"),
    ("0.1 below a pass mark with decimals", single(pass_percent=62.5), panel(62, 62, 62, 63, 63), False, "62.4%"),
    ("cooper: all sixes", COOPER, scores("a", 6), True, "60.0%"),
    ("cooper: factor at floor 4", COOPER, scores("a", [4, 8, 6, 6, 6, 6]), True, "60.0%"),
    ("cooper: factor below floor", COOPER, scores("a", [3, 9, 6, 6, 6, 6]), False, "60.0%"),
    ("cooper: floor judged on the mean", COOPER, scores("a", [3, 9, 6, 6, 6, 6]) + scores("b", [5, 7, 6, 6, 6, 6]),
     True, "60.0%"),
    ("cooper: 3.50 mean is below floor", COOPER, scores("a", [3, 9, 6, 6, 6, 6]) + scores("b", [4, 8, 6, 6, 6, 6]),
     False, "60.0%"),
    ("no scores", COOPER, [], MISSING, None),
    ("a gatekeeper missed a factor", COOPER, scores("a", 9, FACTOR_IDS[:5]), MISSING, None),
    ("two needed, one complete", ScorecardDef(min_gatekeepers=2), scores("a", 9) + scores("b", 9, FACTOR_IDS[1:]),
     MISSING, None),
    ("two needed, two complete", ScorecardDef(min_gatekeepers=2), scores("a", 9) + scores("b", 9), True, "90.0%"),
]
# fmt: on


@pytest.mark.parametrize(("case", "card", "given", "expected", "measured"), CARD_CASES, ids=[c[0] for c in CARD_CASES])
def test_scorecard_pass(
    case: str, card: ScorecardDef, given: list[ScoreEvidence], expected: bool | str, measured: str | None
) -> None:
    result = run_card(card, given)
    check(result, expected)
    assert result.measured == measured


@pytest.mark.parametrize(("spread", "flagged"), [(4, False), (5, True)])
def test_spread_above_max_spread_is_flagged_but_does_not_decide(spread: int, flagged: bool) -> None:
    given = scores("a", [5 + spread, 6, 6, 6, 6, 6]) + scores("b", [5, 6, 6, 6, 6, 6])
    summary = summarize(COOPER, given)
    assert summary.factors[0].spread == spread and summary.factors[0].flagged is flagged
    result = run_card(COOPER, given)
    check(result, True)
    assert ("gatekeepers disagree" in result.message) is flagged
    assert ("意见分歧" in result.message_zh) is flagged
    if flagged:
        assert f"strategic-fit (scores 5 to {5 + spread}, spread {spread} > 4)" in result.message


def test_failing_scorecard_message_names_measure_threshold_and_weak_factors() -> None:
    given = scores("ann", [3, 5, 5, 5, 5, 5]) + scores("bob", [3, 5, 5, 5, 5, 5], FACTOR_IDS)
    given.append(ScoreEvidence(gatekeeper="cai", factor="strategic-fit", score=12))
    result = run_card(COOPER, given)
    check(result, False)
    assert result.threshold == ">= 60% of max; each factor mean >= its floor"
    assert (
        "scorecard at 46.7% of the maximum (weighted mean 4.67 of 10) with 2 gatekeepers scoring every factor"
        in result.message
    )
    assert "below floor: strategic-fit mean 3.00 < 4" in result.message
    assert "below the pass mark 60%" in result.message
    assert "scores ignored: cai on strategic-fit: 12 (outside 0..10)" in result.message
    assert "战略契合度与重要性 平均 3.00 < 4" in result.message_zh and "低于及格线 60%" in result.message_zh
    assert "strengthen strategic-fit" in result.remediation and "战略契合度与重要性" in result.remediation_zh


def test_too_few_complete_scorers_is_missing_evidence_naming_the_partial_ones() -> None:
    result = run_card(ScorecardDef(min_gatekeepers=3), scores("ann", 7) + scores("bob", 7, FACTOR_IDS[:2]))
    check(result, MISSING)
    assert result.message == "only 1 of the 3 gatekeepers needed scored every factor; scored only some factors: bob"
    assert result.message_zh == "仅 1 位评审人对全部评分项打分，至少需要 3 位；仅对部分评分项打分：bob"
    assert result.measured is None and "ask at least 3 gatekeepers" in result.remediation


def test_should_meet_scorecard_fail_recommends_conditional_go_through_the_gate() -> None:
    card = ScorecardDef()
    template = make_template(scorecard=card)
    gate = template.gates[0].model_copy(
        update={"criteria": (CriterionDef(code="scorecard.pass", kind=CriterionKind.SHOULD_MEET),)}
    )
    registry = {**REGISTRY, **SCORECARD_CRITERIA}
    weak = evaluate_gate(template, gate, make_evidence(scores=tuple(scores("ann", 5))), registry)
    assert weak.recommendation is Recommendation.CONDITIONAL_GO
    assert weak.reasons[0].startswith("scorecard.pass: scorecard at 50.0% of the maximum")
    strong = evaluate_gate(template, gate, make_evidence(scores=tuple(scores("ann", 7))), registry)
    assert strong.recommendation is Recommendation.GO
    unscored = evaluate_gate(template, gate, make_evidence(), registry)
    assert unscored.recommendation is Recommendation.NOT_READY


def test_scorecard_pass_needs_a_scorecard_on_the_gate() -> None:
    definition = CriterionDef(code="scorecard.pass")
    template = make_template(scorecard=None)
    gate = template.gates[0]
    assert scorecard_param_problems(definition) == []
    assert scorecard_param_problems(definition, gate) == [
        "scorecard.pass needs a scorecard on the gate: gate 'g3' has no 'scorecard'"
    ]
    with pytest.raises(InputError, match=r"^scorecard\.pass needs a scorecard on the gate"):
        SCORECARD_CRITERIA["scorecard.pass"](definition, gate, template, make_evidence())


def test_scorecard_template_problems() -> None:
    card = ScorecardDef(
        factors=(FactorDef(id="a", name="A", floor=11), FactorDef(id="a", name="A again")), max_score=10
    )
    gate = make_template(scorecard=card).gates[0]
    problems = scorecard_param_problems(CriterionDef(code="scorecard.pass", params={"pass": 50}), gate)
    assert problems == [
        "scorecard.pass: unknown param 'pass'; allowed params: (none)",
        "scorecard.pass: gate 'g3' factor 'a' floor 11 is above max_score 10, so it can never pass; "
        "floors must be 0..max_score",
        "scorecard.pass: gate 'g3' scorecard lists factor 'a' twice",
    ]
    assert scorecard_param_problems(CriterionDef(code="risk.top_band_mitigated")) == [
        "risk.top_band_mitigated: not a scorecard criterion; scorecard criteria are: scorecard.pass"
    ]


def test_recommend_treats_a_failed_should_meet_scorecard_as_conditional() -> None:
    failed = run_card(COOPER, scores("a", 5))
    missing = run_card(COOPER, [])
    assert recommend((failed,))[0] is Recommendation.CONDITIONAL_GO
    assert recommend((failed, missing))[0] is Recommendation.NOT_READY


# --- scorecard laws ----------------------------------------------------------------------------------------

GATEKEEPERS = ["ann", "bob", "cai", "dan"]


@st.composite
def scorecards(draw: st.DrawFn) -> ScorecardDef:
    count = draw(st.integers(1, 4))
    max_score = draw(st.sampled_from([1, 5, 10, 100]))
    factors = tuple(
        FactorDef(
            id=f"f{i}",
            name=f"F{i}",
            weight=draw(st.sampled_from([0.1, 0.5, 1.0, 1.5, 3.0])),
            floor=draw(st.integers(0, max_score)),
        )
        for i in range(count)
    )
    return ScorecardDef(
        factors=factors,
        max_score=max_score,
        pass_percent=draw(st.sampled_from([10.0, 50.0, 60.0, 62.5, 100.0])),
        max_spread=draw(st.integers(0, max_score)),
        min_gatekeepers=draw(st.integers(1, 3)),
    )


@st.composite
def scored(draw: st.DrawFn) -> tuple[ScorecardDef, list[ScoreEvidence]]:
    card = draw(scorecards())
    factor_ids = [f.id for f in card.factors] + ["unknown"]
    given = draw(
        st.lists(
            st.builds(
                ScoreEvidence,
                gatekeeper=st.sampled_from(GATEKEEPERS),
                factor=st.sampled_from(factor_ids),
                score=st.integers(0, card.max_score + 2),
            ),
            max_size=30,
        )
    )
    # Usually add some complete scorers so that passes are common enough to test the laws on.
    for gatekeeper in draw(st.lists(st.sampled_from(GATEKEEPERS), max_size=3, unique=True)):
        given += [
            ScoreEvidence(gatekeeper=gatekeeper, factor=f.id, score=draw(st.integers(0, card.max_score)))
            for f in card.factors
        ]
    return card, given


@settings(max_examples=300, deadline=None)
@given(scored(), st.randoms(use_true_random=False))
def test_score_order_does_not_change_the_summary(case: tuple[ScorecardDef, list[ScoreEvidence]], rnd: Any) -> None:
    card, given_scores = case
    shuffled = list(given_scores)
    rnd.shuffle(shuffled)
    summary: ScorecardSummary = summarize(card, given_scores)
    assert summarize(card, shuffled) == summary
    assert summarize(card, list(reversed(given_scores))) == summary


@settings(max_examples=300, deadline=None)
@given(scored())
def test_a_gatekeeper_scoring_every_factor_at_max_never_turns_a_pass_into_a_fail(
    case: tuple[ScorecardDef, list[ScoreEvidence]],
) -> None:
    card, given_scores = case
    before = summarize(card, given_scores)
    enthusiast = [ScoreEvidence(gatekeeper="zed", factor=f.id, score=card.max_score) for f in card.factors]
    after = summarize(card, given_scores + enthusiast)
    if before.passed:
        assert after.passed
    if before.percent_of_max is not None:
        assert after.percent_of_max is not None and after.percent_of_max >= before.percent_of_max
