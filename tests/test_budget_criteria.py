"""Budget criteria at their boundaries: exactly at the threshold, one cent or one ten-thousandth either side,
and with the inputs missing, which must read as missing evidence and never as a pass.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from phasegate.gates.budget import BUDGET_CRITERIA, PARAMS, BudgetEvidence, param_problems
from phasegate.gates.evaluation import recommend
from phasegate.gates.vocabulary.enums import CriterionKind, Recommendation
from phasegate.gates.vocabulary.errors import InputError
from phasegate.gates.vocabulary.evidence import EvmSnapshot
from phasegate.gates.vocabulary.snapshots import CriterionResult
from phasegate.gates.vocabulary.template import CriterionDef

pytestmark = pytest.mark.unit  # pure: no database, no Prefect, no browser (make test-fast)

Params = dict[str, str | int | float | bool]
MISSING = "missing"  # expected outcome: passed False, evidence_missing True


def evm(bac: str, pv: str | None, ev: str | None, ac: str | None, etc: str | None = None) -> EvmSnapshot:
    def d(value: str | None) -> Decimal | None:
        return None if value is None else Decimal(value)

    return EvmSnapshot(as_of=date(2026, 5, 29), bac=Decimal(bac), pv=d(pv), ev=d(ev), ac=d(ac), etc=d(etc))


def evidence(
    snapshot: EvmSnapshot | None = None,
    *,
    approved: str | None = None,
    spend: str | None = None,
    reserve: str | None = None,
    used: str | None = None,
) -> BudgetEvidence:
    def d(value: str | None) -> Decimal | None:
        return None if value is None else Decimal(value)

    return BudgetEvidence(
        currency="CNY",
        evm=snapshot,
        approved_stage_budget=d(approved),
        stage_spend=d(spend),
        contingency=d(reserve),
        contingency_used=d(used),
    )


def run(code: str, ev: BudgetEvidence, params: Params | None = None, **kw: Any) -> CriterionResult:
    return BUDGET_CRITERIA[code](CriterionDef(code=code, params=params or {}, **kw), ev)


def check(result: CriterionResult, expected: bool | str) -> None:
    if expected == MISSING:
        assert not result.passed and result.evidence_missing, result.message
        assert result.measured is None
    else:
        assert result.passed is expected and not result.evidence_missing, result.message


# Each row: (criterion code, evidence, params, expected: True pass / False fail / MISSING, measured or None).
# fmt: off
CASES: list[tuple[str, BudgetEvidence, Params, bool | str, str | None]] = [
    # CPI floor 0.90: EV / AC at, one ten-thousandth below and above; reported CPI (4 places) is compared.
    ("budget.cpi_floor", evidence(evm("200000", None, "90000", "100000")), {}, True, "0.9000"),
    ("budget.cpi_floor", evidence(evm("200000", None, "89990", "100000")), {}, False, "0.8999"),
    ("budget.cpi_floor", evidence(evm("200000", None, "90010", "100000")), {}, True, "0.9001"),
    ("budget.cpi_floor", evidence(evm("200000", None, "89995", "100000")), {}, True, "0.9000"),  # 0.89995 reads 0.9000
    ("budget.cpi_floor", evidence(evm("200000", None, "89994.99", "100000")), {}, False, "0.8999"),
    ("budget.cpi_floor", evidence(evm("200000", None, "95000", "100000")), {"min": 0.95}, True, "0.9500"),
    ("budget.cpi_floor", evidence(evm("200000", None, "94990", "100000")), {"min": "0.95"}, False, "0.9499"),
    ("budget.cpi_floor", evidence(evm("200000", None, "100000", "100000")), {"min": 1}, True, "1.0000"),
    ("budget.cpi_floor", evidence(evm("200000", None, "0", "100")), {}, False, "0.0000"),
    ("budget.cpi_floor", evidence(evm("200000", None, "1000", None)), {}, MISSING, None),
    ("budget.cpi_floor", evidence(evm("200000", None, "1000", "0")), {}, MISSING, None),
    ("budget.cpi_floor", evidence(evm("200000", None, "0", "0")), {}, MISSING, None),
    ("budget.cpi_floor", evidence(evm("200000", None, None, "1000")), {}, MISSING, None),
    ("budget.cpi_floor", evidence(None), {}, MISSING, None),
    # SPI floor 0.90 on EV / PV.
    ("budget.spi_floor", evidence(evm("200000", "100000", "90000", None)), {}, True, "0.9000"),
    ("budget.spi_floor", evidence(evm("200000", "100000", "89990", None)), {}, False, "0.8999"),
    ("budget.spi_floor", evidence(evm("200000", "100000", "90010", None)), {}, True, "0.9001"),
    ("budget.spi_floor", evidence(evm("200000", "100000", "85000", None)), {"min": 0.85}, True, "0.8500"),
    ("budget.spi_floor", evidence(evm("200000", None, "90000", "1")), {}, MISSING, None),
    ("budget.spi_floor", evidence(evm("200000", "0", "0", "1")), {}, MISSING, None),
    ("budget.spi_floor", evidence(evm("200000", "100000", None, "1")), {}, MISSING, None),
    ("budget.spi_floor", evidence(None), {}, MISSING, None),
    # TCPI ceiling 1.10: (BAC - EV) / (BAC - AC) with BAC 100,000 and AC 50,000.
    ("budget.tcpi_ceiling", evidence(evm("100000", None, "45000", "50000")), {}, True, "1.1000"),
    ("budget.tcpi_ceiling", evidence(evm("100000", None, "44995", "50000")), {}, False, "1.1001"),
    ("budget.tcpi_ceiling", evidence(evm("100000", None, "45005", "50000")), {}, True, "1.0999"),
    ("budget.tcpi_ceiling", evidence(evm("100000", None, "45000", "50000")), {"max": 1.05}, False, "1.1000"),
    ("budget.tcpi_ceiling", evidence(evm("100000", None, "99999.99", "100000")), {}, False, "unattainable"),
    ("budget.tcpi_ceiling", evidence(evm("100000", None, "60000", "120000")), {}, False, "unattainable"),
    ("budget.tcpi_ceiling", evidence(evm("100000", None, "100000", "100000")), {}, True, "no remaining work"),
    ("budget.tcpi_ceiling", evidence(evm("100000", None, "100000", "130000")), {}, True, "no remaining work"),
    ("budget.tcpi_ceiling", evidence(evm("100000", None, "0", "0")), {}, True, "1.0000"),
    ("budget.tcpi_ceiling", evidence(evm("100000", None, "45000", None)), {}, MISSING, None),
    ("budget.tcpi_ceiling", evidence(evm("100000", None, None, "50000")), {}, MISSING, None),
    ("budget.tcpi_ceiling", evidence(None), {}, MISSING, None),
    # Cost variance: greater of 15,000 and 10% of BAC. BAC 100,000 -> 15,000 (the amount wins).
    ("budget.cost_variance", evidence(evm("100000", None, "50000", "65000")), {}, True, "-15000.00"),
    ("budget.cost_variance", evidence(evm("100000", None, "50000", "65000.01")), {}, False, "-15000.01"),
    ("budget.cost_variance", evidence(evm("100000", None, "50000", "64999.99")), {}, True, "-14999.99"),
    ("budget.cost_variance", evidence(evm("100000", None, "90000", "10000")), {}, True, "80000.00"),  # favourable
    ("budget.cost_variance", evidence(evm("100000", None, "50000", "50000")), {}, True, "0.00"),
    # BAC 200,000 -> 10% is 20,000 (the percentage wins).
    ("budget.cost_variance", evidence(evm("200000", None, "50000", "70000")), {}, True, "-20000.00"),
    ("budget.cost_variance", evidence(evm("200000", None, "50000", "70000.01")), {}, False, "-20000.01"),
    ("budget.cost_variance", evidence(evm("200000", None, "50000", "50000.01")), {"amount": 0, "percent": 0}, False,
     "-0.01"),
    ("budget.cost_variance", evidence(evm("200000", None, "50000", "51000")), {"amount": 1000, "percent": 0.5}, True,
     "-1000.00"),
    ("budget.cost_variance", evidence(evm("200000", None, "50000", None)), {}, MISSING, None),
    ("budget.cost_variance", evidence(evm("200000", None, None, "1")), {}, MISSING, None),
    ("budget.cost_variance", evidence(None), {}, MISSING, None),
    # Schedule variance: greater of 15,000 and 10% of PV. PV 300,000 -> 30,000; PV 100,000 -> 15,000.
    ("budget.schedule_variance", evidence(evm("400000", "300000", "270000", None)), {}, True, "-30000.00"),
    ("budget.schedule_variance", evidence(evm("400000", "300000", "269999.99", None)), {}, False, "-30000.01"),
    ("budget.schedule_variance", evidence(evm("400000", "300000", "270000.01", None)), {}, True, "-29999.99"),
    ("budget.schedule_variance", evidence(evm("400000", "100000", "85000", None)), {}, True, "-15000.00"),
    ("budget.schedule_variance", evidence(evm("400000", "100000", "84999.99", None)), {}, False, "-15000.01"),
    ("budget.schedule_variance", evidence(evm("400000", "100000", "150000", None)), {}, True, "50000.00"),
    ("budget.schedule_variance", evidence(evm("400000", None, "85000", "1")), {}, MISSING, None),
    ("budget.schedule_variance", evidence(evm("400000", "100000", None, "1")), {}, MISSING, None),
    # EAC within BAC, tolerance 0, method cpi: EV = AC means EAC = BAC exactly.
    ("budget.eac_within_bac", evidence(evm("100000", None, "50000", "50000")), {}, True, "0.00"),
    ("budget.eac_within_bac", evidence(evm("100000", None, "50000", "50000.005")), {}, False, "-0.01"),
    ("budget.eac_within_bac", evidence(evm("100000", None, "50000", "49999.995")), {}, True, "0.01"),
    # atypical: VAC = EV - AC; tolerance 5% of BAC 100,000 = 5,000.
    ("budget.eac_within_bac", evidence(evm("100000", None, "50000", "55000")),
     {"eac_method": "atypical", "tolerance_percent": 5}, True, "-5000.00"),
    ("budget.eac_within_bac", evidence(evm("100000", None, "50000", "55000.01")),
     {"eac_method": "atypical", "tolerance_percent": 5}, False, "-5000.01"),
    ("budget.eac_within_bac", evidence(evm("100000", None, "50000", "54999.99")),
     {"eac_method": "atypical", "tolerance_percent": "5"}, True, "-4999.99"),
    ("budget.eac_within_bac", evidence(evm("100000", None, "0", "0")), {"eac_method": "atypical"}, True, "0.00"),
    # bottom_up: EAC = AC + ETC.
    ("budget.eac_within_bac", evidence(evm("100000", None, "50000", "40000", etc="60000")),
     {"eac_method": "bottom_up"}, True, "0.00"),
    ("budget.eac_within_bac", evidence(evm("100000", None, "50000", "40000", etc="60000.01")),
     {"eac_method": "bottom_up"}, False, "-0.01"),
    ("budget.eac_within_bac", evidence(evm("100000", "50000", "50000", "50000")), {"eac_method": "cpi_spi"}, True,
     "0.00"),
    ("budget.eac_within_bac", evidence(evm("100000", None, "50000", "0")), {}, MISSING, None),
    ("budget.eac_within_bac", evidence(evm("100000", None, "0", "10")), {}, MISSING, None),
    ("budget.eac_within_bac", evidence(evm("100000", None, "50000", None)), {"eac_method": "atypical"}, MISSING, None),
    ("budget.eac_within_bac", evidence(evm("100000", None, "50000", "50000")), {"eac_method": "cpi_spi"}, MISSING,
     None),
    ("budget.eac_within_bac", evidence(evm("100000", None, "50000", "50000")), {"eac_method": "bottom_up"}, MISSING,
     None),
    ("budget.eac_within_bac", evidence(None), {}, MISSING, None),
    # Stage spend <= approved stage budget.
    ("budget.stage_spend", evidence(approved="250000", spend="250000"), {}, True, "250000"),
    ("budget.stage_spend", evidence(approved="250000", spend="250000.01"), {}, False, "250000.01"),
    ("budget.stage_spend", evidence(approved="250000", spend="249999.99"), {}, True, "249999.99"),
    ("budget.stage_spend", evidence(approved="0", spend="0"), {}, True, "0"),
    ("budget.stage_spend", evidence(approved="0", spend="0.01"), {}, False, "0.01"),
    ("budget.stage_spend", evidence(approved=None, spend="1"), {}, MISSING, None),
    ("budget.stage_spend", evidence(approved="1", spend=None), {}, MISSING, None),
    # Contingency used < contingency reserve (exhausted fails).
    ("budget.contingency", evidence(reserve="50000", used="49999.99"), {}, True, "49999.99"),
    ("budget.contingency", evidence(reserve="50000", used="50000"), {}, False, "50000"),
    ("budget.contingency", evidence(reserve="50000", used="50000.01"), {}, False, "50000.01"),
    ("budget.contingency", evidence(reserve="0", used="0"), {}, False, "0"),
    ("budget.contingency", evidence(reserve=None, used="0"), {}, MISSING, None),
    ("budget.contingency", evidence(reserve="50000", used=None), {}, MISSING, None),
]
# fmt: on


@pytest.mark.parametrize(("code", "ev", "params", "expected", "measured"), CASES)
def test_criterion_at_its_boundaries(
    code: str, ev: BudgetEvidence, params: Params, expected: bool | str, measured: str | None
) -> None:
    result = run(code, ev, params)
    check(result, expected)
    assert result.code == code
    assert result.measured == measured
    assert result.threshold


def test_every_code_has_rows_for_pass_fail_and_missing() -> None:
    for code in BUDGET_CRITERIA:
        outcomes = {expected for c, _, _, expected, _ in CASES if c == code}
        assert outcomes == {True, False, MISSING}, code


@pytest.mark.parametrize(("code", "ev", "params", "expected", "measured"), CASES)
def test_messages_and_remediation_in_both_languages(
    code: str, ev: BudgetEvidence, params: Params, expected: bool | str, measured: str | None
) -> None:
    result = run(code, ev, params)
    assert result.message and result.message_zh
    assert any("\u4e00" <= ch <= "\u9fff" for ch in result.message_zh), result.message_zh
    if result.passed:
        assert result.remediation == result.remediation_zh == ""
    else:
        assert result.remediation and result.remediation_zh
    if measured is not None and measured not in ("unattainable", "no remaining work"):
        # What was measured appears in both messages: indices as reported, money grouped by thousands.
        is_index = code in ("budget.cpi_floor", "budget.spi_floor", "budget.tcpi_ceiling")
        shown = measured if is_index else f"{Decimal(measured):,.2f}"
        assert shown in result.message and shown in result.message_zh, (shown, result.message)


@pytest.mark.parametrize(
    ("code", "ev", "terms"),
    [
        ("budget.cpi_floor", evidence(evm("100", None, "80", "100")), ("成本绩效指数 CPI", "挣值 EV", "实际成本 AC")),
        ("budget.spi_floor", evidence(evm("100", "100", "80", None)), ("进度绩效指数 SPI", "计划价值 PV")),
        ("budget.tcpi_ceiling", evidence(evm("100", None, "40", "50")), ("完工尚需绩效指数 TCPI", "上限")),
        ("budget.cost_variance", evidence(evm("100", None, "40", "100000")), ("成本偏差 CV", "完工预算 BAC", "容差")),
        ("budget.schedule_variance", evidence(evm("1000000", "1000000", "40", None)), ("进度偏差 SV", "计划价值 PV")),
        ("budget.eac_within_bac", evidence(evm("100", None, "40", "50")), ("完工估算 EAC", "完工偏差 VAC", "容差")),
        ("budget.stage_spend", evidence(approved="1", spend="2"), ("阶段支出", "超支")),
        ("budget.contingency", evidence(reserve="1", used="1"), ("应急储备已耗尽",)),
    ],
)
def test_failure_messages_use_the_chinese_pmo_vocabulary(code: str, ev: BudgetEvidence, terms: tuple[str, ...]) -> None:
    result = run(code, ev)
    assert not result.passed and not result.evidence_missing
    for term in terms:
        assert term in result.message_zh, (term, result.message_zh)
    assert "CNY" in result.message and "CNY" in result.message_zh


def test_missing_evidence_names_the_missing_input() -> None:
    no_ac = run("budget.cpi_floor", evidence(evm("100", None, "40", None)))
    assert "actual cost (AC) is not reported" in no_ac.message and "未报告实际成本 AC" in no_ac.message_zh
    zero_ac = run("budget.cpi_floor", evidence(evm("100", None, "40", "0")))
    assert "actual cost (AC) is zero" in zero_ac.message and "实际成本 AC为零" in zero_ac.message_zh
    no_etc = run("budget.eac_within_bac", evidence(evm("100", None, "40", "50")), {"eac_method": "bottom_up"})
    assert "estimate to complete (ETC) is not reported" in no_etc.message
    assert "AC + bottom-up ETC" in no_etc.message and "自下而上" in no_etc.message_zh
    nothing = run("budget.spi_floor", evidence(None))
    assert "no earned-value snapshot" in nothing.message and "未记录挣值数据" in nothing.message_zh


def test_missing_evidence_recommends_not_ready_and_never_go() -> None:
    """The guard rail end to end: no AC gives NOT_READY through the shared recommendation, not GO."""
    results = tuple(
        run(code, evidence(evm("100", "50", "40", None)))
        for code in ("budget.cpi_floor", "budget.tcpi_ceiling", "budget.cost_variance", "budget.eac_within_bac")
    )
    assert recommend(results)[0] is Recommendation.NOT_READY
    assert recommend((run("budget.spi_floor", evidence(evm("100", "50", "50", None))),))[0] is Recommendation.GO


def test_kind_and_remediable_come_from_the_definition() -> None:
    ev = evidence(evm("100", None, "10", "100"))
    result = run("budget.cpi_floor", ev, kind=CriterionKind.SHOULD_MEET, remediable=False)
    assert result.kind is CriterionKind.SHOULD_MEET and result.remediable is False and not result.passed
    fatal = run("budget.cpi_floor", ev, remediable=False)
    assert recommend((fatal,))[0] is Recommendation.KILL
    assert recommend((result,))[0] is Recommendation.CONDITIONAL_GO


def test_threshold_strings_show_the_params() -> None:
    assert run("budget.cpi_floor", evidence(None)).threshold == ">= 0.90"
    assert run("budget.cpi_floor", evidence(None), {"min": "1e0"}).threshold == ">= 1"
    assert run("budget.tcpi_ceiling", evidence(None), {"max": 1.2}).threshold == "<= 1.2"
    tolerance = run("budget.cost_variance", evidence(evm("1000000", None, "1", "1")), {"percent": 2.5})
    assert tolerance.threshold == ">= -25000.00"
    assert run("budget.stage_spend", evidence(approved="1E+5", spend="1")).threshold == "<= 100000"


# --- params ------------------------------------------------------------------------------------------------


def test_registry_covers_every_param_spec() -> None:
    assert set(BUDGET_CRITERIA) == set(PARAMS)
    for code in PARAMS:
        assert param_problems(CriterionDef(code=code)) == []


@pytest.mark.parametrize(
    ("code", "params", "problem"),
    [
        ("budget.cpi_floor", {"minimum": 0.9}, "unknown param 'minimum'; allowed params: min"),
        ("budget.cpi_floor", {"min": True}, "param 'min' must be a finite number"),
        ("budget.cpi_floor", {"min": "NaN"}, "param 'min' must be a finite number"),
        ("budget.cpi_floor", {"min": "ninety"}, "param 'min' must be a finite number"),
        ("budget.cpi_floor", {"min": "0.1234567"}, "at most 6 decimal places"),
        ("budget.tcpi_ceiling", {"max": "1e40"}, "magnitude at most"),
        ("budget.cost_variance", {"percent": -1}, "param 'percent' must be zero or more"),
        ("budget.schedule_variance", {"amount": -0.01}, "param 'amount' must be zero or more"),
        ("budget.eac_within_bac", {"eac_method": "vibes"}, "must be one of cpi, atypical, cpi_spi, bottom_up"),
        ("budget.eac_within_bac", {"tolerance_percent": "-5"}, "must be zero or more"),
        ("budget.stage_spend", {"max": 1}, "unknown param 'max'; allowed params: (none)"),
        ("budget.contingency", {"floor": 0}, "unknown param 'floor'"),
    ],
)
def test_bad_params_are_input_errors_naming_the_param(code: str, params: Params, problem: str) -> None:
    definition = CriterionDef(code=code, params=params)
    assert any(problem in line for line in param_problems(definition)), param_problems(definition)
    with pytest.raises(InputError, match="^" + code.replace(".", r"\.")):
        BUDGET_CRITERIA[code](
            definition, evidence(evm("100", "50", "50", "50"), approved="1", spend="1", reserve="1", used="0")
        )


def test_param_problems_rejects_codes_it_does_not_own() -> None:
    assert param_problems(CriterionDef(code="doc.required_approved")) == [
        "doc.required_approved: not a budget criterion; budget criteria are: " + ", ".join(PARAMS)
    ]


def test_float_params_are_read_as_written() -> None:
    # The float 0.9 is 0.90000000000000002220...: read naively, a CPI of exactly 0.9000 would fail its own
    # floor. Read as written (through str), the boundary is exact.
    at = run("budget.cpi_floor", evidence(evm("100000", None, "90000", "100000")), {"min": 0.9})
    below = run("budget.cpi_floor", evidence(evm("100000", None, "89990", "100000")), {"min": 0.9})
    assert at.passed and not below.passed and at.threshold == ">= 0.9"
    assert Decimal(0.9) > Decimal("0.9000")  # noqa: RUF032 -- the very trap this guards against


def test_budget_evidence_validates_amounts() -> None:
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        evidence(approved="-1", spend="0")
    with pytest.raises(ValueError, match="at least 1 character"):
        BudgetEvidence(
            currency="", evm=None, approved_stage_budget=None, stage_spend=None, contingency=None, contingency_used=None
        )
