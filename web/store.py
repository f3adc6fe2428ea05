"""Reads and one write the pages need that the unit of work does not offer: SQLAlchemy Core, short sessions.

Why here and not in ``models/uow.py``: these serve only the web pages (the stored packet of a round, the
single-use ledger of approval links, portfolio-wide aggregates in one query instead of one per project, so a
dashboard over 10,000 projects stays a handful of statements). Everything that decides goes through the
use cases; nothing here changes a project, a round or a vote.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from phasegate.gates.vocabulary.snapshots import RoundSnapshot
from phasegate.models import tables as t

Sessions = Callable[[], AbstractContextManager[Session]]
"""A session factory (``sessionmaker``), or one shared read's (``models.one_read.OneRead.sessions``)."""


def token_hash(token: str) -> str:
    """What the ledger stores: the link's sha256, never the link (it is a credential until it expires)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class StoredReview:
    evaluation: dict[str, Any]
    evidence: dict[str, Any]
    created_at: datetime


def review(sessions: Sessions, current: RoundSnapshot) -> StoredReview | None:
    """The stored evaluation behind the round's *current* evidence.

    A round keeps the id of the review that opened it; when its evidence is refreshed the new evaluation is
    another review row with the new hash. Showing the first one would put stale evidence under a live form,
    so the review is found by the round's evidence hash, newest first.
    """
    columns = (t.GateReview.evaluation, t.GateReview.evidence, t.GateReview.created_at)
    with sessions() as session:
        row = session.execute(
            select(*columns)
            .where(
                t.GateReview.project_key == current.project_key,
                t.GateReview.gate_id == current.gate_id,
                t.GateReview.evidence_hash == current.evidence_hash,
            )
            .order_by(t.GateReview.created_at.desc())
            .limit(1)
        ).first()
        if row is None:
            row = session.execute(select(*columns).where(t.GateReview.id == current.review_id)).first()
    return None if row is None else StoredReview(evaluation=row[0], evidence=row[1], created_at=row[2])


def link_used(sessions: Sessions, digest: str) -> bool:
    with sessions() as session:
        return session.get(t.UsedApprovalLink, digest) is not None


def mark_link_used(
    sessions: sessionmaker[Session], digest: str, *, round_id: UUID, approver_id: str, now: datetime
) -> bool:
    """Record the link as used; False when it already was (two submits racing: the vote itself is idempotent)."""
    with sessions() as session, session.begin():
        if session.get(t.UsedApprovalLink, digest) is not None:
            return False
        try:
            with session.begin_nested():
                session.execute(
                    insert(t.UsedApprovalLink).values(
                        token_hash=digest, round_id=round_id, approver_id=approver_id, used_at=now
                    )
                )
        except IntegrityError:
            return False
    return True


def baseline_periods(sessions: Sessions, key: str) -> list[tuple[date, Decimal]]:
    with sessions() as session:
        rows = session.execute(
            select(t.BaselinePeriod.period_end, t.BaselinePeriod.planned_value)
            .where(t.BaselinePeriod.project_key == key)
            .order_by(t.BaselinePeriod.period_end)
        ).all()
    return [(row[0], row[1]) for row in rows]


@dataclass(frozen=True)
class LatestReport:
    as_of: date
    bac: Decimal
    pv: Decimal | None
    ev: Decimal | None
    ac: Decimal | None


def latest_reports(sessions: sessionmaker[Session]) -> dict[str, LatestReport]:
    """Each project's latest status report with its BAC (baseline, else budget): one query for the portfolio.

    PV is the report's own, else the time-phased baseline's at the report date (as the gate evidence takes it).
    """
    latest = (
        select(t.EvmReport.project_key, func.max(t.EvmReport.as_of).label("as_of"))
        .group_by(t.EvmReport.project_key)
        .subquery()
    )
    planned = (
        select(t.BaselinePeriod.planned_value)
        .where(
            t.BaselinePeriod.project_key == t.EvmReport.project_key, t.BaselinePeriod.period_end <= t.EvmReport.as_of
        )
        .order_by(t.BaselinePeriod.period_end.desc())
        .limit(1)
        .scalar_subquery()
    )
    statement = (
        select(
            t.EvmReport.project_key,
            t.EvmReport.as_of,
            func.coalesce(t.EvmReport.planned_value, planned),
            t.EvmReport.earned_value,
            t.EvmReport.actual_cost,
            func.coalesce(t.Baseline.bac, t.Project.budget),
        )
        .join(latest, (latest.c.project_key == t.EvmReport.project_key) & (latest.c.as_of == t.EvmReport.as_of))
        .join(t.Project, t.Project.key == t.EvmReport.project_key)
        .outerjoin(t.Baseline, t.Baseline.project_key == t.EvmReport.project_key)
    )
    with sessions() as session:
        rows = session.execute(statement).all()
    return {row[0]: LatestReport(as_of=row[1], pv=row[2], ev=row[3], ac=row[4], bac=Decimal(row[5])) for row in rows}


@dataclass(frozen=True)
class RecentDecision:
    project_key: str
    gate_id: str
    decision: str
    decided_by: tuple[str, ...]
    reason: str
    decided_at: datetime


def recent_decisions(sessions: sessionmaker[Session], limit: int = 15) -> list[RecentDecision]:
    with sessions() as session:
        rows = session.execute(
            select(
                t.GateDecision.project_key,
                t.GateDecision.gate_id,
                t.GateDecision.decision,
                t.GateDecision.decided_by,
                t.GateDecision.reason,
                t.GateDecision.decided_at,
            )
            .order_by(t.GateDecision.decided_at.desc())
            .limit(limit)
        ).all()
    return [
        RecentDecision(
            project_key=r[0], gate_id=r[1], decision=r[2], decided_by=tuple(r[3] or ()), reason=r[4], decided_at=r[5]
        )
        for r in rows
    ]


def round_ids_of(sessions: sessionmaker[Session], key: str) -> set[str]:
    with sessions() as session:
        return {
            str(rid) for rid in session.scalars(select(t.ApprovalRound.id).where(t.ApprovalRound.project_key == key))
        }


def bac_of(sessions: sessionmaker[Session], key: str) -> Decimal | None:
    """Budget at completion: the baseline's, else the project's budget."""
    with sessions() as session:
        value = session.execute(
            select(func.coalesce(t.Baseline.bac, t.Project.budget))
            .select_from(t.Project)
            .outerjoin(t.Baseline, t.Baseline.project_key == t.Project.key)
            .where(t.Project.key == key)
        ).scalar()
    return None if value is None else Decimal(value)
