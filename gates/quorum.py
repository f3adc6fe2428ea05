"""Approval-policy algebra: how the ballots of a round's seats combine into the gate's decision.

Pure and clock-free: the tally sees the snapshot of seats taken when the round opened and the ballots cast so
far, and nothing else. Time never enters, so nothing turns into GO (or anything else) by waiting; an overdue
round is reminded and escalated by the service, never decided by the clock. The rules, with examples, are in
docs/approvals.md; this docstring records why they have the shape they have.

**A decision is defined on complete rounds, and an open round resolves when it is certain.** For every policy
but ``sequential`` the decision is a function of the complete set of ballots (everybody has voted, abstained or
recused). An open round resolves the moment every way the remaining seats could still act gives the same
decision; the remaining requests are then closed. Two laws follow, and tests/test_quorum.py proves them:

* the decision never depends on the order in which ballots arrive, not even through early resolution, because an
  early decision is, by construction, the decision the full panel would have reached;
* a round resolves as soon as, and only when, its outcome is certain.

That rules out "decide at the moment the threshold is crossed, flavoured by the votes seen so far": with it a
2-of-3 round where A says GO, B CONDITIONAL_GO and C GO ends CONDITIONAL_GO or GO depending on who is faster.

**One order statistic.** Decisions are ranked from permissive to cautious, GO < CONDITIONAL_GO < HOLD < RECYCLE <
KILL, and an abstention ranks with HOLD (it never approves and names no stronger objection). A round that needs
``t`` approvals decides the ``t``-th most permissive ballot of its electorate (seats minus recusals). Read from
each end, that is exactly the rule a PMO expects:

* approved when ``t`` seats approve; GO when ``t`` seats said GO outright, else CONDITIONAL_GO;
* rejected when ``n - t + 1`` seats (enough to block) do not approve; the decision is the most cautious one that a
  blocking number of seats backs: KILL only when the KILL votes alone block, else RECYCLE when KILL and RECYCLE
  votes block, else HOLD. A lone KILL among several HOLDs is an opinion, not the panel's decision; a role whose
  word alone must decide is a veto role.

``all`` (t = n) is therefore the most cautious ballot and ``any`` (t = 1) the most permissive one. When recusals
leave fewer seats than ``t``, the missing seats count as HOLD (not enough eligible approvers: not now), and an
electorate emptied by recusals is HOLD. Both are certain as early as possible: ``t`` GO votes fix GO at once, and a
blocking number of KILL votes fixes KILL at once. The order statistic is monotone in every ballot, which is what
makes certainty cheap to compute (see ``_settle``).

**Veto and chair.** A KILL or RECYCLE from a seat holding a veto role is the decision (KILL over RECYCLE when veto
holders disagree), whatever the others voted; it resolves the round at once unless another veto holder has yet
to vote and could still say KILL. The chair's vote is a casting vote in a tie: for ``m_of_n`` and ``percentage``
only, when every seat has acted and approvals equal rejections at one below the threshold, an approving chair
carries the round (the chair's vote counted twice reaches the threshold exactly). Without a chair, or with a
chair who did not approve, a tie is a rejection, never a GO. Unanimity (``all``), ``any`` and ``single`` cannot be
tied, and ``per_group`` and ``sequential`` have their own rules; there the chair votes like any seat.

**Sequential** is the one policy where order is the point: steps follow the template's order of roles, only the
current step is asked, the first rejection or abstention ends the round, and everybody approving in turn gives
GO (CONDITIONAL_GO when any approval was conditional).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from phasegate.gates.vocabulary.enums import ApprovalPolicyKind, BallotKind, Decision
from phasegate.gates.vocabulary.errors import ConflictError, InputError
from phasegate.gates.vocabulary.template import ApprovalDef

Choice = Decision | BallotKind
"""What a seat did: a decision, or ``BallotKind.ABSTAIN`` / ``BallotKind.RECUSE``."""

Rule = Literal["open", "threshold", "unreachable", "veto", "chair", "empty", "sequence"]
Direction = Literal["approve", "reject"]

GO, CONDITIONAL_GO, HOLD, RECYCLE, KILL = (
    Decision.GO,
    Decision.CONDITIONAL_GO,
    Decision.HOLD,
    Decision.RECYCLE,
    Decision.KILL,
)
ABSTAIN, RECUSE = BallotKind.ABSTAIN, BallotKind.RECUSE

APPROVING: frozenset[Choice] = frozenset({GO, CONDITIONAL_GO})
REJECTING: frozenset[Choice] = frozenset({HOLD, RECYCLE, KILL})
CHOICES: tuple[Choice, ...] = (GO, CONDITIONAL_GO, HOLD, RECYCLE, KILL, ABSTAIN, RECUSE)
"""Everything a seat can do, for enumerating the ways an open round can continue."""

_RANK: dict[Choice, int] = {GO: 0, CONDITIONAL_GO: 1, HOLD: 2, ABSTAIN: 2, RECYCLE: 3, KILL: 4}
_BY_RANK: tuple[Decision, ...] = (GO, CONDITIONAL_GO, HOLD, RECYCLE, KILL)
_CASTING_POLICIES = frozenset({ApprovalPolicyKind.M_OF_N, ApprovalPolicyKind.PERCENTAGE})


class _Frozen(BaseModel):
    model_config = ConfigDict(defer_build=True, frozen=True, extra="forbid")


class Seat(_Frozen):
    """One place on the panel, held by one person, as snapshotted when the round opened.

    ``also_holds`` lists further approver roles of the same person that gave no seat of their own because of
    one-seat-per-person; they stay on record for the audit, and a veto or chair role held that way still counts.
    """

    person_id: str = Field(min_length=1)
    role: str = Field(min_length=1)
    group: str | None = Field(default=None, description="per_group: the group this seat counts for.")
    order: int = Field(default=0, ge=0, description="sequential: the step; seats of one step are asked together.")
    also_holds: tuple[str, ...] = ()

    def holds(self, role: str) -> bool:
        return role == self.role or role in self.also_holds


class Ballot(_Frozen):
    """What one seat holder did. Reasons, conditions and delegation live on the vote record; the tally needs
    only the act. A delegate's ballot carries the principal's ``person_id``: it fills the principal's seat."""

    person_id: str = Field(min_length=1)
    kind: BallotKind = BallotKind.VOTE
    decision: Decision | None = None

    @model_validator(mode="after")
    def _decision_iff_vote(self) -> Ballot:
        if self.kind is BallotKind.VOTE and self.decision is None:
            raise ValueError("a vote needs a decision: go, conditional_go, recycle, hold or kill")
        if self.kind is not BallotKind.VOTE and self.decision is not None:
            raise ValueError(f"{self.kind.value} takes no decision")
        return self

    @property
    def choice(self) -> Choice:
        return self.decision if self.decision is not None else self.kind


class GroupProgress(_Frozen):
    """per_group: one group's standing as of the ballots cast."""

    group: str
    approvals: int
    needed: int
    electorate: int


class Tally(_Frozen):
    """The round as of the ballots cast. ``outcome`` None means still open.

    Counts are of seats. ``pending`` are the seats still to be asked (all of them, for sequential: ``next_up`` are
    the ones asked now); once the outcome is set ``pending`` and ``next_up`` are empty and ``closed`` lists the
    requests to withdraw, each with an audit entry. ``direction`` is set as soon as approval or rejection is certain,
    which can be before the decision itself is (the remaining votes may still choose between HOLD, RECYCLE and
    KILL).
    """

    policy: ApprovalPolicyKind
    outcome: Decision | None
    rule: Rule
    direction: Direction | None
    approvals: int
    rejections: int
    abstentions: int
    recusals: int
    electorate: int
    needed: int
    groups: tuple[GroupProgress, ...] = ()
    pending: tuple[str, ...]
    closed: tuple[str, ...]
    next_up: tuple[str, ...]
    explanation: str
    explanation_zh: str


# ------------------------------------------------------------------------------------------------ seats
def resolve_seats(
    approval: ApprovalDef, roles: Mapping[str, Sequence[str]], *, one_seat_per_person: bool = True
) -> tuple[Seat, ...]:
    """Turn the template's approver roles into the people who hold them now: the snapshot the round counts.

    A role held by several people gives each of them a seat. With ``one_seat_per_person`` a person met again
    (under a later role) keeps the first seat and the later role is recorded in ``also_holds``: the later role's
    veto or chair power stays with the person, but they never get two votes. Without it, each role gives a
    seat and the person's one ballot fills all of them.

    Raises ConflictError when the snapshot could not be counted: a role with nobody in it, a chair that is not
    exactly one approver, a veto role that is not an approver role, per_group roles outside exactly one group, or
    too few seats left for m_of_n or a group's minimum.
    """
    _check_structure(approval)
    seats: list[Seat] = []
    for order, role in enumerate(approval.approvers):
        people = list(dict.fromkeys(roles.get(role, ())))
        if not people:
            raise ConflictError(
                f"approver role {role!r} has nobody in it; assign a person to {role!r} before the round opens",
                code="approval.role_unresolved",
            )
        group = _group_of(approval, role)
        for person in people:
            index = next((i for i, seat in enumerate(seats) if seat.person_id == person), None)
            if index is not None and one_seat_per_person:
                held = seats[index]
                if not held.holds(role):
                    seats[index] = held.model_copy(update={"also_holds": (*held.also_holds, role)})
                continue
            if index is not None and any(s.person_id == person and s.role == role for s in seats):
                continue
            seats.append(Seat(person_id=person, role=role, group=group, order=order))
    _check_seats(approval, seats)
    return tuple(seats)


def _group_of(approval: ApprovalDef, role: str) -> str | None:
    return next((group.id for group in approval.groups if role in group.roles), None)


def _check_structure(approval: ApprovalDef) -> None:
    approvers = set(approval.approvers)
    if approval.chair is not None and approval.chair not in approvers:
        raise ConflictError(
            f"chair role {approval.chair!r} is not an approver role; approvers: {', '.join(approval.approvers)}",
            code="approval.chair_not_approver",
        )
    stray = [role for role in approval.veto_roles if role not in approvers]
    if stray:
        raise ConflictError(
            f"veto role {stray[0]!r} is not an approver role; approvers: {', '.join(approval.approvers)}",
            code="approval.veto_not_approver",
        )
    if approval.policy is ApprovalPolicyKind.PER_GROUP:
        for role in approval.approvers:
            homes = [group.id for group in approval.groups if role in group.roles]
            if len(homes) != 1:
                raise ConflictError(
                    f"per_group: approver role {role!r} must be in exactly one group, found "
                    f"{', '.join(homes) or 'none'}",
                    code="approval.group_membership",
                )
        for group in approval.groups:
            missing = [role for role in group.roles if role not in approvers]
            if missing:
                raise ConflictError(
                    f"per_group: group {group.id!r} names role {missing[0]!r}, which is not an approver role",
                    code="approval.group_membership",
                )


def _check_seats(approval: ApprovalDef, seats: Sequence[Seat]) -> None:
    if approval.policy is ApprovalPolicyKind.SINGLE and len(seats) != 1:
        raise ConflictError(
            f"policy 'single' needs exactly one person in role {approval.approvers[0]!r}; found "
            f"{', '.join(s.person_id for s in seats)}",
            code="approval.single_ambiguous",
        )
    if approval.chair is not None:
        chairs = {s.person_id for s in seats if s.holds(approval.chair)}
        if len(chairs) != 1:
            raise ConflictError(
                f"chair role {approval.chair!r} must be held by exactly one person; found {', '.join(sorted(chairs))}",
                code="approval.chair_ambiguous",
            )
    if approval.policy is ApprovalPolicyKind.M_OF_N and approval.m is not None and len(seats) < approval.m:
        raise ConflictError(
            f"policy 'm_of_n' needs {approval.m} approvals but only {len(seats)} seats remain after "
            "one-seat-per-person",
            code="approval.too_few_seats",
        )
    for group in approval.groups:
        size = sum(1 for s in seats if s.group == group.id)
        if size < group.min_approvals:
            raise ConflictError(
                f"group {group.id!r} needs {group.min_approvals} approvals but has {size} seats after "
                "one-seat-per-person",
                code="approval.too_few_seats",
            )


# ------------------------------------------------------------------------------------------------ the panel
@dataclass(frozen=True)
class _Panel:
    """The seats of a round, indexed for counting."""

    approval: ApprovalDef
    seats: tuple[Seat, ...]
    persons: tuple[str, ...]
    vetoers: frozenset[str]
    chair: str | None
    special: frozenset[str]
    """People whose ballot is not interchangeable with others': veto holders, the chair, multi-seat holders."""
    group_ids: tuple[str | None, ...]

    @classmethod
    def of(cls, approval: ApprovalDef, seats: Sequence[Seat]) -> _Panel:
        if not seats:
            raise InputError("seats: a round needs at least one seat", code="round.no_seats")
        persons = tuple(dict.fromkeys(s.person_id for s in seats))
        vetoers = frozenset(s.person_id for s in seats if any(s.holds(role) for role in approval.veto_roles))
        chair_ids = [s.person_id for s in seats if approval.chair is not None and s.holds(approval.chair)]
        chair = chair_ids[0] if chair_ids else None
        multi = frozenset(p for p in persons if sum(1 for s in seats if s.person_id == p) > 1)
        if approval.policy is ApprovalPolicyKind.PER_GROUP:
            known = {g.id for g in approval.groups}
            strays = [s for s in seats if s.group not in known]
            if strays:
                raise InputError(
                    f"seats: seat of {strays[0].person_id} has group {strays[0].group!r}; per_group seats must "
                    f"name one of {', '.join(sorted(known))}",
                    code="round.seat_group",
                )
            group_ids: tuple[str | None, ...] = tuple(g.id for g in approval.groups)
        else:
            group_ids = (None,)
        special = vetoers | multi | (frozenset({chair}) if chair is not None else frozenset())
        return cls(approval, tuple(seats), persons, vetoers, chair, special, group_ids)

    def needed(self, group: str | None, electorate: int) -> int:
        """Approvals needed from an electorate of this size (0 only for an empty electorate)."""
        approval = self.approval
        kind = approval.policy
        if group is not None:
            return next(g.min_approvals for g in approval.groups if g.id == group)
        if kind is ApprovalPolicyKind.M_OF_N and approval.m is not None:
            return approval.m
        if kind in (ApprovalPolicyKind.ALL, ApprovalPolicyKind.SEQUENTIAL):
            return electorate
        if kind is ApprovalPolicyKind.PERCENTAGE and approval.percentage is not None:
            # Exact decimal arithmetic: 60% of 5 is 3, not 3.0000000000000004 rounded up to 4.
            share = Fraction(repr(approval.percentage)) * electorate / 100
            return -(-share.numerator // share.denominator)
        return min(1, electorate)

    def in_group(self, seat: Seat, group: str | None) -> bool:
        return group is None or seat.group == group


def _order_statistic(ranks: Iterable[int], needed: int) -> int:
    """The ``needed``-th most permissive rank, seats missing below ``needed`` counting as HOLD."""
    given = list(ranks)
    return sorted(given + [_RANK[HOLD]] * (needed - len(given)))[needed - 1]


def _verdict(panel: _Panel, choice: Mapping[str, Choice], *, casting: bool = True) -> tuple[Decision, Rule]:
    """The decision of a complete round (every person in ``choice``). ``casting=False`` leaves out the chair."""
    electorate = [(seat, choice[seat.person_id]) for seat in panel.seats if choice[seat.person_id] is not RECUSE]
    if not electorate:
        return HOLD, "empty"
    vetoes = {c for seat, c in electorate if seat.person_id in panel.vetoers and c in (RECYCLE, KILL)}
    if vetoes:
        return (KILL if KILL in vetoes else RECYCLE), "veto"
    rank = max(
        _order_statistic(
            [_RANK[c] for seat, c in electorate if panel.in_group(seat, group)],
            max(1, panel.needed(group, sum(1 for seat, _ in electorate if panel.in_group(seat, group)))),
        )
        for group in panel.group_ids
    )
    if rank >= _RANK[HOLD] and casting and _casting_vote(panel, electorate, choice):
        approving = [c for _, c in electorate if c in APPROVING]
        return (CONDITIONAL_GO if CONDITIONAL_GO in approving else GO), "chair"
    return _BY_RANK[rank], ("threshold" if rank < _RANK[HOLD] else "unreachable")


def _casting_vote(panel: _Panel, electorate: Sequence[tuple[Seat, Choice]], choice: Mapping[str, Choice]) -> bool:
    if panel.approval.policy not in _CASTING_POLICIES or panel.chair is None:
        return False
    if choice[panel.chair] not in APPROVING:
        return False
    approvals = sum(1 for _, c in electorate if c in APPROVING)
    rejections = sum(1 for _, c in electorate if c in REJECTING)
    needed = panel.needed(None, len(electorate))
    return approvals == rejections == needed - 1 >= 1


def _tie_reachable(panel: _Panel, fixed: Mapping[str, Choice], free: int) -> bool:
    """Whether ``free`` interchangeable seats (none of them chair or veto) can still produce a tie the chair
    carries, given everybody else's ``fixed`` choices."""
    if panel.approval.policy not in _CASTING_POLICIES or panel.chair is None:
        return False
    if fixed[panel.chair] not in APPROVING:
        return False
    electorate = [(s, fixed[s.person_id]) for s in panel.seats if s.person_id in fixed]
    electorate = [(s, c) for s, c in electorate if c is not RECUSE]
    if any(s.person_id in panel.vetoers and c in (RECYCLE, KILL) for s, c in electorate):
        return False
    tie = panel.needed(None, len(electorate) + free) - 1
    more_approvals = tie - sum(1 for _, c in electorate if c in APPROVING)
    more_rejections = tie - sum(1 for _, c in electorate if c in REJECTING)
    return tie >= 1 and more_approvals >= 0 and more_rejections >= 0 and more_approvals + more_rejections <= free


def _settle(panel: _Panel, cast: Mapping[str, Choice]) -> tuple[set[Decision], set[bool]]:
    """The decisions (and directions, True = approve) the open round can still reach, exactly as far as
    certainty goes: one decision back means it is certain.

    Enumerating every continuation costs 7 ** pending. Instead, people are split into the few whose ballot is
    special (veto holders, the chair, holders of several seats), whose every choice is enumerated, and the
    interchangeable rest, of whom only the number recusing per group matters. For a fixed split the decision
    without the chair is monotone in each remaining ballot's rank, so all-GO and all-KILL bound it; the chair
    adds a decision only through a tie, and a reachable tie always sits next to a non-tie rejection, so it
    makes the round uncertain. tests/test_quorum.py checks this against brute force over all continuations.
    """
    pending = [p for p in panel.persons if p not in cast]
    specials = [p for p in pending if p in panel.special]
    plain = [p for p in pending if p not in panel.special]
    by_group: list[list[str]] = [
        [p for p in plain if any(s.person_id == p and panel.in_group(s, g) for s in panel.seats)]
        for g in panel.group_ids
    ]
    decisions: set[Decision] = set()
    directions: set[bool] = set()
    for special_choices in itertools.product(CHOICES, repeat=len(specials)):
        settled = dict(cast) | dict(zip(specials, special_choices, strict=True))
        for recusing in itertools.product(*(range(len(people) + 1) for people in by_group)):
            fixed = dict(settled)
            free: list[str] = []
            for people, count in zip(by_group, recusing, strict=True):
                fixed |= dict.fromkeys(people[:count], RECUSE)
                free += people[count:]
            if not free:
                found = {_verdict(panel, fixed)[0]}
            else:
                found = {
                    _verdict(panel, fixed | dict.fromkeys(free, GO), casting=False)[0],
                    _verdict(panel, fixed | dict.fromkeys(free, KILL), casting=False)[0],
                }
                if _tie_reachable(panel, fixed, len(free)):
                    found |= {GO, HOLD}  # stands for "an approval and a rejection are both reachable"
            decisions |= found
            directions |= {d in APPROVING for d in found}
            if len(directions) > 1:
                return decisions, directions
    return decisions, directions


def _sequence(panel: _Panel, cast: Mapping[str, Choice]) -> tuple[Decision | None, tuple[str, ...]]:
    """Walk the steps in order: the first step with a rejection or abstention ends the round; a step whose
    seats have not all acted is the one asked now. Returns the outcome (or None) and who is asked now."""
    for order in sorted({s.order for s in panel.seats}):
        step = [s for s in panel.seats if s.order == order]
        acted = [cast[s.person_id] for s in step if s.person_id in cast]
        objections = [c for c in acted if c in REJECTING or c is ABSTAIN]
        if objections:
            return _BY_RANK[max(_RANK[c] for c in objections)], ()
        waiting = tuple(dict.fromkeys(s.person_id for s in step if s.person_id not in cast))
        if waiting:
            return None, waiting
    approving = [c for c in cast.values() if c in APPROVING]
    if not approving:
        return HOLD, ()
    return (CONDITIONAL_GO if CONDITIONAL_GO in approving else GO), ()


# ------------------------------------------------------------------------------------------------ tally
def tally(approval: ApprovalDef, seats: Sequence[Seat], ballots: Iterable[Ballot]) -> Tally:
    """Combine the ballots cast so far under the gate's policy. Raises InputError for a ballot from someone
    without a seat or a second ballot from one person (the service refuses both before they get here)."""
    panel = _Panel.of(approval, seats)
    cast: dict[str, Choice] = {}
    for ballot in ballots:
        if ballot.person_id not in panel.persons:
            raise InputError(
                f"ballots: {ballot.person_id} holds no seat in this round; seats: {', '.join(panel.persons)}",
                code="ballot.not_a_seat",
            )
        if ballot.person_id in cast:
            raise InputError(
                f"ballots: {ballot.person_id} has more than one ballot; one person acts once per round",
                code="ballot.duplicate",
            )
        cast[ballot.person_id] = ballot.choice
    pending = tuple(p for p in panel.persons if p not in cast)
    outcome: Decision | None
    direction: Direction | None
    rule: Rule
    if approval.policy is ApprovalPolicyKind.SEQUENTIAL:
        outcome, next_up = _sequence(panel, cast)
        direction = None if outcome is None else ("approve" if outcome in APPROVING else "reject")
        empty = outcome is HOLD and not any(c is not RECUSE for c in cast.values())
        rule = "open" if outcome is None else ("empty" if empty else "sequence")
    else:
        next_up = pending
        if not pending:
            outcome, rule = _verdict(panel, cast)
            direction = "approve" if outcome in APPROVING else "reject"
        else:
            decisions, directions = _settle(panel, cast)
            outcome = next(iter(decisions)) if len(decisions) == 1 else None
            direction = None if len(directions) != 1 else ("approve" if directions == {True} else "reject")
            rule = "open" if outcome is None else _early_rule(panel, cast, outcome)
    return _report(panel, cast, outcome, rule, direction, pending, next_up)


def _early_rule(panel: _Panel, cast: Mapping[str, Choice], outcome: Decision) -> Rule:
    if any(p in panel.vetoers and c in (RECYCLE, KILL) for p, c in cast.items()):
        return "veto"
    return "threshold" if outcome in APPROVING else "unreachable"


def _report(
    panel: _Panel,
    cast: Mapping[str, Choice],
    outcome: Decision | None,
    rule: Rule,
    direction: Direction | None,
    pending: tuple[str, ...],
    next_up: tuple[str, ...],
) -> Tally:
    acted = [(seat, cast[seat.person_id]) for seat in panel.seats if seat.person_id in cast]
    recusals = sum(1 for _, c in acted if c is RECUSE)
    electorate = len(panel.seats) - recusals
    groups = tuple(
        GroupProgress(
            group=group,
            approvals=sum(1 for s, c in acted if s.group == group and c in APPROVING),
            needed=panel.needed(group, 0),
            electorate=sum(1 for s in panel.seats if s.group == group)
            - sum(1 for s, c in acted if s.group == group and c is RECUSE),
        )
        for group in panel.group_ids
        if group is not None
    )
    needed = sum(g.needed for g in groups) if groups else panel.needed(None, electorate)
    approvals = sum(1 for _, c in acted if c in APPROVING)
    resolved = outcome is not None
    en, zh = _explain(panel, outcome, rule, direction, needed, electorate, approvals, pending, resolved)
    return Tally(
        policy=panel.approval.policy,
        outcome=outcome,
        rule=rule,
        direction=direction,
        recusals=recusals,
        electorate=electorate,
        needed=needed,
        groups=groups,
        pending=() if resolved else pending,
        closed=pending if resolved else (),
        next_up=() if resolved else next_up,
        explanation=en,
        explanation_zh=zh,
        approvals=approvals,
        rejections=sum(1 for _, c in acted if c in REJECTING),
        abstentions=sum(1 for _, c in acted if c is ABSTAIN),
    )


# ------------------------------------------------------------------------------------------------ words
_ZH: dict[Decision, str] = {
    GO: "通过",
    CONDITIONAL_GO: "有条件通过",
    RECYCLE: "返工",
    HOLD: "暂停",
    KILL: "终止",
}


def _policy_words(approval: ApprovalDef, seats: int) -> tuple[str, str]:
    kind = approval.policy
    if kind is ApprovalPolicyKind.SINGLE:
        return "single approver", "单人审批"
    if kind is ApprovalPolicyKind.ALL:
        return "all must approve (会签)", "会签（全部同意）"
    if kind is ApprovalPolicyKind.ANY:
        return "any one approval suffices (或签)", "或签（任一人同意即可）"
    if kind is ApprovalPolicyKind.M_OF_N:
        return f"{approval.m} of {seats} must approve", f"{seats} 席中需 {approval.m} 席同意"
    if kind is ApprovalPolicyKind.PERCENTAGE:
        return (
            f"{approval.percentage:g}% of the electorate must approve, rounded up",
            f"需选民的 {approval.percentage:g}%（向上取整）同意",
        )
    if kind is ApprovalPolicyKind.PER_GROUP:
        return "each group must reach its minimum", "每组均须达到最低同意人数"
    return "one after another in order (依次审批)", "依次审批"


def _explain(
    panel: _Panel,
    outcome: Decision | None,
    rule: Rule,
    direction: Direction | None,
    needed: int,
    electorate: int,
    approvals: int,
    pending: tuple[str, ...],
    resolved: bool,
) -> tuple[str, str]:
    policy_en, policy_zh = _policy_words(panel.approval, len(panel.seats))
    stand_en = f"{approvals} of {needed} approvals needed, electorate {electorate}"
    stand_zh = f"已有 {approvals} 票同意，需 {needed} 票，有效席位 {electorate}"
    who = ", ".join(pending)
    if outcome is None:
        en = f"Open ({policy_en}): {stand_en}; waiting for {who}."
        zh = f"审批中（{policy_zh}）：{stand_zh}；等待 {who}。"
        if direction == "reject":
            en += " The round can no longer pass; the remaining votes decide between HOLD, RECYCLE and KILL."
            zh += " 本轮已无法通过；其余投票将决定暂停、返工或终止。"
        elif direction == "approve":
            en += " The round will pass; the remaining votes decide whether it is GO or CONDITIONAL_GO."
            zh += " 本轮必将通过；其余投票将决定是通过还是有条件通过。"
        return en, zh
    why_en, why_zh = {
        "threshold": ("the approvals reached the threshold", "同意票已达到门槛"),
        "unreachable": ("the threshold can no longer be reached", "已无法达到同意门槛"),
        "veto": ("a veto holder decided", "拥有否决权的审批人作出了决定"),
        "chair": ("a tie was broken by the chair's casting vote", "平票由主席的决定票打破"),
        "empty": ("nobody was left to decide after recusals", "回避后已无人可以决定"),
        "sequence": ("the sequence of approvers ended", "依次审批已结束"),
        "open": ("", ""),
    }[rule]
    en = f"{outcome.name} ({policy_en}): {why_en}; {stand_en}."
    zh = f"{_ZH[outcome]}（{policy_zh}）：{why_zh}；{stand_zh}。"
    if resolved and pending:
        en += f" Requests to {who} are closed."
        zh += f" 已关闭对 {who} 的审批请求。"
    return en, zh
