"""Cooper-style scorecard: gatekeepers score each should-meet factor, and the gate reads the summary.

The maths is exact (fractions) and only the reported figures are rounded, half to even: factor means to 2
decimal places, the weighted mean to 2, the percentage of the maximum to 1. The pass mark and the floors are
compared with those reported figures, so the number a gatekeeper reads is the number that was compared.

Scores that cannot be used (an unknown factor, a score outside 0..max_score, one gatekeeper giving one factor
two different scores) are listed as problems and left out of the maths. Dropping every conflicting score of
that gatekeeper and factor, rather than keeping the first or last, keeps the summary independent of the order
the scores arrive in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from pydantic import BaseModel, ConfigDict

from gates.criteria import Criterion
from models.errors import InputError
from models.evidence import GateEvidence, ScoreEvidence
from models.snapshots import CriterionResult
from models.template import CriterionDef, FactorDef, GateDef, LifecycleTemplate, ScorecardDef

CODES = ("scorecard.pass",)

Reason = Literal["unknown_factor", "out_of_range", "conflicting"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FactorSummary(_Frozen):
    """One factor across gatekeepers. Figures are None when nobody gave the factor a usable score."""

    factor: str
    name: str
    name_zh: str | None
    weight: float
    floor: int
    n: int
    mean: Decimal | None
    min: int | None
    max: int | None
    spread: int | None
    flagged: bool
    below_floor: bool


class ScoreProblem(_Frozen):
    """Scores left out of the maths, and why."""

    gatekeeper: str
    factor: str
    scores: tuple[int, ...]
    reason: Reason


class ScorecardSummary(_Frozen):
    factors: tuple[FactorSummary, ...]
    weighted_mean: Decimal | None
    percent_of_max: Decimal | None
    max_score: int
    max_spread: int
    pass_percent: float
    min_gatekeepers: int
    gatekeepers: tuple[str, ...]
    """Gatekeepers who gave every factor a usable score; only they count towards ``min_gatekeepers``."""
    incomplete: tuple[str, ...]
    """Gatekeepers who scored some factors but not all; their usable scores still count in the means."""
    problems: tuple[ScoreProblem, ...]
    passed: bool

    @property
    def enough_gatekeepers(self) -> bool:
        return len(self.gatekeepers) >= self.min_gatekeepers


def _rounded(value: Fraction, places: int) -> Decimal:
    """Round half to even, exactly (``round`` on a Fraction is exact), then write as a Decimal."""
    step = round(value, places)
    return (Decimal(step.numerator) / Decimal(step.denominator)).quantize(Decimal(1).scaleb(-places))


def _exact(value: float) -> Fraction:
    """A template float as written (0.1 is one tenth, not its binary neighbour)."""
    return Fraction(Decimal(str(value)))


def _usable_scores(
    scorecard: ScorecardDef, scores: Sequence[ScoreEvidence]
) -> tuple[dict[str, dict[str, int]], list[ScoreProblem]]:
    """Factor -> gatekeeper -> score, keeping only usable scores; and the problems with the rest."""
    known = {factor.id for factor in scorecard.factors}
    given: dict[tuple[str, str], set[int]] = defaultdict(set)
    rejected: dict[tuple[str, str, Reason], set[int]] = defaultdict(set)
    for score in scores:
        if score.factor not in known:
            rejected[(score.gatekeeper, score.factor, "unknown_factor")].add(score.score)
        elif not 0 <= score.score <= scorecard.max_score:
            rejected[(score.gatekeeper, score.factor, "out_of_range")].add(score.score)
        else:
            given[(score.gatekeeper, score.factor)].add(score.score)
    usable: dict[str, dict[str, int]] = defaultdict(dict)
    for (gatekeeper, factor), values in given.items():
        if len(values) == 1:
            usable[factor][gatekeeper] = next(iter(values))
        else:
            rejected[(gatekeeper, factor, "conflicting")] |= values
    problems = [
        ScoreProblem(gatekeeper=gatekeeper, factor=factor, scores=tuple(sorted(values)), reason=reason)
        for (gatekeeper, factor, reason), values in sorted(rejected.items())
    ]
    return usable, problems


def _factor_summary(factor: FactorDef, by_gatekeeper: dict[str, int], max_spread: int) -> FactorSummary:
    values = list(by_gatekeeper.values())
    if not values:
        return FactorSummary(
            factor=factor.id,
            name=factor.name,
            name_zh=factor.name_zh,
            weight=factor.weight,
            floor=factor.floor,
            n=0,
            mean=None,
            min=None,
            max=None,
            spread=None,
            flagged=False,
            below_floor=False,
        )
    mean = _rounded(Fraction(sum(values), len(values)), 2)
    spread = max(values) - min(values)
    return FactorSummary(
        factor=factor.id,
        name=factor.name,
        name_zh=factor.name_zh,
        weight=factor.weight,
        floor=factor.floor,
        n=len(values),
        mean=mean,
        min=min(values),
        max=max(values),
        spread=spread,
        flagged=spread > max_spread,
        below_floor=mean < factor.floor,
    )


def summarize(scorecard: ScorecardDef, scores: Sequence[ScoreEvidence]) -> ScorecardSummary:
    """Per-factor figures, the weighted mean and its share of the maximum, and whether the scorecard passes:
    enough gatekeepers scored every factor, the share reaches ``pass_percent``, and no factor mean is below
    its floor. Disagreement (spread above ``max_spread``) is flagged for discussion but does not decide.
    """
    usable, problems = _usable_scores(scorecard, scores)
    factors = tuple(_factor_summary(f, usable.get(f.id, {}), scorecard.max_spread) for f in scorecard.factors)
    everyone = {gatekeeper for by_gatekeeper in usable.values() for gatekeeper in by_gatekeeper}
    complete = tuple(sorted(g for g in everyone if all(g in usable.get(f.id, {}) for f in scorecard.factors)))
    incomplete = tuple(sorted(everyone - set(complete)))
    weighted_mean: Decimal | None = None
    percent: Decimal | None = None
    if all(f.n for f in factors):
        total_weight = sum((_exact(f.weight) for f in scorecard.factors), Fraction(0))
        weighted_sum = sum(
            (_exact(f.weight) * Fraction(sum(usable[f.id].values()), len(usable[f.id])) for f in scorecard.factors),
            Fraction(0),
        )
        exact = weighted_sum / total_weight
        weighted_mean = _rounded(exact, 2)
        percent = _rounded(exact * 100 / scorecard.max_score, 1)
    passed = (
        len(complete) >= scorecard.min_gatekeepers
        and percent is not None
        and percent >= Decimal(str(scorecard.pass_percent))
        and not any(f.below_floor for f in factors)
    )
    return ScorecardSummary(
        factors=factors,
        weighted_mean=weighted_mean,
        percent_of_max=percent,
        max_score=scorecard.max_score,
        max_spread=scorecard.max_spread,
        pass_percent=scorecard.pass_percent,
        min_gatekeepers=scorecard.min_gatekeepers,
        gatekeepers=complete,
        incomplete=incomplete,
        problems=tuple(problems),
        passed=passed,
    )


# --- params -----------------------------------------------------------------------------------------------


def param_problems(definition: CriterionDef, gate: GateDef | None = None) -> list[str]:
    """Problems with a scorecard criterion, one line each. Given the gate, also what the gate lacks: the
    criterion reads the gate's scorecard, so a gate without one (or with a floor no score can reach) is a
    template error to report when the template loads, not a verdict at every review.
    """
    code = definition.code
    if code not in CODES:
        return [f"{code}: not a scorecard criterion; scorecard criteria are: {', '.join(CODES)}"]
    problems = [f"{code}: unknown param {name!r}; allowed params: (none)" for name in definition.params]
    if gate is None:
        return problems
    card = gate.scorecard
    if card is None:
        problems.append(f"{code} needs a scorecard on the gate: gate {gate.id!r} has no 'scorecard'")
        return problems
    seen: set[str] = set()
    for factor in card.factors:
        if factor.id in seen:
            problems.append(f"{code}: gate {gate.id!r} scorecard lists factor {factor.id!r} twice")
        seen.add(factor.id)
        if factor.floor > card.max_score:
            problems.append(
                f"{code}: gate {gate.id!r} factor {factor.id!r} floor {factor.floor} is above max_score "
                f"{card.max_score}, so it can never pass; floors must be 0..max_score"
            )
    return problems


# --- the criterion ----------------------------------------------------------------------------------------


def _percent(value: float) -> str:
    return format(Decimal(str(value)).normalize(), "f")


def _zh(factor: FactorSummary) -> str:
    return factor.name_zh or factor.name


def _problem_lines(summary: ScorecardSummary) -> tuple[str, str]:
    en: list[str] = []
    zh: list[str] = []
    for p in summary.problems:
        scores = ", ".join(str(s) for s in p.scores)
        if p.reason == "unknown_factor":
            en.append(f"{p.gatekeeper} on {p.factor}: {scores} (no such factor)")
            zh.append(f"{p.gatekeeper} 对 {p.factor} 的评分 {scores}（无此评分项）")
        elif p.reason == "out_of_range":
            en.append(f"{p.gatekeeper} on {p.factor}: {scores} (outside 0..{summary.max_score})")
            zh.append(f"{p.gatekeeper} 对 {p.factor} 的评分 {scores}（超出 0..{summary.max_score}）")
        else:
            en.append(f"{p.gatekeeper} on {p.factor}: {scores} (conflicting scores)")
            zh.append(f"{p.gatekeeper} 对 {p.factor} 的评分 {scores}（多个评分相互矛盾）")
    return "; ".join(en), "；".join(zh)


def _notes(summary: ScorecardSummary) -> tuple[str, str]:
    """Flagged disagreement, ignored scores and partial scorers: shown whatever the verdict."""
    en: list[str] = []
    zh: list[str] = []
    flagged = [f for f in summary.factors if f.flagged]
    if flagged:
        en.append(
            "gatekeepers disagree, discuss before deciding: "
            + ", ".join(
                f"{f.factor} (scores {f.min} to {f.max}, spread {f.spread} > {summary.max_spread})" for f in flagged
            )
        )
        zh.append(
            "评审人意见分歧较大，决策前请讨论："
            + "、".join(f"{_zh(f)}（评分 {f.min} 至 {f.max}，差值 {f.spread} > {summary.max_spread}）" for f in flagged)
        )
    if summary.problems:
        problems = _problem_lines(summary)
        en.append("scores ignored: " + problems[0])
        zh.append("以下评分未计入：" + problems[1])
    if summary.incomplete:
        en.append("scored only some factors: " + ", ".join(summary.incomplete))
        zh.append("仅对部分评分项打分：" + "、".join(summary.incomplete))
    return "; ".join(en), "；".join(zh)


def scorecard_pass(
    definition: CriterionDef, gate: GateDef, template: LifecycleTemplate, evidence: GateEvidence
) -> CriterionResult:
    """The gate's scorecard passes: enough gatekeepers scored every factor (else missing evidence), the
    weighted mean reaches ``pass_percent`` of the maximum, and no factor mean is below its floor.
    """
    problems = param_problems(definition, gate)
    card = gate.scorecard
    if problems or card is None:
        raise InputError("; ".join(problems) or f"{definition.code} needs a scorecard on the gate")
    summary = summarize(card, evidence.scores)
    return _verdict(definition, card, summary)


def _verdict(definition: CriterionDef, card: ScorecardDef, summary: ScorecardSummary) -> CriterionResult:
    pass_mark = _percent(card.pass_percent)
    threshold = f">= {pass_mark}% of max; each factor mean >= its floor"
    notes_en, notes_zh = _notes(summary)
    tail_en = f"; {notes_en}" if notes_en else ""
    tail_zh = f"；{notes_zh}" if notes_zh else ""
    complete = len(summary.gatekeepers)
    if not summary.enough_gatekeepers:
        return CriterionResult(
            code=definition.code,
            kind=definition.kind,
            remediable=definition.remediable,
            passed=False,
            evidence_missing=True,
            measured=None,
            threshold=threshold,
            message=f"only {complete} of the {card.min_gatekeepers} gatekeepers needed scored every factor" + tail_en,
            message_zh=f"仅 {complete} 位评审人对全部评分项打分，至少需要 {card.min_gatekeepers} 位" + tail_zh,
            remediation=f"ask at least {card.min_gatekeepers} gatekeepers to score every factor "
            f"(0 to {card.max_score}) before the gate",
            remediation_zh=f"请至少 {card.min_gatekeepers} 位评审人在阶段门评审前"
            f"对全部评分项打分（0 至 {card.max_score} 分）",
        )
    percent, mean = summary.percent_of_max, summary.weighted_mean
    headline = (
        f"scorecard at {percent}% of the maximum (weighted mean {mean} of {card.max_score}) "
        f"with {complete} {'gatekeeper' if complete == 1 else 'gatekeepers'} scoring every factor, "
        f"pass mark {pass_mark}%",
        f"评分卡得分为满分的 {percent}%（加权平均 {mean} / {card.max_score}），"
        f"{complete} 位评审人对全部评分项打分，及格线 {pass_mark}%",
    )
    low = [f for f in summary.factors if f.below_floor]
    parts_en = [headline[0]]
    parts_zh = [headline[1]]
    if low:
        parts_en.append("below floor: " + ", ".join(f"{f.factor} mean {f.mean} < {f.floor}" for f in low))
        parts_zh.append("低于下限：" + "、".join(f"{_zh(f)} 平均 {f.mean} < {f.floor}" for f in low))
    if summary.percent_of_max is not None and summary.percent_of_max < Decimal(str(card.pass_percent)):
        parts_en.append(f"below the pass mark {pass_mark}%")
        parts_zh.append(f"低于及格线 {pass_mark}%")
    weak = ", ".join(f.factor for f in low) or "the lowest-scoring factors"
    weak_zh = "、".join(_zh(f) for f in low) or "得分最低的评分项"
    return CriterionResult(
        code=definition.code,
        kind=definition.kind,
        remediable=definition.remediable,
        passed=summary.passed,
        measured=f"{percent}%",
        threshold=threshold,
        message="; ".join(parts_en) + tail_en,
        message_zh="；".join(parts_zh) + tail_zh,
        remediation=""
        if summary.passed
        else f"strengthen {weak} (for example more market or technical work) and re-score at the gate; "
        "if the gatekeepers proceed, make each weak factor a condition with an owner and a due date",
        remediation_zh=""
        if summary.passed
        else f"加强{weak_zh}（例如补充市场或技术工作）后在阶段门重新评分；如评审人决定继续推进，"
        "请将各薄弱项列为附带条件，并明确负责人与完成日期",
    )


SCORECARD_CRITERIA: dict[str, Criterion] = {"scorecard.pass": scorecard_pass}
