"""Risk criteria at a gate: the worst risks are owned and mitigated, and total exposure is within tolerance.

A risk's score is probability x impact on the template's scale (``LifecycleTemplate.risk_scale``), and its band
comes from the scale's bands, which are template data because they differ by organisation. The last band is
the top band: a risk there must have an owner and a response that actually reduces it.

Only live risks count. A risk is live unless its status says it is closed or retired: a typo or an unfamiliar
status ("Open", "monitoring") must never hide a critical risk from a gate. A live risk whose probability or
impact lies outside the scale cannot be banded or scored, so it is missing evidence, unless another risk
already fails the criterion outright (a real failure outranks a gap, safety first).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeGuard

from phasegate.gates.criteria import Criterion, evidence_reference, params_check, per_evaluation, per_template
from phasegate.gates.vocabulary.errors import InputError
from phasegate.gates.vocabulary.evidence import GateEvidence, RiskEvidence
from phasegate.gates.vocabulary.snapshots import CriterionResult
from phasegate.gates.vocabulary.template import CriterionDef, GateDef, LifecycleTemplate, RiskBandDef, RiskScaleDef

RESPONSES = ("avoid", "mitigate", "transfer", "accept", "escalate", "exploit", "enhance", "share")
"""Risk responses a template may name (PMBOK threats and opportunities); a misspelt one is a template error."""

DEFAULT_MITIGATING = ("mitigate", "avoid", "transfer")
"""Responses that reduce a threat. Accepting or escalating a top-band risk leaves it at the gate unchanged."""

CLOSED_STATUSES = ("closed", "retired")

PARAMS: dict[str, tuple[str, ...]] = {
    "risk.top_band_mitigated": ("responses", "require_register"),
    "risk.exposure_within_tolerance": ("max_exposure", "max_top_band", "require_register"),
}
"""Accepted params per criterion code."""

REQUIRED_PARAMS: dict[str, tuple[str, ...]] = {"risk.exposure_within_tolerance": ("max_exposure",)}


# --- scale ------------------------------------------------------------------------------------------------


def validate_risk(probability: int, impact: int, scale: RiskScaleDef) -> list[str]:
    """Problems with a risk's probability and impact on ``scale``, one line each; empty when both fit."""
    problems = []
    if not 1 <= probability <= scale.probability_max:
        problems.append(f"probability {probability} is outside the scale 1..{scale.probability_max}")
    if not 1 <= impact <= scale.impact_max:
        problems.append(f"impact {impact} is outside the scale 1..{scale.impact_max}")
    return problems


def risk_band(score: int, scale: RiskScaleDef) -> RiskBandDef:
    """The band holding ``score``. Unlike ``RiskScaleDef.band``, a score off the scale is an error, not top band."""
    top = scale.probability_max * scale.impact_max
    if not 1 <= score <= top:
        raise InputError(f"risk score {score} is outside the scale 1..{top} (probability x impact)")
    return next(band for band in scale.bands if band.min_score <= score <= band.max_score)


def is_live(risk: RiskEvidence) -> bool:
    return risk.status.strip().lower() not in CLOSED_STATUSES


# --- params -----------------------------------------------------------------------------------------------


def _is_int(value: object) -> TypeGuard[int]:
    """An integer param; YAML's true/false are bools, which Python counts as ints, so they are excluded."""
    return isinstance(value, int) and not isinstance(value, bool)


def _responses(value: object) -> tuple[str, ...] | None:
    """Comma-separated response names, or None when the value is not a usable list of known responses."""
    if not isinstance(value, str):
        return None
    names = tuple(name.strip().lower() for name in value.split(","))
    if not names or any(name not in RESPONSES for name in names):
        return None
    return names


def param_problems(definition: CriterionDef) -> list[str]:
    """Every problem with ``definition.params`` for a risk criterion, one line each, naming the param."""
    code = definition.code
    allowed = PARAMS.get(code)
    if allowed is None:
        return [f"{code}: not a risk criterion; risk criteria are: {', '.join(PARAMS)}"]
    problems = [
        f"{code}: param {name!r} is required (an integer, 0 or more)"
        for name in REQUIRED_PARAMS.get(code, ())
        if name not in definition.params
    ]
    for name, value in definition.params.items():
        if name not in allowed:
            problems.append(f"{code}: unknown param {name!r}; allowed params: {', '.join(allowed)}")
        elif name == "responses" and _responses(value) is None:
            problems.append(
                f"{code}: param 'responses' must be a comma-separated list of {', '.join(RESPONSES)}; got {value!r}"
            )
        elif name == "require_register" and not isinstance(value, bool):
            problems.append(f"{code}: param 'require_register' must be true or false; got {value!r}")
        elif name in ("max_exposure", "max_top_band") and not (_is_int(value) and value >= 0):
            problems.append(f"{code}: param {name!r} must be an integer, 0 or more; got {value!r}")
    return problems


_check_params = params_check(param_problems)


def _int_param(definition: CriterionDef, name: str) -> int | None:
    value = definition.params.get(name)
    return value if _is_int(value) else None


# --- shared wording ---------------------------------------------------------------------------------------


def _band_zh(band: RiskBandDef) -> str:
    return band.name_zh or band.name


def _band_range(band: RiskBandDef) -> str:
    return f"{band.min_score}-{band.max_score}"


def _result(
    definition: CriterionDef,
    reference: str,
    *,
    passed: bool,
    measured: str | None,
    threshold: str,
    message: tuple[str, str],
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
        message=message[0],
        message_zh=message[1],
        remediation="" if passed else remediation[0],
        remediation_zh="" if passed else remediation[1],
        evidence_ref=reference,
    )


_FIX_REGISTER = (
    "record the project's risk register (each risk with owner, probability, impact, response and mitigation)",
    "登记项目风险登记册（每项风险须含负责人、概率、影响、应对策略及缓解措施）",
)
_FIX_SCALE = (
    "re-score the listed risks on the template's scale (probability and impact from 1 to the scale's maximum)",
    "按模板的风险标尺重新评估所列风险（概率与影响取值须在 1 至标尺上限之间）",
)


def _empty_register(definition: CriterionDef, reference: str, threshold: str) -> CriterionResult:
    return _result(
        definition,
        reference,
        passed=False,
        evidence_missing=True,
        measured=None,
        threshold=threshold,
        message=(
            "the risk register is empty, and this gate requires one",
            "风险登记册为空，而本阶段门要求提交风险登记册",
        ),
        remediation=_FIX_REGISTER,
    )


def _off_scale(scale: RiskScaleDef, risks: Sequence[RiskEvidence]) -> tuple[str, str]:
    """The live risks that cannot be scored, with why, in both languages."""
    en = []
    zh = []
    for risk in risks:
        en.append(f"{risk.id} ({'; '.join(validate_risk(risk.probability, risk.impact, scale))})")
        zh.append(
            f"{risk.id}（概率 {risk.probability}、影响 {risk.impact}，"
            f"标尺为 1..{scale.probability_max} × 1..{scale.impact_max}）"
        )
    return (
        "cannot score risks off the template's scale: " + ", ".join(en),
        "以下风险超出模板的风险标尺，无法评分：" + "、".join(zh),
    )


@per_template
def _top_scores(scale: RiskScaleDef) -> frozenset[int]:
    """The scores whose band is the top band. A scale is template data, the same at every gate review."""
    top = scale.bands[-1]
    return frozenset(
        score for score in range(1, scale.probability_max * scale.impact_max + 1) if risk_band(score, scale) == top
    )


@per_evaluation
def _register(
    evidence: GateEvidence, scale: RiskScaleDef
) -> tuple[tuple[RiskEvidence, ...], tuple[RiskEvidence, ...], tuple[RiskEvidence, ...]]:
    """Live risks that fit the scale, live risks that do not, and those of the first kind in the top band.
    Both risk criteria of a gate read these, so the register is sorted out once per evaluation."""
    scored: list[RiskEvidence] = []
    off_scale: list[RiskEvidence] = []
    in_top: list[RiskEvidence] = []
    top_scores = _top_scores(scale)
    probability_max, impact_max = scale.probability_max, scale.impact_max
    for risk in evidence.risks:
        if not is_live(risk):
            continue
        if not (1 <= risk.probability <= probability_max and 1 <= risk.impact <= impact_max):  # as validate_risk
            off_scale.append(risk)
            continue
        scored.append(risk)
        if risk.probability * risk.impact in top_scores:
            in_top.append(risk)
    return tuple(scored), tuple(off_scale), tuple(in_top)


# --- criteria ---------------------------------------------------------------------------------------------


@per_template
def _mitigating(definition: CriterionDef) -> tuple[tuple[str, ...], tuple[str, str]]:
    """The responses that count as mitigating (param ``responses``), and the fix that names them."""
    raw = definition.params.get("responses")
    mitigating = _responses(raw) if raw is not None else DEFAULT_MITIGATING
    mitigating = mitigating or DEFAULT_MITIGATING  # unreachable after _check_params; keeps the type exact
    fix = (
        "for each listed risk, name an owner and record a response of "
        + ", ".join(mitigating)
        + " with a concrete mitigation plan; re-score the risk if the plan already lowered it",
        "为所列每项风险指定负责人，并采取 "
        + "、".join(mitigating)
        + " 之一的应对策略、填写具体缓解措施；如措施已降低风险，请重新评分",
    )
    return mitigating, fix


def _unmet(
    definition: CriterionDef,
    reference: str,
    scale: RiskScaleDef,
    off_scale: Sequence[RiskEvidence],
    failure: tuple[str, str] | None,
    *,
    measured: str,
    threshold: str,
    fix: tuple[str, str],
) -> CriterionResult | None:
    """The result when the criterion is not met, else None.

    A breach fails and also names the risks off the scale; without a breach, risks off the scale leave the
    criterion unjudged (missing evidence), since a risk that cannot be scored could be the one over the line.
    """
    if failure is not None:
        if off_scale:
            extra = _off_scale(scale, off_scale)
            failure = (f"{failure[0]}; also {extra[0]}", f"{failure[1]}；另外，{extra[1]}")
        return _result(
            definition,
            reference,
            passed=False,
            measured=measured,
            threshold=threshold,
            message=failure,
            remediation=fix,
        )
    if off_scale:
        return _result(
            definition,
            reference,
            passed=False,
            evidence_missing=True,
            measured=None,
            threshold=threshold,
            message=_off_scale(scale, off_scale),
            remediation=_FIX_SCALE,
        )
    return None


def top_band_mitigated(
    definition: CriterionDef, gate: GateDef, template: LifecycleTemplate, evidence: GateEvidence
) -> CriterionResult:
    """Every live top-band risk has an owner and a mitigating response (param ``responses``, default
    mitigate, avoid, transfer) with a mitigation written down: a response without a plan is only a label.
    """
    _check_params(definition)
    reference = evidence_reference("risk", gate, evidence)
    scale = template.risk_scale
    top = scale.bands[-1]
    mitigating, fix = _mitigating(definition)
    threshold = f"0 unmitigated top-band ({top.name}, score {_band_range(top)})"
    if definition.params.get("require_register") is True and not evidence.risks:
        return _empty_register(definition, reference, threshold)
    scored, off_scale, top_risks = _register(evidence, scale)
    in_top = sorted(top_risks, key=lambda r: (-r.score, r.id))
    gaps_en: list[str] = []
    gaps_zh: list[str] = []
    for risk in in_top:
        en: list[str] = []
        zh: list[str] = []
        if not (risk.owner or "").strip():
            en.append("no owner")
            zh.append("未指定负责人")
        response = (risk.response or "").strip().lower()
        if not response:
            en.append("no response")
            zh.append("未确定应对策略")
        elif response not in mitigating:
            en.append(f"response {response!r} does not reduce it (needs one of {', '.join(mitigating)})")
            zh.append(f"应对策略“{response}”无法降低风险（须为 {'、'.join(mitigating)} 之一）")
        if not risk.mitigation.strip():
            en.append("no mitigation plan")
            zh.append("未填写缓解措施")
        if en:
            gaps_en.append(f"{risk.id} (score {risk.score}, {top.name}): {', '.join(en)}")
            gaps_zh.append(f"{risk.id}（评分 {risk.score}，{_band_zh(top)}）：{'，'.join(zh)}")
    measured = f"{len(gaps_en)} unmitigated of {len(in_top)}"
    failure = (
        (
            f"{len(gaps_en)} of {len(in_top)} open top-band ({top.name}) risks lack an owner or mitigation: "
            + "; ".join(gaps_en),
            f"{len(in_top)} 项处于最高等级（{_band_zh(top)}）的未关闭风险中，有 {len(gaps_en)} 项缺少负责人或缓解措施："
            + "；".join(gaps_zh),
        )
        if gaps_en
        else None
    )
    unmet = _unmet(definition, reference, scale, off_scale, failure, measured=measured, threshold=threshold, fix=fix)
    if unmet is not None:
        return unmet
    if in_top:
        message = (
            f"all {len(in_top)} open top-band ({top.name}) risks have an owner and a mitigation: "
            + ", ".join(r.id for r in in_top),
            f"全部 {len(in_top)} 项最高等级（{_band_zh(top)}）未关闭风险均已指定负责人并制定缓解措施："
            + "、".join(r.id for r in in_top),
        )
    else:
        message = (
            f"no open risk is in the top band ({top.name}, score {_band_range(top)}); "
            f"{len(scored)} open risks in the register",
            f"没有处于最高等级（{_band_zh(top)}，评分 {_band_range(top)}）的未关闭风险；"
            f"登记册中未关闭风险 {len(scored)} 项",
        )
    return _result(
        definition, reference, passed=True, measured=measured, threshold=threshold, message=message, remediation=fix
    )


def exposure_within_tolerance(
    definition: CriterionDef, gate: GateDef, template: LifecycleTemplate, evidence: GateEvidence
) -> CriterionResult:
    """Total exposure (the sum of live risks' scores) at most ``max_exposure``, and at most ``max_top_band``
    live risks in the top band when that param is set. Exposure is a tolerance the level above set, so a
    breach is a failure to escalate, not a gap in the evidence.
    """
    _check_params(definition)
    reference = evidence_reference("risk", gate, evidence)
    scale = template.risk_scale
    top = scale.bands[-1]
    max_exposure = _int_param(definition, "max_exposure")
    if max_exposure is None:  # unreachable after _check_params; keeps the type exact
        raise InputError(f"{definition.code}: param 'max_exposure' is required (an integer, 0 or more)")
    max_top = _int_param(definition, "max_top_band")
    threshold = f"<= {max_exposure}" + ("" if max_top is None else f"; top band <= {max_top}")
    if definition.params.get("require_register") is True and not evidence.risks:
        return _empty_register(definition, reference, threshold)
    scored, off_scale, in_top = _register(evidence, scale)
    exposure = sum(r.score for r in scored)
    largest = sorted(scored, key=lambda r: (-r.score, r.id))[:3]
    measured = f"{exposure}" + ("" if max_top is None else f"; top band {len(in_top)}")
    over_exposure = exposure > max_exposure
    over_top = max_top is not None and len(in_top) > max_top
    basis = (
        f"open risk exposure {exposure} (sum of probability x impact over {len(scored)} open risks)",
        f"未关闭风险敞口为 {exposure}（{len(scored)} 项未关闭风险的概率 × 影响之和）",
    )
    parts_en: list[str] = []
    parts_zh: list[str] = []
    if over_exposure:
        parts_en.append(f"{basis[0]} exceeds the tolerance {max_exposure} by {exposure - max_exposure}")
        parts_zh.append(f"{basis[1]}，超出容差 {max_exposure}，超出 {exposure - max_exposure}")
    if over_top:
        parts_en.append(f"{len(in_top)} open risks are in the top band ({top.name}), at most {max_top} allowed")
        parts_zh.append(f"处于最高等级（{_band_zh(top)}）的未关闭风险有 {len(in_top)} 项，上限为 {max_top} 项")
    fix = (
        "carry out the planned responses for the largest risks and re-score them, or escalate the exposure to the "
        "level that set the risk tolerance and ask it to accept or change the tolerance",
        "落实最大风险的应对措施并重新评分，或将风险敞口上报至设定风险容差的管理层级，由其接受风险或调整容差",
    )
    failure = (
        (
            "; ".join(parts_en) + "; largest: " + ", ".join(f"{r.id} ({r.score})" for r in largest),
            "；".join(parts_zh) + "；评分最高：" + "、".join(f"{r.id}（{r.score}）" for r in largest),
        )
        if parts_en
        else None
    )
    unmet = _unmet(definition, reference, scale, off_scale, failure, measured=measured, threshold=threshold, fix=fix)
    if unmet is not None:
        return unmet
    top_en = "" if max_top is None else f"; {len(in_top)} in the top band ({top.name}), at most {max_top} allowed"
    top_zh = "" if max_top is None else f"；最高等级（{_band_zh(top)}）风险 {len(in_top)} 项，上限 {max_top} 项"
    message = (
        f"{basis[0]} is within the tolerance {max_exposure}{top_en}",
        f"{basis[1]}，未超出容差 {max_exposure}{top_zh}",
    )
    return _result(
        definition, reference, passed=True, measured=measured, threshold=threshold, message=message, remediation=fix
    )


RISK_CRITERIA: dict[str, Criterion] = {
    "risk.top_band_mitigated": top_band_mitigated,
    "risk.exposure_within_tolerance": exposure_within_tolerance,
}
