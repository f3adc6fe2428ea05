"""Gate analytics: how gates decide, how fast, and how well their conditions are kept.

Why pure: management reads these figures in reports and the PMO tunes templates by them, so the definitions
must be exact and testable on a hand-computed case without a database. The read model
(``UnitOfWork.gate_facts``) hands over plain facts in a few set-based queries; everything is computed here.

Definitions (docs/reports.md repeats them for readers):

- **pass** is GO or CONDITIONAL_GO; rates are shares of the gate's decided rounds (cancelled rounds and rounds
  still open are not decisions).
- **first-time pass**: of the projects decided at a gate, the share whose first decision there was a pass.
- **decision latency**: from the round's opening to its decision, in hours; median and p90 by linear
  interpolation between closest ranks; **within SLA** is the share decided by the round's due time (the
  gate's ``sla_business_days`` on its business calendar, fixed when the round opened).
- **cycle time per stage**: from entering the stage (project creation for the first stage, else the pass at
  the previous stage's gate) to the first pass at the gate that closes it, in days.
- **conditions closed on time**: met or waived no later than their due date, as a share of the conditions
  that are closed or already past due (open conditions not yet due are not counted).
- **reviews opened automatically** are reviews no person requested (the system: a schedule or the monitor).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from phasegate.gates.vocabulary.enums import Decision
from phasegate.gates.vocabulary.template import LifecycleTemplate

PASSES = frozenset({Decision.GO, Decision.CONDITIONAL_GO})


@dataclass(frozen=True)
class RoundFact:
    """One approval round: when it opened, was due, was decided and how (``decision`` None: open or cancelled)."""

    project_key: str
    template_id: str
    gate_id: str
    opened_at: datetime
    due_at: datetime | None
    resolved_at: datetime | None
    decision: Decision | None


@dataclass(frozen=True)
class ReviewCount:
    """How many reviews of a gate were opened by the system (``automatic``) or by a person."""

    template_id: str
    gate_id: str
    automatic: bool
    count: int


@dataclass(frozen=True)
class ConditionFact:
    template_id: str
    gate_id: str
    due_on: date
    status: str
    resolved_at: datetime | None


@dataclass(frozen=True)
class ProjectFact:
    key: str
    template_id: str
    template_version: int
    created_at: datetime


@dataclass(frozen=True)
class GateFacts:
    """Everything gate analytics needs, as the read model returns it."""

    rounds: tuple[RoundFact, ...] = ()
    reviews: tuple[ReviewCount, ...] = ()
    conditions: tuple[ConditionFact, ...] = ()
    projects: tuple[ProjectFact, ...] = ()


@dataclass(frozen=True)
class Spread:
    """Median and 90th percentile of a sample, ``None`` when the sample is empty."""

    count: int
    median: float | None
    p90: float | None


@dataclass(frozen=True)
class GateStats:
    template_id: str
    gate_id: str
    gate_name: str
    gate_name_zh: str
    sla_business_days: int | None
    decided: int
    open_rounds: int
    outcomes: Mapping[str, int]
    pass_rate: float | None
    recycle_rate: float | None
    kill_rate: float | None
    hold_rate: float | None
    first_time_pass_rate: float | None
    projects_decided: int
    latency_hours: Spread
    within_sla_rate: float | None
    conditions: int
    conditions_due: int
    conditions_on_time: int
    conditions_on_time_rate: float | None
    reviews_automatic: int
    reviews_manual: int


@dataclass(frozen=True)
class StageStats:
    template_id: str
    stage_id: str
    stage_name: str
    stage_name_zh: str
    cycle_days: Spread


@dataclass(frozen=True)
class GateAnalytics:
    as_of: date
    gates: tuple[GateStats, ...] = ()
    stages: tuple[StageStats, ...] = field(default_factory=tuple)


def quantile(values: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile by linear interpolation between closest ranks (numpy's default); None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (position - low) * (ordered[high] - ordered[low])


def spread(values: Sequence[float]) -> Spread:
    return Spread(count=len(values), median=quantile(values, 0.5), p90=quantile(values, 0.9))


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _newest(templates: Iterable[LifecycleTemplate]) -> dict[str, LifecycleTemplate]:
    newest: dict[str, LifecycleTemplate] = {}
    for template in templates:
        if template.id not in newest or template.version > newest[template.id].version:
            newest[template.id] = template
    return newest


def _gate_stats(
    template_id: str,
    gate_id: str,
    template: LifecycleTemplate | None,
    rounds: Sequence[RoundFact],
    reviews: Mapping[bool, int],
    conditions: Sequence[ConditionFact],
    today: date,
) -> GateStats:
    decided = sorted((r for r in rounds if r.decision is not None), key=lambda r: r.resolved_at or r.opened_at)
    outcomes = {d.value: sum(1 for r in decided if r.decision is d) for d in Decision}
    passes = outcomes[Decision.GO.value] + outcomes[Decision.CONDITIONAL_GO.value]
    first: dict[str, Decision] = {}
    for r in decided:
        assert r.decision is not None
        first.setdefault(r.project_key, r.decision)
    latencies = [(r.resolved_at - r.opened_at).total_seconds() / 3600 for r in decided if r.resolved_at is not None]
    timed = [r for r in decided if r.resolved_at is not None and r.due_at is not None]
    within = sum(1 for r in timed if r.resolved_at is not None and r.due_at is not None and r.resolved_at <= r.due_at)
    due = [c for c in conditions if c.status != "open" or c.due_on < today]
    on_time = [
        c
        for c in due
        if c.status in ("met", "waived") and c.resolved_at is not None and c.resolved_at.date() <= c.due_on
    ]
    gate = template.gate(gate_id) if template is not None else None
    return GateStats(
        template_id=template_id,
        gate_id=gate_id,
        gate_name=gate.name if gate else gate_id,
        gate_name_zh=(gate.name_zh or gate.name) if gate else gate_id,
        sla_business_days=gate.sla_business_days if gate else None,
        decided=len(decided),
        open_rounds=sum(1 for r in rounds if r.decision is None and r.resolved_at is None),
        outcomes=outcomes,
        pass_rate=_share(passes, len(decided)),
        recycle_rate=_share(outcomes[Decision.RECYCLE.value], len(decided)),
        kill_rate=_share(outcomes[Decision.KILL.value], len(decided)),
        hold_rate=_share(outcomes[Decision.HOLD.value], len(decided)),
        first_time_pass_rate=_share(sum(1 for d in first.values() if d in PASSES), len(first)),
        projects_decided=len(first),
        latency_hours=spread(latencies),
        within_sla_rate=_share(within, len(timed)),
        conditions=len(conditions),
        conditions_due=len(due),
        conditions_on_time=len(on_time),
        conditions_on_time_rate=_share(len(on_time), len(due)),
        reviews_automatic=reviews.get(True, 0),
        reviews_manual=reviews.get(False, 0),
    )


def _stage_stats(
    facts: GateFacts, templates: Mapping[tuple[str, int], LifecycleTemplate], newest: Mapping[str, LifecycleTemplate]
) -> list[StageStats]:
    passes: dict[str, dict[str, datetime]] = defaultdict(dict)
    for r in sorted(facts.rounds, key=lambda r: r.resolved_at or r.opened_at):
        if r.decision in PASSES and r.resolved_at is not None:
            passes[r.project_key].setdefault(r.gate_id, r.resolved_at)
    samples: dict[tuple[str, str], list[float]] = defaultdict(list)
    for project in facts.projects:
        template = templates.get((project.template_id, project.template_version))
        if template is None:
            continue
        passed = passes.get(project.key, {})
        entered: datetime | None = project.created_at
        for stage in template.stages:
            gate = template.gate_after(stage.id)
            left = passed.get(gate.id) if gate is not None else None
            if entered is not None and left is not None:
                samples[(template.id, stage.id)].append((left - entered).total_seconds() / 86400)
            entered = left
    rows = []
    for template_id, template in sorted(newest.items()):
        for stage in template.stages:
            if template.gate_after(stage.id) is None:
                continue
            rows.append(
                StageStats(
                    template_id=template_id,
                    stage_id=stage.id,
                    stage_name=stage.name,
                    stage_name_zh=stage.name_zh or stage.name,
                    cycle_days=spread(samples.get((template_id, stage.id), [])),
                )
            )
    return rows


def gate_analytics(
    facts: GateFacts, *, templates: Sequence[LifecycleTemplate], today: date, template_id: str | None = None
) -> GateAnalytics:
    """Per gate of every template in use (or just ``template_id``): outcomes, latency, conditions, reviews."""
    newest = _newest(templates)
    by_version = {(t.id, t.version): t for t in templates}
    keys: set[tuple[str, str]] = {(t.id, g.id) for t in newest.values() for g in t.gates}
    rounds: dict[tuple[str, str], list[RoundFact]] = defaultdict(list)
    for r in facts.rounds:
        rounds[(r.template_id, r.gate_id)].append(r)
    reviews: dict[tuple[str, str], dict[bool, int]] = defaultdict(dict)
    for count in facts.reviews:
        slot = reviews[(count.template_id, count.gate_id)]
        slot[count.automatic] = slot.get(count.automatic, 0) + count.count
    conditions: dict[tuple[str, str], list[ConditionFact]] = defaultdict(list)
    for c in facts.conditions:
        conditions[(c.template_id, c.gate_id)].append(c)
    keys |= set(rounds) | set(reviews) | set(conditions)
    used = {p.template_id for p in facts.projects} | {k[0] for k in rounds}
    order = {(t.id, g.id): i for t in newest.values() for i, g in enumerate(t.gates)}
    chosen = sorted(
        (k for k in keys if k[0] in used and (template_id is None or k[0] == template_id)),
        key=lambda k: (k[0], order.get(k, len(order)), k[1]),
    )
    gates = tuple(
        _gate_stats(k[0], k[1], newest.get(k[0]), rounds.get(k, []), reviews.get(k, {}), conditions.get(k, []), today)
        for k in chosen
    )
    stages = tuple(
        s
        for s in _stage_stats(facts, by_version, {i: t for i, t in newest.items() if i in used})
        if template_id is None or s.template_id == template_id
    )
    return GateAnalytics(as_of=today, gates=gates, stages=stages)
