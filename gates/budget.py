"""Budget criteria at a gate: earned-value floors and ceilings, variance tolerances, stage spend, contingency.

Each criterion reads ``BudgetEvidence`` (the shared ``GateEvidence`` does not carry EVM yet) and returns a
``CriterionResult`` saying what it measured, the threshold, and a fix, in English and Simplified Chinese.

Guard rails (DOMAIN.md): a figure that cannot be computed (no AC, AC of zero, no PV, no snapshot) is
*missing evidence*, never a pass, so the gate recommends NOT_READY rather than GO. Index comparisons use the
figure as reported (4 decimal places), so the message a gatekeeper reads is the number that was compared.
Thresholds come from ``CriterionDef.params`` (template data the PMO edits); unknown or malformed params are
a template error, raised as ``InputError``, because a typo that silently fell back to a default would
loosen a gate without anyone noticing. ``param_problems`` lets a template loader report them up front.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from phasegate.gates.criteria import params_check, per_template
from phasegate.gates.evm import EAC_METHODS, EXACT, MONEY, EacMethod, EvmFigures, compute
from phasegate.gates.vocabulary.errors import InputError
from phasegate.gates.vocabulary.evidence import MAX_AMOUNT, Amount, EvmSnapshot
from phasegate.gates.vocabulary.snapshots import CriterionResult
from phasegate.gates.vocabulary.template import CriterionDef


class BudgetEvidence(BaseModel):
    """The money side of a gate's evidence. ``None`` means "not reported", which differs from zero."""

    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")

    currency: str = Field(min_length=1, max_length=8)
    evm: EvmSnapshot | None
    approved_stage_budget: Amount | None
    stage_spend: Amount | None
    contingency: Amount | None
    contingency_used: Amount | None
    reference: str = Field(default="", description="What the figures were read from, quoted in each result's trace.")


BudgetCriterion = Callable[[CriterionDef, BudgetEvidence], CriterionResult]

ParamKind = Literal["number", "non_negative", "eac_method"]

PARAMS: dict[str, dict[str, tuple[ParamKind, str]]] = {
    "budget.cpi_floor": {"min": ("number", "0.90")},
    "budget.spi_floor": {"min": ("number", "0.90")},
    "budget.tcpi_ceiling": {"max": ("number", "1.10")},
    "budget.cost_variance": {"amount": ("non_negative", "15000"), "percent": ("non_negative", "10")},
    "budget.schedule_variance": {"amount": ("non_negative", "15000"), "percent": ("non_negative", "10")},
    "budget.eac_within_bac": {"tolerance_percent": ("non_negative", "0"), "eac_method": ("eac_method", "cpi")},
    "budget.stage_spend": {},
    "budget.contingency": {},
}
"""Accepted params per criterion code: (kind, default). Defaults are the typical values in DOMAIN.md."""

_PARAM_DECIMAL_PLACES = 6

_EAC_METHOD_EN: dict[str, str] = {
    "cpi": "BAC / CPI",
    "atypical": "AC + (BAC - EV)",
    "cpi_spi": "AC + (BAC - EV) / (CPI x SPI)",
    "bottom_up": "AC + bottom-up ETC",
}
_EAC_METHOD_ZH: dict[str, str] = {
    "cpi": "CPI 法：BAC / CPI",
    "atypical": "非典型偏差法：AC + (BAC - EV)",
    "cpi_spi": "CPI×SPI 综合法：AC + (BAC - EV) / (CPI × SPI)",
    "bottom_up": "自下而上法：AC + 完工尚需估算 ETC",
}


# --- params ------------------------------------------------------------------------------------------------


@lru_cache(maxsize=1024, typed=True)
def _as_decimal(value: str | int | float | bool) -> Decimal | None:
    """A finite, bounded Decimal from a template param, or None. Floats go through ``str`` so 0.9 stays 0.9.

    Every evaluation reads the same few template params, so each value is parsed once (``typed``: the bool
    ``True`` must not share the int ``1``'s answer)."""
    if isinstance(value, bool):
        return None
    try:
        number = Decimal(value) if isinstance(value, str | int) else Decimal(str(value))
    except InvalidOperation:
        return None
    if not number.is_finite() or abs(number) > MAX_AMOUNT:
        return None
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -_PARAM_DECIMAL_PLACES:
        return None
    return Decimal(format(number, "f"))  # "1e1" reads back as 10 in messages, not 1E+1


def param_problems(definition: CriterionDef) -> list[str]:
    """Every problem with ``definition.params`` for a budget criterion, one line each, naming the param."""
    spec = PARAMS.get(definition.code)
    if spec is None:
        return [f"{definition.code}: not a budget criterion; budget criteria are: {', '.join(PARAMS)}"]
    problems = []
    for name, value in definition.params.items():
        if name not in spec:
            allowed = ", ".join(spec) or "(none)"
            problems.append(f"{definition.code}: unknown param {name!r}; allowed params: {allowed}")
            continue
        kind = spec[name][0]
        if kind == "eac_method":
            if value not in EAC_METHODS:
                allowed = ", ".join(EAC_METHODS)
                problems.append(f"{definition.code}: param {name!r} must be one of {allowed}; got {value!r}")
            continue
        number = _as_decimal(value)
        if number is None:
            problems.append(
                f"{definition.code}: param {name!r} must be a finite number with at most {_PARAM_DECIMAL_PLACES} "
                f"decimal places and magnitude at most {MAX_AMOUNT:f}; got {value!r}"
            )
        elif kind == "non_negative" and number < 0:
            problems.append(f"{definition.code}: param {name!r} must be zero or more; got {value!r}")
    return problems


# Also where a criterion has no thresholds, so a misspelt template cannot pass unnoticed.
_check_params = params_check(param_problems)


def _number(definition: CriterionDef, name: str) -> Decimal:
    return _numbers(definition)[name]


@per_template
def _numbers(definition: CriterionDef) -> dict[str, Decimal]:
    """The criterion's numeric thresholds, given or defaulted, checked and parsed once per template."""
    _check_params(definition)
    numbers = {}
    for name, (kind, default) in PARAMS[definition.code].items():
        if kind == "eac_method":
            continue
        raw = definition.params.get(name, default)
        number = _as_decimal(raw)
        if number is None:  # unreachable for validated params and shipped defaults; kept for the type checker
            raise InputError(f"{definition.code}: param {name!r} is not a number: {raw!r}")
        numbers[name] = number
    return numbers


def _eac_method(definition: CriterionDef) -> EacMethod:
    _check_params(definition)
    raw = definition.params.get("eac_method", PARAMS[definition.code]["eac_method"][1])
    return next(method for method in EAC_METHODS if method == raw)


# --- shared wording ----------------------------------------------------------------------------------------


def _percent_of(part: Decimal, whole: Decimal) -> Decimal:
    """``part`` as a percentage of a non-zero ``whole``, to one decimal place, for messages only."""
    return EXACT.quantize(EXACT.divide(EXACT.multiply(part, 100), whole), Decimal("0.1"))


def _plain(value: Decimal) -> str:
    """Decimal as written by people (``100000``, never ``1E+5``), for the machine-read measured/threshold."""
    text = str(value)  # the same digits, and cheaper, whenever it has no exponent
    return format(value, "f") if "E" in text or "e" in text else text


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _share(percent: Decimal, base: Decimal) -> Decimal:
    """``percent`` % of ``base``, in cents, computed exactly."""
    return EXACT.quantize(EXACT.divide(EXACT.multiply(percent, base), 100), MONEY)


_LABELS = {
    "bac": ("budget at completion (BAC)", "完工预算 BAC"),
    "pv": ("planned value (PV)", "计划价值 PV"),
    "ev": ("earned value (EV)", "挣值 EV"),
    "ac": ("actual cost (AC)", "实际成本 AC"),
    "etc": ("bottom-up estimate to complete (ETC)", "自下而上的完工尚需估算 ETC"),
}

_NO_SNAPSHOT = ("no earned-value snapshot is recorded", "未记录挣值数据")
_RECORD_EVM = (
    "record an earned-value snapshot (BAC, PV, EV, AC) as of the gate date",
    "登记截至评审日的挣值数据（完工预算 BAC、计划价值 PV、挣值 EV、实际成本 AC）",
)


def _unavailable(evm: EvmSnapshot | None, needed: tuple[str, ...], nonzero: tuple[str, ...]) -> tuple[str, str]:
    """Why a figure is undefined: the first input that is missing, or zero where it divides."""
    if evm is None:
        return _NO_SNAPSHOT
    for name in needed:
        if getattr(evm, name) is None:
            en, zh = _LABELS[name]
            return f"{en} is not reported", f"未报告{zh}"
    for name in nonzero:
        if getattr(evm, name) == 0:
            en, zh = _LABELS[name]
            return f"{en} is zero, so the ratio is undefined", f"{zh}为零，比值无定义"
    return "the figure is undefined for these inputs", "按现有数据无法计算该指标"


def _result(
    definition: CriterionDef,
    evidence: BudgetEvidence,
    *,
    passed: bool,
    measured: str | None,
    threshold: str,
    message: str,
    message_zh: str,
    remediation: tuple[str, str],
    evidence_missing: bool = False,
) -> CriterionResult:
    return CriterionResult(
        code=definition.code,
        kind=definition.kind,
        remediable=definition.remediable,
        passed=passed,
        evidence_missing=evidence_missing,
        measured=measured,
        threshold=threshold,
        message=message,
        message_zh=message_zh,
        remediation="" if passed else remediation[0],
        remediation_zh="" if passed else remediation[1],
        evidence_ref=evidence.reference,
    )


def _missing(
    definition: CriterionDef,
    evidence: BudgetEvidence,
    threshold: str,
    figure: tuple[str, str],
    reason: tuple[str, str],
    fix: tuple[str, str],
) -> CriterionResult:
    return _result(
        definition,
        evidence,
        passed=False,
        evidence_missing=True,
        measured=None,
        threshold=threshold,
        message=f"cannot assess {figure[0]}: {reason[0]}",
        message_zh=f"无法评估{figure[1]}：{reason[1]}",
        remediation=fix,
    )


def _figures(evidence: BudgetEvidence, method: EacMethod = "cpi") -> EvmFigures | None:
    return None if evidence.evm is None else _compute(evidence.evm, method)


@lru_cache(maxsize=4096)
def _compute(snapshot: EvmSnapshot, method: EacMethod) -> EvmFigures:
    """Several budget criteria read the same snapshot at one gate: compute its figures once."""
    return compute(snapshot, eac_method=method)


# --- index floors and ceiling ------------------------------------------------------------------------------

_FIX_COST = (
    "find the cost drivers behind the overrun, agree corrective actions with owners, and re-forecast the EAC; "
    "if the overrun is structural, raise an exception report and request a budget change from the sponsor",
    "查明超支的成本驱动因素，明确责任人并制定纠正措施，重新预测完工估算 EAC；如属结构性超支，"
    "提交例外报告并向发起人申请预算变更",
)
_FIX_SCHEDULE = (
    "re-plan the remaining work (fast-track, crash or re-sequence the critical path) and re-forecast the "
    "finish date; change the baseline only through change control",
    "重新规划剩余工作（快速跟进、赶工或调整关键路径）并重新预测完工日期；仅通过变更控制调整基准",
)


def cpi_floor(definition: CriterionDef, evidence: BudgetEvidence) -> CriterionResult:
    """CPI = EV / AC at or above ``min`` (default 0.90). No AC, or AC of zero, is missing evidence."""
    floor = _number(definition, "min")
    threshold = f">= {_plain(floor)}"
    figures = _figures(evidence)
    figure = ("cost performance index (CPI)", "成本绩效指数 CPI")
    if figures is None or figures.cpi is None or figures.ev is None or figures.ac is None:
        return _missing(
            definition, evidence, threshold, figure, _unavailable(evidence.evm, ("ev", "ac"), ("ac",)), _RECORD_EVM
        )
    cpi, cur = figures.cpi, evidence.currency
    basis = f"EV {_money(figures.ev)} / AC {_money(figures.ac)} {cur}"
    basis_zh = f"挣值 EV {_money(figures.ev)} / 实际成本 AC {_money(figures.ac)} {cur}"
    passed = cpi >= floor
    if passed:
        message = f"cost performance index CPI {cpi} meets the floor {floor} ({basis})"
        message_zh = f"成本绩效指数 CPI 为 {cpi}，达到下限 {floor}（{basis_zh}）"
    else:
        message = f"cost performance index CPI {cpi} is below the floor {floor} ({basis})"
        message_zh = f"成本绩效指数 CPI 为 {cpi}，低于下限 {floor}（{basis_zh}）"
    return _result(
        definition,
        evidence,
        passed=passed,
        measured=_plain(cpi),
        threshold=threshold,
        message=message,
        message_zh=message_zh,
        remediation=_FIX_COST,
    )


def spi_floor(definition: CriterionDef, evidence: BudgetEvidence) -> CriterionResult:
    """SPI = EV / PV at or above ``min`` (default 0.90). No PV, or PV of zero, is missing evidence."""
    floor = _number(definition, "min")
    threshold = f">= {_plain(floor)}"
    figures = _figures(evidence)
    figure = ("schedule performance index (SPI)", "进度绩效指数 SPI")
    if figures is None or figures.spi is None or figures.ev is None or figures.pv is None:
        return _missing(
            definition, evidence, threshold, figure, _unavailable(evidence.evm, ("ev", "pv"), ("pv",)), _RECORD_EVM
        )
    spi, cur = figures.spi, evidence.currency
    basis = f"EV {_money(figures.ev)} / PV {_money(figures.pv)} {cur}"
    basis_zh = f"挣值 EV {_money(figures.ev)} / 计划价值 PV {_money(figures.pv)} {cur}"
    passed = spi >= floor
    if passed:
        message = f"schedule performance index SPI {spi} meets the floor {floor} ({basis})"
        message_zh = f"进度绩效指数 SPI 为 {spi}，达到下限 {floor}（{basis_zh}）"
    else:
        message = f"schedule performance index SPI {spi} is below the floor {floor} ({basis})"
        message_zh = f"进度绩效指数 SPI 为 {spi}，低于下限 {floor}（{basis_zh}）"
    return _result(
        definition,
        evidence,
        passed=passed,
        measured=_plain(spi),
        threshold=threshold,
        message=message,
        message_zh=message_zh,
        remediation=_FIX_SCHEDULE,
    )


def tcpi_ceiling(definition: CriterionDef, evidence: BudgetEvidence) -> CriterionResult:
    """TCPI to BAC = (BAC - EV) / (BAC - AC) at or below ``max`` (default 1.10, above which recovery is
    historically unheard of). When AC has reached BAC with work still to earn, no efficiency can finish
    within BAC: that is a failure, not missing evidence. With no work left to earn, there is nothing to
    recover and the criterion passes.
    """
    ceiling = _number(definition, "max")
    threshold = f"<= {_plain(ceiling)}"
    figures = _figures(evidence)
    figure = ("to-complete performance index (TCPI)", "完工尚需绩效指数 TCPI")
    fix = (
        "re-forecast the EAC and seek approval of a revised budget (then track TCPI to EAC), or reduce scope "
        "through change control; do not plan on an efficiency the project has not shown",
        "重新预测完工估算 EAC 并申请批准修订后的预算（之后按 EAC 跟踪 TCPI），或通过变更控制缩减范围；"
        "不要寄希望于项目从未达到过的绩效",
    )
    if figures is None or figures.ev is None or figures.ac is None:
        return _missing(
            definition, evidence, threshold, figure, _unavailable(evidence.evm, ("ev", "ac"), ()), _RECORD_EVM
        )
    cur = evidence.currency
    bac, ev, ac = figures.bac, figures.ev, figures.ac
    remaining_work = bac - ev
    if remaining_work <= 0:
        return _result(
            definition,
            evidence,
            passed=True,
            measured="no remaining work",
            threshold=threshold,
            message=f"no work remains to be earned (EV {_money(ev)} equals BAC {_money(bac)} {cur}); "
            "TCPI does not apply",
            message_zh=f"已无剩余工作（挣值 EV {_money(ev)} 等于完工预算 BAC {_money(bac)} {cur}），"
            "完工尚需绩效指数 TCPI 不适用",
            remediation=fix,
        )
    if figures.tcpi_bac is None:  # BAC - AC <= 0 with work still to earn
        return _result(
            definition,
            evidence,
            passed=False,
            measured="unattainable",
            threshold=threshold,
            message=f"the budget is exhausted: AC {_money(ac)} has reached BAC {_money(bac)} {cur} with "
            f"{_money(remaining_work)} {cur} of work still to earn, so no TCPI can finish within BAC",
            message_zh=f"预算已耗尽：实际成本 AC {_money(ac)} 已达到完工预算 BAC {_money(bac)} {cur}，"
            f"仍有 {_money(remaining_work)} {cur} 的工作未完成，任何绩效都无法在 BAC 内完工",
            remediation=fix,
        )
    tcpi = figures.tcpi_bac
    basis = f"(BAC - EV) {_money(remaining_work)} / (BAC - AC) {_money(bac - ac)} {cur}"
    passed = tcpi <= ceiling
    if passed:
        message = f"to-complete performance index TCPI {tcpi} is within the ceiling {ceiling} ({basis})"
        message_zh = f"完工尚需绩效指数 TCPI 为 {tcpi}，未超过上限 {ceiling}（{basis}）"
    else:
        message = (
            f"to-complete performance index TCPI {tcpi} exceeds the ceiling {ceiling}: finishing within BAC needs "
            f"an efficiency the project has not shown ({basis})"
        )
        message_zh = (
            f"完工尚需绩效指数 TCPI 为 {tcpi}，超过上限 {ceiling}：要在完工预算内完工，"
            f"需要项目从未达到过的绩效（{basis}）"
        )
    return _result(
        definition,
        evidence,
        passed=passed,
        measured=_plain(tcpi),
        threshold=threshold,
        message=message,
        message_zh=message_zh,
        remediation=fix,
    )


# --- variances ---------------------------------------------------------------------------------------------


def _variance(
    definition: CriterionDef,
    evidence: BudgetEvidence,
    *,
    figure: tuple[str, str],
    value: Decimal | None,
    base: Decimal | None,
    base_label: tuple[str, str],
    reason: tuple[str, str],
    fix: tuple[str, str],
) -> CriterionResult:
    """Adverse variance within the greater of ``amount`` and ``percent`` % of ``base``; favourable always passes."""
    amount, percent = _number(definition, "amount"), _number(definition, "percent")
    cur = evidence.currency
    rule = f"the greater of {_money(amount)} {cur} and {percent}% of {base_label[0]}"
    rule_zh = f"取 {_money(amount)} {cur} 与{base_label[1]} 的 {percent}% 中的较大者"
    if value is None or base is None:
        return _missing(definition, evidence, f"adverse <= {rule}", figure, reason, _RECORD_EVM)
    tolerance = max(amount.quantize(MONEY, rounding=ROUND_HALF_EVEN), _share(percent, base))
    threshold = f">= -{_plain(tolerance)}"
    passed = not (value < 0 and -value > tolerance)
    if value >= 0:
        kind, kind_zh = ("favourable", "有利偏差") if value > 0 else ("on plan", "无偏差")
        message = f"{figure[0]} {_money(value)} {cur} is {kind} (tolerance {_money(tolerance)} {cur}: {rule})"
        message_zh = f"{figure[1]} 为 {_money(value)} {cur}，{kind_zh}（容差 {_money(tolerance)} {cur}，{rule_zh}）"
    elif passed:
        message = f"{figure[0]} {_money(value)} {cur} is within the tolerance of {_money(tolerance)} {cur} ({rule})"
        message_zh = f"{figure[1]} 为 {_money(value)} {cur}，在容差 {_money(tolerance)} {cur} 之内（{rule_zh}）"
    else:
        message = f"{figure[0]} {_money(value)} {cur} is beyond the tolerance of {_money(tolerance)} {cur} ({rule})"
        message_zh = f"{figure[1]} 为 {_money(value)} {cur}，超出容差 {_money(tolerance)} {cur}（{rule_zh}）"
    return _result(
        definition,
        evidence,
        passed=passed,
        measured=_plain(value),
        threshold=threshold,
        message=message,
        message_zh=message_zh,
        remediation=fix,
    )


def cost_variance(definition: CriterionDef, evidence: BudgetEvidence) -> CriterionResult:
    """Adverse CV = EV - AC no worse than the greater of ``amount`` (15,000) and ``percent`` (10) % of BAC."""
    figures = _figures(evidence)
    return _variance(
        definition,
        evidence,
        figure=("cost variance CV", "成本偏差 CV"),
        value=None if figures is None else figures.cv,
        base=None if figures is None else figures.bac,
        base_label=("BAC", "完工预算 BAC"),
        reason=_unavailable(evidence.evm, ("ev", "ac"), ()),
        fix=_FIX_COST,
    )


def schedule_variance(definition: CriterionDef, evidence: BudgetEvidence) -> CriterionResult:
    """Adverse SV = EV - PV no worse than the greater of ``amount`` (15,000) and ``percent`` (10) % of PV:
    PV, not BAC, because schedule slippage is judged against the work that should be done by now.
    """
    figures = _figures(evidence)
    return _variance(
        definition,
        evidence,
        figure=("schedule variance SV", "进度偏差 SV"),
        value=None if figures is None else figures.sv,
        base=None if figures is None else figures.pv,
        base_label=("PV", "计划价值 PV"),
        reason=_unavailable(evidence.evm, ("ev", "pv"), ()),
        fix=_FIX_SCHEDULE,
    )


def eac_within_bac(definition: CriterionDef, evidence: BudgetEvidence) -> CriterionResult:
    """The forecast stays within budget: VAC = BAC - EAC >= -(``tolerance_percent`` % of BAC), with the EAC
    method from ``eac_method`` (default ``cpi``). A forecast breach is a PRINCE2 exception, so it fails.
    """
    tolerance_percent = _number(definition, "tolerance_percent")
    method = _eac_method(definition)
    figure = (
        f"the estimate at completion (EAC, {_EAC_METHOD_EN[method]})",
        f"完工估算 EAC（{_EAC_METHOD_ZH[method]}）",
    )
    figures = _figures(evidence, method)
    if figures is None or figures.vac is None:
        needed, nonzero = {
            "cpi": (("ev", "ac"), ("ac", "ev")),
            "atypical": (("ev", "ac"), ()),
            "cpi_spi": (("ev", "ac", "pv"), ("ac", "ev", "pv")),
            "bottom_up": (("ac", "etc"), ()),
        }[method]
        reason = _unavailable(evidence.evm, needed, nonzero)
        return _missing(definition, evidence, f"VAC >= -{tolerance_percent}% of BAC", figure, reason, _RECORD_EVM)
    cur, bac, vac = evidence.currency, figures.bac, figures.vac
    eac = bac - vac
    allowed = _share(tolerance_percent, bac)
    threshold = f">= -{_plain(allowed)}"
    passed = vac >= -allowed
    basis = f"EAC {_money(eac)} vs BAC {_money(bac)} {cur}, VAC {_money(vac)}"
    basis_zh = f"完工估算 EAC {_money(eac)}，完工预算 BAC {_money(bac)} {cur}，完工偏差 VAC {_money(vac)}"
    if passed:
        message = (
            f"{figure[0]} is within budget and tolerance {_money(allowed)} {cur} ({tolerance_percent}% of BAC): {basis}"
        )
        message_zh = f"{figure[1]}在预算及容差 {_money(allowed)} {cur}（BAC 的 {tolerance_percent}%）之内：{basis_zh}"
    else:
        message = (
            f"{figure[0]} breaches the cost tolerance of {_money(allowed)} {cur} ({tolerance_percent}% of BAC): {basis}"
        )
        message_zh = f"{figure[1]}超出成本容差 {_money(allowed)} {cur}（BAC 的 {tolerance_percent}%）：{basis_zh}"
    fix = (
        "a forecast breach is an exception: escalate it to the level that set the cost tolerance with options "
        "(reduce scope, re-plan, or increase the budget)",
        "预测超出容差即为例外：上报至设定成本容差的管理层级，并提出备选方案（缩减范围、重新规划或追加预算）",
    )
    return _result(
        definition,
        evidence,
        passed=passed,
        measured=_plain(vac),
        threshold=threshold,
        message=message,
        message_zh=message_zh,
        remediation=fix,
    )


# --- stage money -------------------------------------------------------------------------------------------


def stage_spend(definition: CriterionDef, evidence: BudgetEvidence) -> CriterionResult:
    """Spend in the current stage does not exceed the budget the last gate approved for it."""
    _check_params(definition)
    spend, budget, cur = evidence.stage_spend, evidence.approved_stage_budget, evidence.currency
    figure = ("stage spend against the approved stage budget", "阶段支出是否在批准的阶段预算之内")
    if budget is None or spend is None:
        reason = (
            ("the approved stage budget is not recorded", "未记录批准的阶段预算")
            if budget is None
            else ("stage spend is not reported", "未报告阶段支出")
        )
        fix = (
            "record the stage budget approved at the last gate and the actual spend in this stage",
            "登记上一个阶段门批准的阶段预算以及本阶段的实际支出",
        )
        return _missing(definition, evidence, "<= approved stage budget", figure, reason, fix)
    passed = spend <= budget
    share = f" ({_percent_of(spend, budget)}%)" if budget else ""
    share_zh = f"（{_percent_of(spend, budget)}%）" if budget else ""
    if passed:
        message = f"stage spend {_money(spend)} {cur} is within the approved stage budget {_money(budget)} {cur}{share}"
        message_zh = f"阶段支出 {_money(spend)} {cur} 未超出批准的阶段预算 {_money(budget)} {cur}{share_zh}"
    else:
        over = spend - budget
        message = (
            f"stage spend {_money(spend)} {cur} exceeds the approved stage budget {_money(budget)} {cur} "
            f"by {_money(over)}{share}"
        )
        message_zh = (
            f"阶段支出 {_money(spend)} {cur} 超出批准的阶段预算 {_money(budget)} {cur}，超支 {_money(over)}{share_zh}"
        )
    fix = (
        "explain the overspend and ask the gatekeepers to approve it, or re-plan the stage within its budget",
        "说明超支原因并提请阶段门评审人批准，或在阶段预算内重新规划本阶段",
    )
    return _result(
        definition,
        evidence,
        passed=passed,
        measured=_plain(spend),
        threshold=f"<= {_plain(budget)}",
        message=message,
        message_zh=message_zh,
        remediation=fix,
    )


def contingency(definition: CriterionDef, evidence: BudgetEvidence) -> CriterionResult:
    """Some contingency reserve is left: ``contingency_used < contingency``. A reserve of zero is exhausted."""
    _check_params(definition)
    reserve, used, cur = evidence.contingency, evidence.contingency_used, evidence.currency
    figure = ("how much contingency reserve is left", "应急储备是否尚有余额")
    if reserve is None or used is None:
        reason = (
            ("the contingency reserve is not recorded", "未记录应急储备")
            if reserve is None
            else ("contingency used is not reported", "未报告应急储备的已用金额")
        )
        fix = ("record the contingency reserve and how much of it is used", "登记应急储备总额及其已用金额")
        return _missing(definition, evidence, "< contingency reserve", figure, reason, fix)
    passed = used < reserve
    remaining = reserve - used
    if passed:
        message = (
            f"contingency reserve: {_money(used)} of {_money(reserve)} {cur} used, {_money(remaining)} {cur} remaining"
        )
        message_zh = f"应急储备：已用 {_money(used)} / {_money(reserve)} {cur}，剩余 {_money(remaining)} {cur}"
    else:
        message = f"contingency reserve exhausted: {_money(used)} of {_money(reserve)} {cur} used"
        message_zh = f"应急储备已耗尽：已用 {_money(used)} / {_money(reserve)} {cur}"
    fix = (
        "re-assess the risk register and request management reserve or a budget change from the sponsor before "
        "committing further risk responses",
        "重新评估风险登记册，在继续实施风险应对前向发起人申请管理储备或预算变更",
    )
    return _result(
        definition,
        evidence,
        passed=passed,
        measured=_plain(used),
        threshold=f"< {_plain(reserve)}",
        message=message,
        message_zh=message_zh,
        remediation=fix,
    )


BUDGET_CRITERIA: dict[str, BudgetCriterion] = {
    "budget.cpi_floor": cpi_floor,
    "budget.spi_floor": spi_floor,
    "budget.tcpi_ceiling": tcpi_ceiling,
    "budget.cost_variance": cost_variance,
    "budget.schedule_variance": schedule_variance,
    "budget.eac_within_bac": eac_within_bac,
    "budget.stage_spend": stage_spend,
    "budget.contingency": contingency,
}
