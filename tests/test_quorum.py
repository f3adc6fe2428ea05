"""The approval-policy algebra: table-driven rules per policy, and its laws proven with hypothesis.

The laws: every complete round decides; the decision never depends on the order ballots arrive in (not even
through early resolution); an open round resolves exactly when no continuation could change its outcome
(checked against brute force over every continuation); approving more never turns an approval into a rejection;
nothing is approved without the threshold; a veto decides at once. The complete-round rule is also checked
against a second, counting formulation written independently of the order statistic the module uses.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from phasegate.gates.quorum import CHOICES, Ballot, Choice, Seat, Tally, resolve_seats, tally
from phasegate.gates.vocabulary.enums import ApprovalPolicyKind, BallotKind, Decision
from phasegate.gates.vocabulary.errors import ConflictError, InputError
from phasegate.gates.vocabulary.template import ApprovalDef, ApproverGroupDef

pytestmark = pytest.mark.unit  # pure: no database, no Prefect, no browser (make test-fast)

P = ApprovalPolicyKind
GO, CG, HOLD, RECYCLE, KILL = Decision.GO, Decision.CONDITIONAL_GO, Decision.HOLD, Decision.RECYCLE, Decision.KILL
ABSTAIN, RECUSE = BallotKind.ABSTAIN, BallotKind.RECUSE
APPROVING = {GO, CG}
PARALLEL = (P.SINGLE, P.ALL, P.ANY, P.M_OF_N, P.PERCENTAGE, P.PER_GROUP)


def ballot(person: str, choice: Choice) -> Ballot:
    if isinstance(choice, Decision):
        return Ballot(person_id=person, decision=choice)
    return Ballot(person_id=person, kind=choice)


def ballots(choices: Mapping[str, Choice]) -> list[Ballot]:
    return [ballot(person, choice) for person, choice in choices.items()]


def panel(policy: ApprovalPolicyKind, n: int, **kwargs: Any) -> tuple[ApprovalDef, tuple[Seat, ...]]:
    """n seats p0..p{n-1} holding roles r0..r{n-1}, in that order."""
    roles = tuple(f"r{i}" for i in range(n))
    approval = ApprovalDef(policy=policy, approvers=roles, **kwargs)
    seats = tuple(
        Seat(person_id=f"p{i}", role=role, order=i, group=_group(approval, role)) for i, role in enumerate(roles)
    )
    return approval, seats


def _group(approval: ApprovalDef, role: str) -> str | None:
    return next((g.id for g in approval.groups if role in g.roles), None)


def run(approval: ApprovalDef, seats: Sequence[Seat], *choices: Choice) -> Tally:
    """Ballots for p0, p1, ... in order; None-like gaps are not needed: pass fewer choices for an open round."""
    return tally(approval, seats, [ballot(f"p{i}", c) for i, c in enumerate(choices)])


# ------------------------------------------------------------------------------------------------ tables
@pytest.mark.parametrize(
    ("policy", "n", "kwargs", "choices", "outcome", "rule"),
    [
        # single
        (P.SINGLE, 1, {}, [GO], GO, "threshold"),
        (P.SINGLE, 1, {}, [CG], CG, "threshold"),
        (P.SINGLE, 1, {}, [KILL], KILL, "unreachable"),
        (P.SINGLE, 1, {}, [ABSTAIN], HOLD, "unreachable"),
        (P.SINGLE, 1, {}, [RECUSE], HOLD, "empty"),
        # all (会签): the most cautious ballot
        (P.ALL, 3, {}, [GO, GO, GO], GO, "threshold"),
        (P.ALL, 3, {}, [GO, CG, GO], CG, "threshold"),
        (P.ALL, 3, {}, [GO, RECUSE, GO], GO, "threshold"),
        (P.ALL, 3, {}, [GO, ABSTAIN, GO], HOLD, "unreachable"),
        (P.ALL, 3, {}, [GO, RECYCLE, HOLD], RECYCLE, "unreachable"),
        (P.ALL, 3, {}, [KILL], KILL, "unreachable"),  # certain at once: nothing is more cautious
        (P.ALL, 3, {}, [RECYCLE], None, "open"),  # rejected for sure, but RECYCLE or KILL is still open
        (P.ALL, 3, {}, [RECUSE, RECUSE, RECUSE], HOLD, "empty"),
        # any (或签): the most permissive ballot
        (P.ANY, 3, {}, [GO], GO, "threshold"),
        (P.ANY, 3, {}, [KILL, KILL, CG], CG, "threshold"),
        (P.ANY, 3, {}, [CG], None, "open"),  # a later GO would make it GO
        (P.ANY, 3, {}, [KILL, RECYCLE, HOLD], HOLD, "unreachable"),
        (P.ANY, 3, {}, [KILL, ABSTAIN, RECUSE], HOLD, "unreachable"),
        # m_of_n
        (P.M_OF_N, 3, {"m": 2}, [GO, GO], GO, "threshold"),
        (P.M_OF_N, 3, {"m": 2}, [CG, CG], CG, "threshold"),  # a GO from p2 would leave 1 GO: still conditional
        (P.M_OF_N, 3, {"m": 2}, [GO, CG], None, "open"),
        (P.M_OF_N, 3, {"m": 2}, [GO, CG, KILL], CG, "threshold"),
        (P.M_OF_N, 3, {"m": 2}, [KILL, KILL], KILL, "unreachable"),
        (P.M_OF_N, 3, {"m": 2}, [HOLD, KILL], None, "open"),  # p2's vote decides between HOLD and KILL
        (P.M_OF_N, 3, {"m": 2}, [HOLD, KILL, GO], HOLD, "unreachable"),
        (P.M_OF_N, 3, {"m": 2}, [RECYCLE, KILL, ABSTAIN], RECYCLE, "unreachable"),
        (P.M_OF_N, 3, {"m": 3}, [GO, GO, RECUSE], HOLD, "unreachable"),  # too few left to reach m
        (P.M_OF_N, 5, {"m": 3}, [GO, GO, HOLD, HOLD, KILL], HOLD, "unreachable"),  # a lone KILL is not the panel's
        # percentage: over the electorate (seats minus recusals), rounded up
        (P.PERCENTAGE, 5, {"percentage": 60}, [GO, GO, GO], GO, "threshold"),
        (P.PERCENTAGE, 5, {"percentage": 60}, [GO, GO, KILL, KILL, RECUSE], KILL, "unreachable"),  # 60% of 4 = 3
        (P.PERCENTAGE, 5, {"percentage": 60}, [GO, GO, KILL, HOLD, RECUSE], HOLD, "unreachable"),
        (P.PERCENTAGE, 4, {"percentage": 50}, [GO, GO, KILL, KILL], GO, "threshold"),  # 50% of 4 = 2
        (P.PERCENTAGE, 3, {"percentage": 66.67}, [GO, GO, KILL], KILL, "unreachable"),  # 66.67% of 3 -> 3
        (P.PERCENTAGE, 3, {"percentage": 66.66}, [GO, GO], GO, "threshold"),  # 66.66% of 3 -> 2
        # chair: a casting vote in a tie one below the threshold (m_of_n, percentage)
        (P.M_OF_N, 4, {"m": 3, "chair": "r0"}, [GO, GO, KILL, HOLD], GO, "chair"),
        (P.M_OF_N, 4, {"m": 3, "chair": "r0"}, [CG, GO, KILL, HOLD], CG, "chair"),
        (P.M_OF_N, 4, {"m": 3, "chair": "r0"}, [KILL, GO, GO, HOLD], HOLD, "unreachable"),  # chair rejects the tie
        (P.M_OF_N, 4, {"m": 3}, [GO, GO, KILL, HOLD], HOLD, "unreachable"),  # no chair: never GO by a tie
        (P.M_OF_N, 4, {"m": 3, "chair": "r0"}, [GO, GO, ABSTAIN, HOLD], HOLD, "unreachable"),  # 2 vs 1: no tie
        (P.PERCENTAGE, 4, {"percentage": 51, "chair": "r3"}, [KILL, RECYCLE, GO, GO], GO, "chair"),
        (P.ALL, 2, {"chair": "r0"}, [GO, KILL], KILL, "unreachable"),  # 会签 cannot be tied away
        # veto
        (P.M_OF_N, 3, {"m": 1, "veto_roles": ("r2",)}, [GO, GO, KILL], KILL, "veto"),
        (P.M_OF_N, 3, {"m": 1, "veto_roles": ("r0",)}, [KILL], KILL, "veto"),
        (P.M_OF_N, 3, {"m": 2, "veto_roles": ("r0",)}, [RECYCLE], RECYCLE, "veto"),
        (P.ALL, 3, {"veto_roles": ("r0",)}, [RECYCLE, KILL, KILL], RECYCLE, "veto"),  # the veto holder's word
        (P.ALL, 3, {"veto_roles": ("r0", "r1")}, [RECYCLE], None, "open"),  # r1 could still veto KILL
        (P.ALL, 3, {"veto_roles": ("r0", "r1")}, [RECYCLE, KILL], KILL, "veto"),
        (P.ANY, 2, {"veto_roles": ("r0",)}, [HOLD, GO], GO, "threshold"),  # HOLD is no veto
    ],
)
def test_policy_table(
    policy: ApprovalPolicyKind,
    n: int,
    kwargs: dict[str, Any],
    choices: list[Choice],
    outcome: Decision | None,
    rule: str,
) -> None:
    approval, seats = panel(policy, n, **kwargs)
    result = run(approval, seats, *choices)
    assert (result.outcome, result.rule) == (outcome, rule), result.explanation
    if outcome is None:
        assert result.pending and not result.closed
    else:
        assert result.closed == tuple(f"p{i}" for i in range(len(choices), n))
        assert result.pending == () and result.next_up == ()


def test_chair_rejecting_tie_is_the_ordinary_rejection() -> None:
    approval, seats = panel(P.M_OF_N, 4, m=3, chair="r0")
    # p0 (chair) KILL, p1 HOLD vs p2, p3 GO: a 2-2 tie the chair does not carry.
    assert run(approval, seats, KILL, HOLD, GO, GO).outcome is HOLD


@pytest.mark.parametrize(
    ("choices", "outcome"),
    [
        # finance: 1 of r0, r1; tech: 2 of r2, r3, r4
        ([GO, None, GO, GO, None], GO),
        ([CG, KILL, GO, GO, None], CG),
        ([CG, None, GO, GO, None], None),  # p1 saying GO would make it GO
        ([GO, None, GO, KILL, KILL], KILL),  # tech is blocked by KILLs alone
        ([GO, None, GO, KILL, HOLD], HOLD),
        ([KILL, KILL, GO, GO, None], KILL),
        ([HOLD, RECYCLE, GO, GO, None], HOLD),
        ([RECUSE, RECUSE, GO, GO, None], HOLD),  # an emptied group cannot approve
        ([GO, None, GO, None, None], None),
    ],
)
def test_per_group(choices: list[Choice | None], outcome: Decision | None) -> None:
    approval, seats = panel(
        P.PER_GROUP,
        5,
        groups=(
            ApproverGroupDef(id="finance", roles=("r0", "r1"), min_approvals=1),
            ApproverGroupDef(id="tech", roles=("r2", "r3", "r4"), min_approvals=2),
        ),
    )
    cast = {f"p{i}": c for i, c in enumerate(choices) if c is not None}
    result = tally(approval, seats, ballots(cast))
    assert result.outcome is outcome, result.explanation
    assert {g.group: g.needed for g in result.groups} == {"finance": 1, "tech": 2}
    assert result.needed == 3


@pytest.mark.parametrize(
    ("choices", "outcome", "next_up"),
    [
        ([], None, ("p0",)),
        ([GO], None, ("p1",)),
        ([GO, CG], None, ("p2",)),
        ([GO, CG, GO], CG, ()),
        ([GO, GO, GO], GO, ()),
        ([GO, RECYCLE], RECYCLE, ()),
        ([KILL], KILL, ()),
        ([GO, ABSTAIN], HOLD, ()),
        ([RECUSE], None, ("p1",)),
        ([RECUSE, RECUSE, RECUSE], HOLD, ()),
    ],
)
def test_sequential(choices: list[Choice], outcome: Decision | None, next_up: tuple[str, ...]) -> None:
    approval, seats = panel(P.SEQUENTIAL, 3)
    result = run(approval, seats, *choices)
    assert (result.outcome, result.next_up) == (outcome, next_up), result.explanation
    if outcome is not None:
        assert result.closed == tuple(f"p{i}" for i in range(len(choices), 3))


def test_sequential_step_with_two_people_asks_both() -> None:
    approval = ApprovalDef(policy=P.SEQUENTIAL, approvers=("sponsor", "finance"))
    seats = resolve_seats(approval, {"sponsor": ["ann"], "finance": ["bob", "cho"]})
    assert tally(approval, seats, []).next_up == ("ann",)
    after = tally(approval, seats, [ballot("ann", GO)])
    assert after.next_up == ("bob", "cho") and after.pending == ("bob", "cho")
    assert tally(approval, seats, ballots({"ann": GO, "bob": GO})).next_up == ("cho",)
    assert tally(approval, seats, ballots({"ann": GO, "bob": HOLD})).outcome is HOLD


def test_explanations_in_both_languages() -> None:
    approval, seats = panel(P.ALL, 2)
    open_round = run(approval, seats, GO)
    assert "会签" in open_round.explanation and "p1" in open_round.explanation
    assert "会签" in open_round.explanation_zh and "等待" in open_round.explanation_zh
    decided = run(approval, seats, GO, CG)
    assert decided.explanation.startswith("CONDITIONAL_GO") and decided.explanation_zh.startswith("有条件通过")
    approval, seats = panel(P.M_OF_N, 3, m=2)
    early = run(approval, seats, GO, GO)
    assert "p2" in early.explanation and "已关闭" in early.explanation_zh
    rejected = run(*panel(P.ALL, 3), RECYCLE)
    assert rejected.direction == "reject" and "HOLD, RECYCLE and KILL" in rejected.explanation


# ------------------------------------------------------------------------------------------------ inputs
def test_ballot_validation() -> None:
    with pytest.raises(ValueError, match="needs a decision"):
        Ballot(person_id="a")
    with pytest.raises(ValueError, match="takes no decision"):
        Ballot(person_id="a", kind=ABSTAIN, decision=GO)


def test_tally_refuses_strangers_and_second_ballots() -> None:
    approval, seats = panel(P.ALL, 2)
    with pytest.raises(InputError, match="zed holds no seat") as stranger:
        tally(approval, seats, [ballot("zed", GO)])
    assert stranger.value.code == "ballot.not_a_seat"
    with pytest.raises(InputError, match="more than one ballot"):
        tally(approval, seats, [ballot("p0", GO), ballot("p0", KILL)])
    with pytest.raises(InputError, match="at least one seat"):
        tally(approval, (), [])


# ------------------------------------------------------------------------------------------------ seats
def test_resolve_seats_one_seat_per_person_keeps_the_first_role() -> None:
    approval = ApprovalDef(
        policy=P.M_OF_N, approvers=("sponsor", "finance", "pmo"), m=2, veto_roles=("finance",), chair="pmo"
    )
    roles = {"sponsor": ["ann"], "finance": ["bob", "ann"], "pmo": ["cho"]}
    seats = resolve_seats(approval, roles)
    assert [(s.person_id, s.role, s.also_holds) for s in seats] == [
        ("ann", "sponsor", ("finance",)),
        ("bob", "finance", ()),
        ("cho", "pmo", ()),
    ]
    # ann keeps finance's veto: her KILL decides at once, though her seat is the sponsor's.
    assert tally(approval, seats, [ballot("ann", KILL)]).rule == "veto"
    both = resolve_seats(approval, roles, one_seat_per_person=False)
    assert [(s.person_id, s.role) for s in both] == [
        ("ann", "sponsor"),
        ("bob", "finance"),
        ("ann", "finance"),
        ("cho", "pmo"),
    ]
    # Without one-seat-per-person ann's one ballot fills both her seats: 2 approvals of the 2 needed, but bob
    # (finance, a veto role) could still veto; once he has voted without vetoing, it is GO.
    assert tally(approval, both, [ballot("ann", GO)]).outcome is None
    assert tally(approval, both, ballots({"ann": GO, "bob": HOLD})).outcome is GO


@pytest.mark.parametrize(
    ("approval", "roles", "code", "text"),
    [
        (ApprovalDef(approvers=("sponsor",)), {}, "approval.role_unresolved", "'sponsor' has nobody"),
        (ApprovalDef(approvers=("sponsor",)), {"sponsor": ["a", "b"]}, "approval.single_ambiguous", "a, b"),
        (
            ApprovalDef(policy=P.ALL, approvers=("sponsor", "pmo"), chair="finance"),
            {"sponsor": ["a"], "pmo": ["b"]},
            "approval.chair_not_approver",
            "'finance'",
        ),
        (
            ApprovalDef(policy=P.ALL, approvers=("sponsor", "pmo"), chair="pmo"),
            {"sponsor": ["a"], "pmo": ["b", "c"]},
            "approval.chair_ambiguous",
            "b, c",
        ),
        (
            ApprovalDef(policy=P.ALL, approvers=("sponsor",), veto_roles=("finance",)),
            {"sponsor": ["a"]},
            "approval.veto_not_approver",
            "'finance'",
        ),
        (
            ApprovalDef(policy=P.M_OF_N, approvers=("sponsor", "pmo"), m=2),
            {"sponsor": ["a"], "pmo": ["a"]},
            "approval.too_few_seats",
            "needs 2",
        ),
        (
            ApprovalDef(
                policy=P.PER_GROUP,
                approvers=("sponsor", "pmo"),
                groups=(ApproverGroupDef(id="board", roles=("sponsor",)),),
            ),
            {"sponsor": ["a"], "pmo": ["b"]},
            "approval.group_membership",
            "'pmo'",
        ),
        (
            ApprovalDef(
                policy=P.PER_GROUP,
                approvers=("sponsor", "pmo"),
                groups=(
                    ApproverGroupDef(id="board", roles=("sponsor",)),
                    ApproverGroupDef(id="office", roles=("pmo",)),
                ),
            ),
            {"sponsor": ["a"], "pmo": ["a"]},
            "approval.too_few_seats",
            "'office'",
        ),
    ],
)
def test_resolve_seats_refuses_what_cannot_be_counted(
    approval: ApprovalDef, roles: dict[str, list[str]], code: str, text: str
) -> None:
    with pytest.raises(ConflictError, match=text) as refused:
        resolve_seats(approval, roles)
    assert refused.value.code == code


def test_resolve_seats_per_group_and_order() -> None:
    approval = ApprovalDef(
        policy=P.PER_GROUP,
        approvers=("sponsor", "finance", "pmo"),
        groups=(
            ApproverGroupDef(id="business", roles=("sponsor", "finance"), min_approvals=2),
            ApproverGroupDef(id="office", roles=("pmo",)),
        ),
    )
    seats = resolve_seats(approval, {"sponsor": ["a"], "finance": ["b"], "pmo": ["c", "d"]})
    assert [(s.person_id, s.group, s.order) for s in seats] == [
        ("a", "business", 0),
        ("b", "business", 1),
        ("c", "office", 2),
        ("d", "office", 2),
    ]


# ------------------------------------------------------------------------------------------------ laws
@st.composite
def panels(draw: st.DrawFn, policies: Sequence[ApprovalPolicyKind] = PARALLEL, max_seats: int = 5) -> Any:
    """A policy with its seats: veto roles, a chair, per_group groups and, sometimes, one person in two seats."""
    policy = draw(st.sampled_from(policies))
    n = 1 if policy is P.SINGLE else draw(st.integers(1, max_seats))
    roles = tuple(f"r{i}" for i in range(n))
    kwargs: dict[str, Any] = {}
    if policy is P.M_OF_N:
        kwargs["m"] = draw(st.integers(1, n))
    if policy is P.PERCENTAGE:
        kwargs["percentage"] = draw(st.sampled_from([10, 25, 33.34, 50, 51, 60, 66.67, 75, 100]))
    if policy is P.PER_GROUP:
        home = [draw(st.integers(0, 2)) for _ in roles]
        kwargs["groups"] = tuple(
            ApproverGroupDef(
                id=f"g{g}",
                roles=members,
                min_approvals=draw(st.integers(1, len(members))),
            )
            for g in sorted(set(home))
            for members in [tuple(r for r, h in zip(roles, home, strict=True) if h == g)]
        )
    kwargs["veto_roles"] = tuple(draw(st.lists(st.sampled_from(roles), max_size=2, unique=True)))
    kwargs["chair"] = draw(st.none() | st.sampled_from(roles))
    approval = ApprovalDef(policy=policy, approvers=roles, **kwargs)
    people = [f"p{i}" for i in range(n)]
    if n >= 3 and draw(st.integers(0, 4)) == 0:
        people[-1] = people[0]  # one_seat_per_person off: one person, two seats
    seats = tuple(
        Seat(person_id=person, role=role, order=i, group=_group(approval, role))
        for i, (person, role) in enumerate(zip(people, roles, strict=True))
    )
    return approval, seats


def persons(seats: Iterable[Seat]) -> list[str]:
    return list(dict.fromkeys(s.person_id for s in seats))


def complete(data: st.DataObject, seats: Sequence[Seat]) -> dict[str, Choice]:
    return {p: data.draw(st.sampled_from(CHOICES)) for p in persons(seats)}


def continuations(approval: ApprovalDef, seats: Sequence[Seat], cast: Mapping[str, Choice]) -> set[Decision | None]:
    pending = [p for p in persons(seats) if p not in cast]
    return {
        tally(approval, seats, ballots(dict(cast) | dict(zip(pending, rest, strict=True)))).outcome
        for rest in itertools.product(CHOICES, repeat=len(pending))
    }


def reference(approval: ApprovalDef, seats: Sequence[Seat], choice: Mapping[str, Choice]) -> Decision:
    """The complete-round rule in counting form: approve with t approvals (GO with t GO votes), else the most
    cautious decision a blocking number of seats backs. Written apart from the module's order statistic."""
    electorate = [(s, choice[s.person_id]) for s in seats if choice[s.person_id] is not RECUSE]
    if not electorate:
        return HOLD
    vetoes = {c for s, c in electorate if c in (RECYCLE, KILL) and any(s.holds(r) for r in approval.veto_roles)}
    if vetoes:
        return KILL if KILL in vetoes else RECYCLE
    if approval.policy is P.PER_GROUP:
        verdicts = [_counting([c for s, c in electorate if s.group == g.id], g.min_approvals) for g in approval.groups]
        rank = [GO, CG, HOLD, RECYCLE, KILL]
        return max(verdicts, key=rank.index)
    votes = [c for _, c in electorate]
    size = len(votes)
    if approval.policy is P.PERCENTAGE:
        needed = math.ceil(Decimal(str(approval.percentage)) * size / 100)
    else:
        needed = {P.SINGLE: 1, P.ANY: 1, P.ALL: size, P.M_OF_N: approval.m or 0}[approval.policy]
    approvals = sum(1 for c in votes if c in APPROVING)
    rejections = sum(1 for c in votes if c in (HOLD, RECYCLE, KILL))
    chair = next((s.person_id for s in seats if approval.chair and s.holds(approval.chair)), None)
    if (
        approval.policy in (P.M_OF_N, P.PERCENTAGE)
        and chair is not None
        and choice[chair] in APPROVING
        and approvals == rejections == needed - 1 >= 1
    ):
        return CG if CG in votes else GO
    return _counting(votes, needed)


def _counting(votes: list[Choice], needed: int) -> Decision:
    if sum(1 for c in votes if c in APPROVING) >= needed:
        return GO if votes.count(GO) >= needed else CG
    blocking = len(votes) - needed + 1
    if blocking <= 0:  # fewer seats than approvals needed: the missing ones count as HOLD
        return KILL if KILL in votes else RECYCLE if RECYCLE in votes else HOLD
    if votes.count(KILL) >= blocking:
        return KILL
    return RECYCLE if votes.count(KILL) + votes.count(RECYCLE) >= blocking else HOLD


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_every_complete_round_decides_by_the_counting_rule(data: st.DataObject) -> None:
    approval, seats = data.draw(panels((*PARALLEL, P.SEQUENTIAL), max_seats=7))
    choice = complete(data, seats)
    result = tally(approval, seats, ballots(choice))
    assert result.outcome is not None
    assert result.pending == result.closed == result.next_up == ()
    if approval.policy is not P.SEQUENTIAL:
        assert result.outcome is reference(approval, seats, choice), (approval, choice, result.explanation)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_parallel_rounds_do_not_depend_on_vote_order(data: st.DataObject) -> None:
    """The same ballots in any order give the same tally, and a round fed one ballot at a time, stopping when
    it resolves, ends with the decision the complete panel would have reached, whatever the order."""
    approval, seats = data.draw(panels(PARALLEL, max_seats=6))
    choice = complete(data, seats)
    whole = tally(approval, seats, ballots(choice))
    order = data.draw(st.permutations(list(choice)))
    assert tally(approval, seats, [ballot(p, choice[p]) for p in order]) == whole
    cast: dict[str, Choice] = {}
    for person in order:
        if tally(approval, seats, ballots(cast)).outcome is not None:
            break
        cast[person] = choice[person]
    assert tally(approval, seats, ballots(cast)).outcome is whole.outcome


@settings(max_examples=250, deadline=None)
@given(st.data())
def test_a_round_resolves_exactly_when_its_outcome_is_certain(data: st.DataObject) -> None:
    """Brute force over every continuation of the seats still to act (7 choices each, small panels)."""
    approval, seats = data.draw(panels(PARALLEL, max_seats=4))
    choice = complete(data, seats)
    cast = {p: c for p, c in choice.items() if data.draw(st.booleans())}
    result = tally(approval, seats, ballots(cast))
    reachable = continuations(approval, seats, cast)
    pending = tuple(p for p in persons(seats) if p not in cast)
    if len(reachable) == 1:
        assert result.outcome == next(iter(reachable)), (approval, cast, result.explanation)
        assert result.closed == pending and result.pending == ()
    else:
        assert result.outcome is None and result.pending == pending and result.closed == ()
    directions = {d in APPROVING for d in reachable if d is not None}
    assert result.direction == (None if len(directions) != 1 else "approve" if directions == {True} else "reject")


def test_m_of_n_resolves_as_soon_as_certain_exhaustively() -> None:
    """Every partial round of 2-of-3, and of 3-of-4 with a chair and a veto holder, against brute force."""
    for approval, seats in (panel(P.M_OF_N, 3, m=2), panel(P.M_OF_N, 4, m=3, chair="r0", veto_roles=("r1",))):
        people = persons(seats)
        for acted in itertools.product([None, *CHOICES], repeat=len(people)):
            cast = {p: c for p, c in zip(people, acted, strict=True) if c is not None}
            reachable = continuations(approval, seats, cast)
            result = tally(approval, seats, ballots(cast))
            expected = next(iter(reachable)) if len(reachable) == 1 else None
            assert result.outcome == expected, (cast, reachable)
            if expected is not None:
                assert set(result.closed) == set(people) - set(cast)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_approving_more_never_turns_an_approval_into_a_rejection(data: st.DataObject) -> None:
    approval, seats = data.draw(panels(PARALLEL, max_seats=6))
    choice = complete(data, seats)
    before = tally(approval, seats, ballots(choice)).outcome
    voters = [p for p, c in choice.items() if c is not RECUSE]
    if not voters:
        return
    person = data.draw(st.sampled_from(voters))
    for better in (GO, CG):
        after = tally(approval, seats, ballots(choice | {person: better})).outcome
        if before in APPROVING:
            assert after in APPROVING, (approval, choice, person, better)
    if before is GO:
        assert tally(approval, seats, ballots(choice | {person: GO})).outcome is GO


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_nothing_is_approved_without_the_threshold(data: st.DataObject) -> None:
    """Whether complete or decided early, an approval has its approvals in hand (the chair's casting vote
    counting once more in a tie), in every group for per_group; and silence never approves."""
    approval, seats = data.draw(panels((*PARALLEL, P.SEQUENTIAL), max_seats=6))
    choice = complete(data, seats)
    cast = {p: c for p, c in choice.items() if data.draw(st.booleans())}
    result = tally(approval, seats, ballots(cast))
    if result.outcome not in APPROVING:
        return
    assert result.rule in ("threshold", "chair", "sequence")
    casting = 1 if result.rule == "chair" else 0
    assert result.approvals + casting >= result.needed >= 1
    for group in result.groups:
        assert group.approvals >= group.needed
    if approval.policy in (P.ALL, P.SEQUENTIAL):
        assert result.pending == result.closed == ()  # everybody had to act


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_a_veto_decides_at_once(data: st.DataObject) -> None:
    approval, seats = data.draw(panels(PARALLEL, max_seats=5))
    vetoers = [s.person_id for s in seats if any(s.holds(r) for r in approval.veto_roles)]
    if not vetoers:
        return
    vetoer = data.draw(st.sampled_from(vetoers))
    others = {p: c for p, c in complete(data, seats).items() if p not in vetoers and data.draw(st.booleans())}
    assert tally(approval, seats, ballots(others | {vetoer: KILL})).outcome is KILL
    recycle = tally(approval, seats, ballots(others | {vetoer: RECYCLE}))
    if set(vetoers) == {vetoer}:
        assert (recycle.outcome, recycle.rule) == (RECYCLE, "veto")
    else:
        assert recycle.outcome is None and recycle.direction == "reject"


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_sequential_rounds_end_within_one_step_per_seat(data: st.DataObject) -> None:
    """Feeding whoever is next up terminates; the round only ever asks the current step."""
    approval, seats = data.draw(panels((P.SEQUENTIAL,), max_seats=6))
    choice = complete(data, seats)
    cast: dict[str, Choice] = {}
    for _ in persons(seats):
        result = tally(approval, seats, ballots(cast))
        if result.outcome is not None:
            break
        assert result.next_up and set(result.next_up) <= set(result.pending)
        cast[result.next_up[0]] = choice[result.next_up[0]]
    final = tally(approval, seats, ballots(cast))
    assert final.outcome is not None
    first_objection = next((c for c in cast.values() if c not in APPROVING and c is not RECUSE), None)
    if final.outcome in APPROVING:
        assert first_objection is None and all(c in APPROVING or c is RECUSE for c in cast.values())
