"""Who may do what: the role matrix, as data, and the one check every use case makes before it acts.

Why a pure module: the matrix is policy the PMO and auditors read (docs/security.md prints it as a table),
and tests prove it without a database. The use cases (``usecases.guard``) add only what needs storage: that the
acting person exists, is not disabled, and that an admin acting for someone really is an admin.

Permissions come from two places, and a rule may use both:

- an **organisation role** the person holds (``OrgRole``: pmo_admin, gatekeeper, manager, viewer), and
- a **relationship** to what is acted on: the project's manager or sponsor, or the person themselves (a
  delegation's principal, a token's owner).

Some relationships **forbid** an act whatever the roles say: a project's manager judging their own project
(scoring it, verifying its conditions) is refused even if they are also a gatekeeper or the PMO admin.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from phasegate.gates.vocabulary.errors import AuthorizationError
from phasegate.gates.vocabulary.identity import Actor, AuthMethod, OrgRole
from phasegate.gates.vocabulary.snapshots import ProjectSnapshot
from phasegate.gates.vocabulary.tolerance import ToleranceLevel


class Act(StrEnum):
    """Everything a person can ask phasegate to do, as the matrix names it."""

    READ = "read"
    MANAGE_PEOPLE = "manage people"
    PUBLISH_TEMPLATE = "publish templates"
    CREATE_PROJECT = "create projects"
    ASSIGN_PROJECT_ROLE = "assign project roles"
    WRITE_EVIDENCE = "write a project's evidence"
    REQUEST_REVIEW = "request a gate review"
    VOTE = "vote"
    SCORE = "score a gate"
    REASSIGN_ROUND = "reassign a round's seat"
    CANCEL_ROUND = "cancel a round"
    RESUME_PROJECT = "resume a project"
    CLOSE_PROJECT = "close a project"
    VERIFY_CONDITION = "verify conditions"
    GRANT_DELEGATION = "grant a delegation"
    REVOKE_DELEGATION = "revoke a delegation"
    MANAGE_TOKENS = "manage API tokens"
    MANAGE_CREDENTIALS = "manage web sign-in credentials"
    APPROVE_DOCUMENT = "approve a deliverable"
    READ_CONTACT = "read a person's email, login and notification addresses"
    UPDATE_PROJECT = "change a project's sponsor, manager or budget"
    RECORD_LESSON = "record a lesson learned"
    EDIT_LESSON = "edit a lesson learned"
    APPLY_LESSON = "mark a lesson applied in an approval round"
    OPERATE = "operate phasegate (migrate the database, seal the audit chain, retry notices, reconcile rounds)"
    SEND_REPORT = "send a report to management"
    SET_TOLERANCE = "set a project's tolerances"
    DECIDE_EXCEPTION = "decide a tolerance exception"
    SET_CAPACITY = "set people's resource roles and capacity"
    SET_DEMAND = "set a project's resource demand"
    SET_PRIORITY = "set a project's priority in the HOLD queue"


class Relation(StrEnum):
    """How the actor stands to what the act is on."""

    MANAGER = "the project's manager"
    SPONSOR = "the project's sponsor"
    SELF = "the person concerned"
    SIGNER = "the deliverable's designated approver on the project"


@dataclass(frozen=True)
class Rule:
    """Roles or relationships that allow an act (any one suffices), and relationships that forbid it."""

    roles: frozenset[OrgRole] = frozenset()
    relations: frozenset[Relation] = frozenset()
    forbidden: frozenset[Relation] = frozenset()


_ADMIN = frozenset({OrgRole.PMO_ADMIN})
READS = frozenset({Act.READ, Act.READ_CONTACT})
"""Acts a read-only credential (a viewer token) may still ask for."""

MATRIX: Mapping[Act, Rule] = {
    Act.READ: Rule(roles=frozenset(OrgRole)),
    Act.MANAGE_PEOPLE: Rule(roles=_ADMIN),
    Act.PUBLISH_TEMPLATE: Rule(roles=_ADMIN),
    Act.CREATE_PROJECT: Rule(roles=frozenset({OrgRole.PMO_ADMIN, OrgRole.MANAGER})),
    Act.ASSIGN_PROJECT_ROLE: Rule(roles=_ADMIN),
    Act.WRITE_EVIDENCE: Rule(roles=_ADMIN, relations=frozenset({Relation.MANAGER})),
    Act.REQUEST_REVIEW: Rule(roles=_ADMIN, relations=frozenset({Relation.MANAGER, Relation.SPONSOR})),
    # Whose seat it is, delegation and the gate's segregation rules are checked by the vote itself.
    Act.VOTE: Rule(roles=frozenset({OrgRole.GATEKEEPER})),
    Act.SCORE: Rule(roles=frozenset({OrgRole.GATEKEEPER}), forbidden=frozenset({Relation.MANAGER})),
    Act.REASSIGN_ROUND: Rule(roles=_ADMIN),
    Act.CANCEL_ROUND: Rule(roles=_ADMIN),
    Act.RESUME_PROJECT: Rule(roles=_ADMIN, relations=frozenset({Relation.SPONSOR})),
    Act.CLOSE_PROJECT: Rule(roles=_ADMIN, relations=frozenset({Relation.SPONSOR})),
    Act.VERIFY_CONDITION: Rule(
        roles=frozenset({OrgRole.PMO_ADMIN, OrgRole.GATEKEEPER}), forbidden=frozenset({Relation.MANAGER})
    ),
    Act.GRANT_DELEGATION: Rule(roles=_ADMIN, relations=frozenset({Relation.SELF})),
    Act.REVOKE_DELEGATION: Rule(roles=_ADMIN, relations=frozenset({Relation.SELF})),
    Act.MANAGE_TOKENS: Rule(roles=_ADMIN, relations=frozenset({Relation.SELF})),
    Act.MANAGE_CREDENTIALS: Rule(roles=_ADMIN, relations=frozenset({Relation.SELF})),
    # Whether the manager may approve is the deliverable's own standard (approver_not_manager), checked by the
    # use case; the matrix says who may sign at all.
    Act.APPROVE_DOCUMENT: Rule(roles=_ADMIN, relations=frozenset({Relation.SIGNER})),
    Act.UPDATE_PROJECT: Rule(roles=_ADMIN),
    Act.READ_CONTACT: Rule(roles=_ADMIN, relations=frozenset({Relation.SELF})),
    # Lessons are the organisation's memory: whoever ran or judged the project files them; only their author
    # (or the PMO) rewrites one; gatekeepers say which they applied in a decision.
    Act.RECORD_LESSON: Rule(
        roles=frozenset({OrgRole.PMO_ADMIN, OrgRole.GATEKEEPER}),
        relations=frozenset({Relation.MANAGER, Relation.SPONSOR}),
    ),
    Act.EDIT_LESSON: Rule(roles=_ADMIN, relations=frozenset({Relation.SELF})),
    Act.APPLY_LESSON: Rule(roles=frozenset({OrgRole.PMO_ADMIN, OrgRole.GATEKEEPER})),
    Act.OPERATE: Rule(roles=_ADMIN),
    Act.SEND_REPORT: Rule(roles=_ADMIN),
    # Which level one may act as is LEVELS below; the use case checks both.
    Act.SET_TOLERANCE: Rule(roles=_ADMIN, relations=frozenset({Relation.SPONSOR, Relation.MANAGER})),
    Act.DECIDE_EXCEPTION: Rule(roles=_ADMIN, relations=frozenset({Relation.SPONSOR, Relation.MANAGER})),
    # Capacity is the organisation's: the PMO keeps who works how much. Demand is the project's plan: its manager
    # imports it, as they import the rest of the project's evidence. Priority ranks projects against each
    # other, so it is a portfolio decision.
    Act.SET_CAPACITY: Rule(roles=_ADMIN),
    Act.SET_DEMAND: Rule(roles=_ADMIN, relations=frozenset({Relation.MANAGER})),
    Act.SET_PRIORITY: Rule(roles=_ADMIN),
}

LEVELS: Mapping[ToleranceLevel, Rule] = {
    ToleranceLevel.CORPORATE: Rule(roles=_ADMIN),
    ToleranceLevel.PROJECT_BOARD: Rule(roles=_ADMIN, relations=frozenset({Relation.SPONSOR})),
    ToleranceLevel.PROJECT_MANAGER: Rule(roles=_ADMIN, relations=frozenset({Relation.SPONSOR, Relation.MANAGER})),
}
"""Who may act as each tolerance level (set its tolerances, later decide its exceptions): the PMO stands for
corporate and portfolio management, the sponsor for the project board, the manager for themselves."""


def relations_of(
    actor: Actor,
    *,
    project: ProjectSnapshot | None = None,
    subject: str | None = None,
    signers: frozenset[str] = frozenset(),
) -> set[Relation]:
    """The relationships the actor has to the project, to the person acted on (``subject``) and to a deliverable
    (``signers``: who holds its approver role on the project)."""
    found: set[Relation] = set()
    if actor.person_id in signers:
        found.add(Relation.SIGNER)
    if project is not None and project.manager_id == actor.person_id:
        found.add(Relation.MANAGER)
    if project is not None and project.sponsor_id == actor.person_id:
        found.add(Relation.SPONSOR)
    if subject is not None and subject == actor.person_id:
        found.add(Relation.SELF)
    return found


def needs(act: Act) -> str:
    """What allows ``act``, in words (for refusals and the docs)."""
    rule = MATRIX[act]
    parts = []
    if rule.roles:
        parts.append("organisation role " + " or ".join(sorted(r.value for r in rule.roles)))
    parts += [f"being {relation.value}" for relation in sorted(rule.relations)]
    return ", or ".join(parts)


def authorize(
    actor: Actor,
    act: Act,
    *,
    project: ProjectSnapshot | None = None,
    subject: str | None = None,
    signers: frozenset[str] = frozenset(),
) -> None:
    """Allow the act or raise ``AuthorizationError`` (code ``auth.role``) saying what it needs."""
    rule = MATRIX[act]
    held = relations_of(actor, project=project, subject=subject, signers=signers)
    where = f" of {project.key}" if project is not None else ""
    if actor.read_only and act not in READS:
        raise AuthorizationError(
            f"{actor.person_id} may not {act.value}{where}: this credential is read-only (a viewer token)"
        )
    barred = sorted(rule.forbidden & held)
    if barred:
        raise AuthorizationError(
            f"refused: {actor.person_id} is {barred[0].value}{where} and may not {act.value} there "
            "(nobody judges their own project)",
            code="auth.conflict_of_interest",
        )
    if rule.roles & actor.roles or rule.relations & held:
        return
    raise AuthorizationError(f"{actor.person_id} may not {act.value}{where}: needs {needs(act)}")


def authorize_level(actor: Actor, level: ToleranceLevel, *, project: ProjectSnapshot) -> None:
    """Allow acting as ``level`` on ``project`` or raise ``AuthorizationError`` (code ``auth.tolerance_level``)."""
    rule = LEVELS[level]
    if rule.roles & actor.roles or rule.relations & relations_of(actor, project=project):
        return
    allowed = ["organisation role " + " or ".join(sorted(r.value for r in rule.roles))] if rule.roles else []
    allowed += [f"being {relation.value}" for relation in sorted(rule.relations)]
    raise AuthorizationError(
        f"{actor.person_id} may not act as the {level.value} level of {project.key}: needs {', or '.join(allowed)}",
        code="auth.tolerance_level",
        entity=f"project:{project.key}",
    )


def check_sponsor_and_manager(sponsor_id: str, manager_id: str) -> None:
    """A project's sponsor (who funds and judges it) and its manager (who runs it) are two people."""
    if sponsor_id == manager_id:
        raise AuthorizationError(
            f"--sponsor and --manager are both {sponsor_id}: the sponsor judges the manager's work at each gate, "
            "so they must be two different people",
            code="auth.sponsor_is_manager",
        )


def check_recorded_approval(actor: Actor, approved_by: str | None) -> None:
    """Whose approval the actor may record when registering a document with ``--approved-by``.

    An approval is a signature: a person records their own. A PMO admin (or an admin acting for someone, which
    is audited as such) may record an approval given on paper in another's name; nobody else may, or a manager
    could mark their own deliverables as signed by the sponsor. The approver signs with ``doc approve`` instead.
    """
    if approved_by is None or approved_by == actor.person_id or actor.method is AuthMethod.SYSTEM:
        return
    if OrgRole.PMO_ADMIN in actor.roles or actor.acting_admin is not None:
        return
    raise AuthorizationError(
        f"--approved-by {approved_by}: {actor.person_id} may record only their own approval; {approved_by} "
        "approves with 'phasegate doc approve PROJECT DELIVERABLE', or a pmo_admin records a signed paper approval",
        code="auth.approve_for_other",
    )
