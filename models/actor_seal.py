"""A sealed actor: who a door proved is acting, handed to a flow run that may start far from that door.

Why: a flow started through a Prefect deployment (the UI's "Run", the REST API, a worker) gets its parameters
from whoever can reach the Prefect API, which is not phasegate's proof of identity. A door that authenticated
a person (the CLI's OS login, a web session, an API token) seals the ``Actor`` with the secret key, bound to
the one project the act is on and to a short expiry; the flow opens the seal and refuses anything else. A flow
run with no seal acts as the system, as a scheduled run does, and is audited as such.

The seal is signed, not encrypted (the Prefect UI shows parameters): it names the person, which the flow run's
audit entries name anyway.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from itsdangerous import BadData, URLSafeSerializer
from pydantic import ValidationError

from phasegate.gates.vocabulary.errors import PermissionDeniedError
from phasegate.gates.vocabulary.identity import Actor

SALT = "phasegate.flow-actor.v1"
TTL = timedelta(minutes=15)
"""Long enough for a flow run queued behind others on a worker; short enough that a copied seal soon dies."""

FORGED = "flow_actor.forged"
EXPIRED = "flow_actor.expired"
WRONG_PROJECT = "flow_actor.wrong_project"


def seal_actor(actor: Actor, *, project_key: str, secret: str, now: datetime) -> str:
    """The actor, signed with the secret key for acts on ``project_key`` until ``now + TTL``."""
    payload = {"actor": actor.model_dump(mode="json"), "project": project_key, "until": (now + TTL).isoformat()}
    return str(URLSafeSerializer(secret, salt=SALT).dumps(payload))


def open_actor(seal: str, *, project_key: str, secret: str, now: datetime) -> Actor:
    """The actor a seal names, or ``PermissionDeniedError`` when it is forged, expired or for another project."""
    try:
        payload = URLSafeSerializer(secret, salt=SALT).loads(seal)
        actor = Actor.model_validate(payload["actor"])
        until = datetime.fromisoformat(payload["until"])
        sealed_for = str(payload["project"])
    except (BadData, ValidationError, KeyError, TypeError, ValueError):
        raise PermissionDeniedError(
            "requested_by: not a seal made with this installation's secret key; start the review through "
            "phasegate (CLI, web or API), or leave requested_by empty to run it as the system",
            code=FORGED,
        ) from None
    if sealed_for != project_key:
        raise PermissionDeniedError(
            f"requested_by: sealed for project {sealed_for}, not {project_key}", code=WRONG_PROJECT
        )
    if now > until:
        raise PermissionDeniedError(
            f"requested_by: the seal expired at {until.isoformat()}; start the review again", code=EXPIRED
        )
    return actor
