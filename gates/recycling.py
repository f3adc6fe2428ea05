"""The recycle limit ("three strikes"): after a gate has sent a project back too often, propose KILL.

Pure: the count comes from the project, the limit from the gate's template; the reviews, the refresh of an
open round and ``gate check`` all apply it through ``usecases.services.assess_gate``.
"""

from __future__ import annotations

from phasegate.gates.vocabulary.enums import Recommendation
from phasegate.gates.vocabulary.snapshots import Evaluation


def with_recycle_limit(evaluation: Evaluation, recycle_count: int, limit: int) -> Evaluation:
    """KILL once the project was recycled ``limit`` times at this gate, whatever the criteria say, with why."""
    if recycle_count < limit:
        return evaluation
    reason = f"recycled {recycle_count} times at this gate; the limit is {limit}"
    return evaluation.model_copy(
        update={"recommendation": Recommendation.KILL, "reasons": (*evaluation.reasons, reason)}
    )
