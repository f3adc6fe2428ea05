"""Cooper-style scorecard: gatekeepers score each should-meet factor, and the gate reads the summary.

The maths is exact (whole numbers) and only the reported figures are rounded, half to even: factor means to 2
decimal places, the weighted mean to 2, the percentage of the maximum to 1. The pass mark and the floors are
compared with those reported figures, so the number a gatekeeper reads is the number that was compared.

Scores that cannot be used (an unknown factor, a score outside 0..max_score, one gatekeeper giving one factor
two different scores) are listed as problems and left out of the maths. Dropping every conflicting score of
that gatekeeper and factor, rather than keeping the first or last, keeps the summary independent of the order
the scores arrive in.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict

from phasegate.gates.criteria import Criterion, evidence_reference, per_template
from phasegate.gates.vocabulary.errors import InputError
from phasegate.gates.vocabulary.evidence import GateEvidence, ScoreEvidence
from phasegate.gates.vocabulary.snapshots import CriterionResult
from phasegate.gates.vocabulary.template import CriterionDef, GateDef, LifecycleTemplate, ScorecardDef

CODES = ("scorecard.pass",)

Reason = Literal["unknown_factor", "out_of_range", "conflicting"]


class _Frozen(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")


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


class _Figures(NamedTuple):
    """A ``FactorSummary``'s fields. The criterion reads the figures only, so it builds no model per factor."""

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


class _Tally(NamedTuple):
    """What ``summarize`` reports beyond the scorecard's own settings."""

    factors: tuple[_Figures, ...]
    weighted_mean: Decimal | None
    percent_of_max: Decimal | None
    gatekeepers: tuple[str, ...]
    incomplete: tuple[str, ...]
    problems: tuple[ScoreProblem, ...]
    passed: bool


def _rounded(numerator: int, denominator: int, places: int) -> Decimal:
    """``numerator / denominator`` (denominator > 0) rounded half to even to ``places`` decimals, exactly:
    whole numbers only, so no intermediate rounding can tip a half the wrong way."""
    quotient, remainder = divmod(numerator * 10**places, denominator)
    if 2 * remainder > denominator or (2 * remainder == denominator and quotient % 2):
        quotient += 1
    return Decimal(quotient).scaleb(-places)


@per_template
def _whole_weights(scorecard: ScorecardDef) -> tuple[int, ...]:
    """The factors' weights as written (0.1 is one tenth, not its binary neighbour), scaled to whole numbers in
    the same ratio. A weighted mean depends only on the ratios, and a scorecard's weights are the same at every
    gate review, so this runs once per scorecard."""
    exact = [Fraction(Decimal(str(factor.weight))) for factor in scorecard.factors]
    scale = math.lcm(*(weight.denominator for weight in exact))
    return tuple(int(weight * scale) for weight in exact)


def _usable_scores(
    scorecard: ScorecardDef, scores: Sequence[ScoreEvidence]
) -> tuple[dict[str, dict[str, int]], tuple[ScoreProblem, ...]]:
    """Factor -> gatekeeper -> score, keeping only usable scores; and the problems with the rest."""
    usable: dict[str, dict[str, int]] = {factor.id: {} for factor in scorecard.factors}
    top = scorecard.max_score
    conflicting: dict[tuple[str, str], set[int]] = {}
    rejected: dict[tuple[str, str, Reason], set[int]] = defaultdict(set)
    for score in scores:
        factor, value = score.factor, score.score
        by_gatekeeper = usable.get(factor)
        if by_gatekeeper is None:
            rejected[(score.gatekeeper, factor, "unknown_factor")].add(value)
        elif not 0 <= value <= top:
            rejected[(score.gatekeeper, factor, "out_of_range")].add(value)
        else:
            seen = by_gatekeeper.setdefault(score.gatekeeper, value)
            if seen != value:
                conflicting.setdefault((score.gatekeeper, factor), {seen}).add(value)
    for (gatekeeper, factor), values in conflicting.items():
        del usable[factor][gatekeeper]
        rejected[(gatekeeper, factor, "conflicting")] |= values
    problems = tuple(
        ScoreProblem(gatekeeper=gatekeeper, factor=factor, scores=tuple(sorted(values)), reason=reason)
        for (gatekeeper, factor, reason), values in sorted(rejected.items())
    )
    return usable, problems


@lru_cache(maxsize=256)
def _pass_mark(pass_percent: float) -> Decimal:
    """The pass mark as written in the template (60.5 is 60.5, not its binary neighbour)."""
    return Decimal(str(pass_percent))


def _tally(scorecard: ScorecardDef, scores: Sequence[ScoreEvidence]) -> _Tally:
    usable, problems = _usable_scores(scorecard, scores)
    max_spread = scorecard.max_spread
    factors: list[_Figures] = []
    totals: list[int] = []
    counts: list[int] = []
    for f in scorecard.factors:
        by_gatekeeper = usable.get(f.id)
        if not by_gatekeeper:
            factors.append(
                _Figures(f.id, f.name, f.name_zh, f.weight, f.floor, 0, None, None, None, None, False, False)
            )
            continue
        values = by_gatekeeper.values()
        total, n, low, high = sum(values), len(values), min(values), max(values)
        mean = _rounded(total, n, 2)
        spread = high - low
        factors.append(
            _Figures(
                f.id,
                f.name,
                f.name_zh,
                f.weight,
                f.floor,
                n,
                mean,
                low,
                high,
                spread,
                spread > max_spread,
                mean < f.floor,
            )
        )
        totals.append(total)
        counts.append(n)
    everyone = set().union(*usable.values())
    complete = tuple(sorted(everyone.intersection(*(usable.get(f.id, ()) for f in scorecard.factors))))
    incomplete = tuple(sorted(everyone.difference(complete)))
    weighted_mean: Decimal | None = None
    percent: Decimal | None = None
    if len(counts) == len(factors):  # every factor has a usable score
        # The exact weighted mean of the factor means, as one fraction of whole numbers: each factor mean
        # total/n is written over the common denominator of all the counts.
        weights = _whole_weights(scorecard)
        common = math.lcm(*counts)
        numerator = sum(w * total * (common // n) for w, total, n in zip(weights, totals, counts, strict=True))
        denominator = common * sum(weights)
        weighted_mean = _rounded(numerator, denominator, 2)
        percent = _rounded(numerator * 100, denominator * scorecard.max_score, 1)
    passed = (
        len(complete) >= scorecard.min_gatekeepers
        and percent is not None
        and percent >= _pass_mark(scorecard.pass_percent)
        and not any(f.below_floor for f in factors)
    )
    return _Tally(tuple(factors), weighted_mean, percent, complete, incomplete, problems, passed)


def summarize(scorecard: ScorecardDef, scores: Sequence[ScoreEvidence]) -> ScorecardSummary:
    """Per-factor figures, the weighted mean and its share of the maximum, and whether the scorecard passes:
    enough gatekeepers scored every factor, the share reaches ``pass_percent``, and no factor mean is below
    its floor. Disagreement (spread above ``max_spread``) is flagged for discussion but does not decide.
    """
    tally = _tally(scorecard, scores)
    return ScorecardSummary(
        factors=tuple(FactorSummary(**figures._asdict()) for figures in tally.factors),
        weighted_mean=tally.weighted_mean,
        percent_of_max=tally.percent_of_max,
        max_score=scorecard.max_score,
        max_spread=scorecard.max_spread,
        pass_percent=scorecard.pass_percent,
        min_gatekeepers=scorecard.min_gatekeepers,
        gatekeepers=tally.gatekeepers,
        incomplete=tally.incomplete,
        problems=tally.problems,
        passed=tally.passed,
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


@lru_cache(maxsize=256)
def _percent(value: float) -> str:
    return format(Decimal(str(value)).normalize(), "f")


def _zh(factor: _Figures) -> str:
    return factor.name_zh or factor.name


def _problem_lines(problems: tuple[ScoreProblem, ...], max_score: int) -> tuple[str, str]:
    en: list[str] = []
    zh: list[str] = []
    for p in problems:
        scores = ", ".join(str(s) for s in p.scores)
        if p.reason == "unknown_factor":
            en.append(f"{p.gatekeeper} on {p.factor}: {scores} (no such factor)")
            zh.append(f"{p.gatekeeper} 对 {p.factor} 的评分 {scores}（无此评分项）")
        elif p.reason == "out_of_range":
            en.append(f"{p.gatekeeper} on {p.factor}: {scores} (outside 0..{max_score})")
            zh.append(f"{p.gatekeeper} 对 {p.factor} 的评分 {scores}（超出 0..{max_score}）")
        else:
            en.append(f"{p.gatekeeper} on {p.factor}: {scores} (conflicting scores)")
            zh.append(f"{p.gatekeeper} 对 {p.factor} 的评分 {scores}（多个评分相互矛盾）")
    return "; ".join(en), "；".join(zh)


def _notes(summary: _Tally, card: ScorecardDef) -> tuple[str, str]:
    """Flagged disagreement, ignored scores and partial scorers: shown whatever the verdict."""
    en: list[str] = []
    zh: list[str] = []
    flagged = [f for f in summary.factors if f.flagged]
    if flagged:
        en.append(
            "gatekeepers disagree, discuss before deciding: "
            + ", ".join(
                f"{f.factor} (scores {f.min} to {f.max}, spread {f.spread} > {card.max_spread})" for f in flagged
            )
        )
        zh.append(
            "评审人意见分歧较大，决策前请讨论："
            + "、".join(f"{_zh(f)}（评分 {f.min} 至 {f.max}，差值 {f.spread} > {card.max_spread}）" for f in flagged)
        )
    if summary.problems:
        problems = _problem_lines(summary.problems, card.max_score)
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
    summary = _tally(card, evidence.scores)
    return _verdict(definition, card, summary, evidence_reference("scorecard", gate, evidence))


def _verdict(definition: CriterionDef, card: ScorecardDef, summary: _Tally, reference: str) -> CriterionResult:
    pass_mark = _percent(card.pass_percent)
    threshold = f">= {pass_mark}% of max; each factor mean >= its floor"
    notes_en, notes_zh = _notes(summary, card)
    tail_en = f"; {notes_en}" if notes_en else ""
    tail_zh = f"；{notes_zh}" if notes_zh else ""
    complete = len(summary.gatekeepers)
    if complete < card.min_gatekeepers:
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
            evidence_ref=reference,
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
    if summary.percent_of_max is not None and summary.percent_of_max < _pass_mark(card.pass_percent):
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
        evidence_ref=reference,
    )


SCORECARD_CRITERIA: dict[str, Criterion] = {"scorecard.pass": scorecard_pass}
