"""What the portfolio monitor reads about each project, in one piece, and the RAG rows it records.

Why one record per project read in bulk: a scan of ten thousand projects must not ask the database ten
thousand times for each figure; the adapter fills these with a handful of set-based queries per chunk.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from phasegate.gates.vocabulary.evidence import EvmSnapshot
from phasegate.gates.vocabulary.snapshots import ProjectSnapshot
from phasegate.gates.vocabulary.tolerance import ToleranceException, ToleranceRecord


class MonitorInput(BaseModel):
    """One active project as the monitor sees it on ``as_of``."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    project: ProjectSnapshot
    bac: Decimal
    evm: EvmSnapshot | None
    test_pass_rate: Decimal | None = None
    acceptance: Decimal | None = None
    """The quality metrics of the latest status report (percent), when it had them."""
    plan: tuple[tuple[date, Decimal], ...] = ()
    """The whole time-phased baseline (cumulative planned value per period end), for earned schedule."""
    risks: int = 0
    """How many risks the register holds (closed ones included): none at all is no risk data, not no risk."""
    worst_risk: int | None = None
    """The highest probability x impact among live risks; ``None`` when no risk is live."""
    risks_changed: date | None = None
    """When the register last changed (the evidence date of a risk breach)."""
    tolerances: tuple[ToleranceRecord, ...] = ()
    roles: dict[str, tuple[str, ...]]
    latest_exceptions: dict[str, ToleranceException] = {}
    """The newest exception per ``scope:dimension``."""
    history: dict[str, tuple[Decimal, ...]] = {}
    """Per dimension, the deviations of earlier snapshots, oldest first (the last few)."""


class RagRow(BaseModel):
    """One recorded RAG value: a project's dimension (or ``overall``) on one day."""

    model_config = ConfigDict(defer_build=True, frozen=True)

    project_key: str
    as_of: date
    dimension: str
    rag: str
    deviation: Decimal | None = None
    allowance: Decimal | None = None
