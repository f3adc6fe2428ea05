"""Maturity score: how well the organisation runs its gates, computed from what it did, not from a questionnaire.

Why from the data: a self-assessment flatters; the record does not. Each dimension is a share of events that
went the way a mature PMO makes them go, scored 1-5 like P3M3 levels (1 initial, 2 repeatable, 3 defined,
4 managed, 5 optimised) against the thresholds in ``THRESHOLDS`` (docs/reports.md prints the table). A dimension
with no events in the quarter is not scored (it says "no evidence") rather than guessed. The overall level is the
lowest scored dimension: as in P3M3, an organisation is at a level when every practice is.

Events belong to the quarter in which they happened, each dimension measured as of the quarter's last day (or
today, for the current quarter):

- **gate reviews on time**: gate dates (milestones whose id is a gate of the project's template) due in the
  quarter, already due; on time when the first review of that gate opened no later than the gate date.
- **documentation at first review**: first reviews of a gate opened in the quarter; compliant when every
  required deliverable was present and approved and every ``doc.*`` criterion passed.
- **status-report freshness**: projects in the portfolio at the measuring day (created by then, not yet closed
  or killed); fresh when their latest status report is at most ``FRESH_DAYS`` old.
- **decisions within SLA**: rounds decided in the quarter that had a due time (``gates.analytics``).
- **conditions closed on time**: conditions due in the quarter, closed or past due (``gates.analytics``).
- **exceptions raised, not found late**: tolerance exceptions raised in the quarter, against adverse gate
  decisions (recycle, hold, kill) in the quarter on a project that had no exception raised since its previous
  decision, which is a problem the gate found late rather than the monitor early.
- **lessons reused**: reviews opened in the quarter whose packet showed lessons; reused when a gatekeeper
  marked at least one applied.
- **early kills**: kills decided in the quarter; early when at a gate in the first half of the template's gates
  (position at most half the gates, rounded up), before the expensive stages.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from phasegate.gates.analytics import ConditionFact, GateFacts, RoundFact, conditions_on_time, decided_within_sla
from phasegate.gates.vocabulary.enums import Decision
from phasegate.gates.vocabulary.errors import InputError
from phasegate.gates.vocabulary.template import LifecycleTemplate

FRESH_DAYS = 35
"""A status report at most this many days old is fresh: monthly reporting with a few days' grace."""
TREND_QUARTERS = 4
ADVERSE = frozenset({Decision.RECYCLE, Decision.HOLD, Decision.KILL})
LEVEL_NAMES = {1: "initial", 2: "repeatable", 3: "defined", 4: "managed", 5: "optimised"}
LEVEL_NAMES_ZH = {1: "初始级", 2: "可重复级", 3: "已定义级", 4: "已管理级", 5: "优化级"}


@dataclass(frozen=True)
class Dimension:
    id: str
    name: str
    name_zh: str
    thresholds: tuple[int, int, int, int]
    """Percent needed for levels 2, 3, 4 and 5; below the first is level 1."""
    action: str
    action_zh: str


DIMENSIONS: tuple[Dimension, ...] = (
    Dimension(
        "reviews_on_time",
        "Gate reviews on time",
        "阶段门评审准时",
        (50, 70, 85, 95),
        "open each gate review by its gate date (set gate dates as milestones)",
        "在阶段门日期前发起评审（将阶段门日期设为里程碑）",
    ),
    Dimension(
        "documents_first_review",
        "Documentation complete at first review",
        "首次评审文档合规",
        (40, 60, 80, 95),
        "have required deliverables approved before requesting the review",
        "在申请评审前完成必需交付物的审批",
    ),
    Dimension(
        "status_fresh",
        "Status reports fresh",
        "状态报告及时",
        (50, 70, 85, 95),
        f"file a status report for every project at least every {FRESH_DAYS} days",
        f"每个项目至少每 {FRESH_DAYS} 天提交一次状态报告",
    ),
    Dimension(
        "decisions_in_sla",
        "Decisions within SLA",
        "决策在时限内",
        (50, 70, 85, 95),
        "gatekeepers decide by the round's due time (reminders and escalation help)",
        "关口评审人在时限内决策（借助催办和升级）",
    ),
    Dimension(
        "conditions_on_time",
        "Conditions closed on time",
        "条件按时关闭",
        (50, 70, 85, 95),
        "close conditional-go conditions by their due dates",
        "在到期日前关闭有条件通过的条件",
    ),
    Dimension(
        "exceptions_early",
        "Exceptions raised, not found late",
        "例外及早上报",
        (30, 50, 70, 90),
        "set tolerances and run the portfolio monitor so problems surface before the gate",
        "设置容差并运行组合监控，使问题在阶段门前暴露",
    ),
    Dimension(
        "lessons_reused",
        "Lessons reused",
        "经验教训复用",
        (10, 25, 40, 60),
        "gatekeepers mark lessons applied when a packet shows them",
        "评审包展示经验教训时，关口评审人标记已采纳",
    ),
    Dimension(
        "early_kills",
        "Early kills",
        "及早终止",
        (25, 50, 70, 85),
        "kill weak projects at the early gates, before the expensive stages",
        "在早期阶段门终止弱项目，避免进入高成本阶段",
    ),
)
BY_ID = {d.id: d for d in DIMENSIONS}

_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


@dataclass(frozen=True)
class Quarter:
    label: str
    start: date
    end: date

    def previous(self) -> Quarter:
        return quarter_of(self.start - timedelta(days=1))


def parse_quarter(text: str) -> Quarter:
    """The quarter named by ``text`` (``2026-Q4``), or ``InputError`` saying what is allowed."""
    match = _QUARTER.match(text.strip())
    if not match:
        raise InputError(f"--quarter: {text!r} is not a quarter; use a year and quarter such as 2026-Q4")
    year, number = int(match.group(1)), int(match.group(2))
    if not 1970 <= year <= 2999:
        raise InputError(f"--quarter: {text!r}: the year must be 1970 to 2999")
    return quarter_of(date(year, 3 * number, 1))


def quarter_of(day: date) -> Quarter:
    number = (day.month - 1) // 3 + 1
    start = date(day.year, 3 * number - 2, 1)
    end = date(day.year + number // 4, 3 * number % 12 + 1, 1) - timedelta(days=1)
    return Quarter(label=f"{day.year}-Q{number}", start=start, end=end)


# --------------------------------------------------------------------------------------------------- facts in
@dataclass(frozen=True)
class ReviewFact:
    id: str
    project_key: str
    gate_id: str
    opened_at: datetime
    documentation: bool | None
    """Every required deliverable present and approved and every doc.* criterion passed; None: none required."""


@dataclass(frozen=True)
class MilestoneFact:
    project_key: str
    id: str
    due: date


@dataclass(frozen=True)
class LifeFact:
    """A project's time in the portfolio: created, and closed or killed (None while it is in)."""

    key: str
    created_at: datetime
    ended_at: datetime | None


@dataclass(frozen=True)
class LessonUseFact:
    review_id: str
    kind: str


@dataclass(frozen=True)
class MaturityFacts:
    """What the read model adds to ``GateFacts`` for the maturity score: a few set-based queries."""

    reviews: tuple[ReviewFact, ...] = ()
    milestones: tuple[MilestoneFact, ...] = ()
    lives: tuple[LifeFact, ...] = ()
    status_reports: tuple[tuple[str, date], ...] = ()
    exceptions: tuple[tuple[str, datetime], ...] = ()
    lesson_uses: tuple[LessonUseFact, ...] = ()


def documentation_compliant(evaluation: Mapping[str, Any]) -> bool | None:
    """From a stored evaluation: were the documents in order? None when the gate asked for none."""
    deliverables = evaluation.get("required_deliverables") or []
    criteria = [c for c in evaluation.get("criteria") or [] if str(c.get("code", "")).startswith("doc.")]
    if not deliverables and not criteria:
        return None
    return all(d.get("present") and d.get("approved") for d in deliverables) and all(c.get("passed") for c in criteria)


# ------------------------------------------------------------------------------------------------ model out
@dataclass(frozen=True)
class DimensionScore:
    id: str
    name: str
    name_zh: str
    level: int | None
    hits: int
    count: int
    rate: float | None
    evidence: str
    evidence_zh: str
    next_step: str
    next_step_zh: str


@dataclass(frozen=True)
class QuarterScore:
    quarter: str
    as_of: date
    overall: int | None
    dimensions: tuple[DimensionScore, ...]


@dataclass(frozen=True)
class MaturityReport:
    current: QuarterScore
    trend: tuple[QuarterScore, ...]
    """Oldest first; the last is ``current``."""


def level(hits: int, count: int, thresholds: Sequence[int]) -> int | None:
    """The 1-5 level of ``hits`` out of ``count`` (exact: no rounding decides a boundary); None without events."""
    if count == 0:
        return None
    return 1 + sum(1 for t in thresholds if hits * 100 >= t * count)


def _score(dimension: Dimension, hits: int, count: int, what: str, what_zh: str) -> DimensionScore:
    found = level(hits, count, dimension.thresholds)
    rate = hits / count if count else None
    if found is None:
        evidence, evidence_zh = f"no evidence: no {what} this quarter", f"无证据：本季度没有{what_zh}"
        next_step, next_step_zh = dimension.action, dimension.action_zh
    else:
        evidence = f"{hits} of {count} {what} ({rate:.0%})"
        evidence_zh = f"{what_zh} {count} 个，其中 {hits} 个达标（{rate:.0%}）"
        if found == 5:
            next_step, next_step_zh = "at the top level: keep it there", "已达最高级：保持"
        else:
            target = dimension.thresholds[found - 1]
            more = math.ceil(target * count / 100) - hits
            next_step = f"level {found + 1} needs {target}%: {more} more of {count} — {dimension.action}"
            next_step_zh = f"达到 {found + 1} 级需 {target}%：{count} 个中再多 {more} 个——{dimension.action_zh}"
    return DimensionScore(
        dimension.id,
        dimension.name,
        dimension.name_zh,
        found,
        hits,
        count,
        rate,
        evidence,
        evidence_zh,
        next_step,
        next_step_zh,
    )


def _in(moment: datetime | date, quarter: Quarter, as_of: date) -> bool:
    day = moment.date() if isinstance(moment, datetime) else moment
    return quarter.start <= day <= min(quarter.end, as_of)


def _first_reviews(reviews: Sequence[ReviewFact]) -> dict[tuple[str, str], ReviewFact]:
    first: dict[tuple[str, str], ReviewFact] = {}
    for review in sorted(reviews, key=lambda r: (r.opened_at, r.id)):
        first.setdefault((review.project_key, review.gate_id), review)
    return first


def _gates(
    project_templates: Mapping[str, tuple[str, int]], templates: Sequence[LifecycleTemplate]
) -> dict[str, tuple[str, ...]]:
    """Each project's gate ids in order, from its pinned template version (else the newest of that id)."""
    by_version = {(t.id, t.version): t for t in templates}
    newest: dict[str, LifecycleTemplate] = {}
    for t in sorted(templates, key=lambda t: t.version):
        newest[t.id] = t
    gates: dict[str, tuple[str, ...]] = {}
    for key, (template_id, version) in project_templates.items():
        template = by_version.get((template_id, version)) or newest.get(template_id)
        gates[key] = tuple(g.id for g in template.gates) if template else ()
    return gates


def _reviews_on_time(
    facts: MaturityFacts, gates: Mapping[str, tuple[str, ...]], q: Quarter, as_of: date
) -> DimensionScore:
    first = _first_reviews(facts.reviews)
    due = [m for m in facts.milestones if m.id in gates.get(m.project_key, ()) and _in(m.due, q, as_of)]
    hits = sum(1 for m in due if (r := first.get((m.project_key, m.id))) is not None and r.opened_at.date() <= m.due)
    return _score(BY_ID["reviews_on_time"], hits, len(due), "gate dates", "阶段门日期")


def _documents(facts: MaturityFacts, q: Quarter, as_of: date) -> DimensionScore:
    firsts = [
        r for r in _first_reviews(facts.reviews).values() if r.documentation is not None and _in(r.opened_at, q, as_of)
    ]
    hits = sum(1 for r in firsts if r.documentation)
    return _score(BY_ID["documents_first_review"], hits, len(firsts), "first reviews", "首次评审")


def _fresh(facts: MaturityFacts, kills: Mapping[str, datetime], as_of: date) -> DimensionScore:
    latest: dict[str, date] = {}
    for key, day in facts.status_reports:
        if day <= as_of and day > latest.get(key, date.min):
            latest[key] = day
    alive = []
    for life in facts.lives:
        ended = min((e for e in (life.ended_at, kills.get(life.key)) if e is not None), default=None)
        if life.created_at.date() <= as_of and (ended is None or ended.date() > as_of):
            alive.append(life.key)
    hits = sum(1 for key in alive if key in latest and (as_of - latest[key]).days <= FRESH_DAYS)
    return _score(BY_ID["status_fresh"], hits, len(alive), "projects in the portfolio", "在册项目")


def _sla(rounds: Sequence[RoundFact], q: Quarter, as_of: date) -> DimensionScore:
    timed, within = decided_within_sla(r for r in rounds if r.resolved_at is not None and _in(r.resolved_at, q, as_of))
    return _score(BY_ID["decisions_in_sla"], within, timed, "decisions with a due time", "有时限的决策")


def _conditions(conditions: Sequence[ConditionFact], q: Quarter, as_of: date) -> DimensionScore:
    due, on_time = conditions_on_time((c for c in conditions if _in(c.due_on, q, as_of)), as_of)
    return _score(BY_ID["conditions_on_time"], on_time, due, "conditions due", "到期条件")


def _exceptions(facts: MaturityFacts, rounds: Sequence[RoundFact], q: Quarter, as_of: date) -> DimensionScore:
    raised = [(key, at) for key, at in facts.exceptions if _in(at, q, as_of)]
    decided: dict[str, list[RoundFact]] = defaultdict(list)
    for r in rounds:
        if r.decision is not None and r.resolved_at is not None:
            decided[r.project_key].append(r)
    exceptions: dict[str, list[datetime]] = defaultdict(list)
    for key, at in facts.exceptions:
        exceptions[key].append(at)
    late = 0
    for key, history in decided.items():
        previous = datetime.min.replace(tzinfo=UTC)
        for r in sorted(history, key=lambda r: r.resolved_at or previous):
            assert r.resolved_at is not None
            warned = any(previous <= at <= r.resolved_at for at in exceptions.get(key, ()))
            if r.decision in ADVERSE and _in(r.resolved_at, q, as_of) and not warned:
                late += 1
            previous = r.resolved_at
    return _score(
        BY_ID["exceptions_early"],
        len(raised),
        len(raised) + late,
        "problems (exceptions raised + adverse decisions with no exception before)",
        "问题（已上报例外 + 事前无例外的不利决策）",
    )


def _lessons(facts: MaturityFacts, q: Quarter, as_of: date) -> DimensionScore:
    in_quarter = {r.id for r in facts.reviews if _in(r.opened_at, q, as_of)}
    shown = {u.review_id for u in facts.lesson_uses if u.kind == "shown" and u.review_id in in_quarter}
    applied = {u.review_id for u in facts.lesson_uses if u.kind == "applied" and u.review_id in shown}
    return _score(
        BY_ID["lessons_reused"], len(applied), len(shown), "reviews that showed lessons", "展示经验教训的评审"
    )


def _kills(
    rounds: Sequence[RoundFact], gates: Mapping[str, tuple[str, ...]], q: Quarter, as_of: date
) -> DimensionScore:
    kills = [
        r for r in rounds if r.decision is Decision.KILL and r.resolved_at is not None and _in(r.resolved_at, q, as_of)
    ]
    early = 0
    for r in kills:
        order = gates.get(r.project_key, ())
        if r.gate_id in order and order.index(r.gate_id) + 1 <= math.ceil(len(order) / 2):
            early += 1
    return _score(BY_ID["early_kills"], early, len(kills), "kills", "终止决策")


def quarter_score(
    gate: GateFacts, facts: MaturityFacts, *, templates: Sequence[LifecycleTemplate], quarter: Quarter, today: date
) -> QuarterScore:
    """Every dimension for ``quarter``, measured as of its last day (or ``today`` if that comes first)."""
    as_of = min(quarter.end, today)
    gates = _gates({p.key: (p.template_id, p.template_version) for p in gate.projects}, templates)
    kills = {
        r.project_key: r.resolved_at for r in gate.rounds if r.decision is Decision.KILL and r.resolved_at is not None
    }
    dimensions = (
        _reviews_on_time(facts, gates, quarter, as_of),
        _documents(facts, quarter, as_of),
        _fresh(facts, kills, as_of),
        _sla(gate.rounds, quarter, as_of),
        _conditions(gate.conditions, quarter, as_of),
        _exceptions(facts, gate.rounds, quarter, as_of),
        _lessons(facts, quarter, as_of),
        _kills(gate.rounds, gates, quarter, as_of),
    )
    scored = [d.level for d in dimensions if d.level is not None]
    return QuarterScore(
        quarter=quarter.label, as_of=as_of, overall=min(scored) if scored else None, dimensions=dimensions
    )


def maturity(
    gate: GateFacts,
    facts: MaturityFacts,
    *,
    templates: Sequence[LifecycleTemplate],
    quarter: Quarter,
    today: date,
    quarters: int = TREND_QUARTERS,
) -> MaturityReport:
    """The score of ``quarter`` and the trend over it and the ``quarters - 1`` before it."""
    chosen = [quarter]
    while len(chosen) < quarters:
        chosen.insert(0, chosen[0].previous())
    trend = tuple(quarter_score(gate, facts, templates=templates, quarter=q, today=today) for q in chosen)
    return MaturityReport(current=trend[-1], trend=trend)
