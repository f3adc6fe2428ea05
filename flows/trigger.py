"""Starting flows from a door (the CLI, the web app): ask the Prefect server for a flow run, or run it here.

A door that records a decision should return as soon as the row is committed. So when a Prefect server
serves phasegate's deployments (``phasegate server start`` locally, or a team's ``PREFECT_API_URL`` with
workers), the door creates a flow run of the deployment over Prefect's public REST API and returns; the
served process or a worker runs it. This path is the standard library only: no ``import prefect`` (about
1 s and 71 MB) on a vote.

When no server serves this database, the flow runs in the door's own process (Prefect's temporary server
when none is up), so a decision made on a laptop without ``server start`` is applied at once, as before;
it is slower, never lost. When a team's server is named but does not answer, the vote stays recorded and
the decision is applied by the next reconciliation (the scheduled ``approval-reminders`` flow, or
``phasegate rounds reconcile``): a flow run cannot be started anywhere else without that server.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any

from phasegate.flows.run_names import round_run_name
from phasegate.flows.runtime import runtime
from phasegate.gates.vocabulary.errors import PhasegateError
from phasegate.models.settings import Settings

DECISION_DEPLOYMENT = "gate-decision/gate-decision"
REVIEW_DEPLOYMENT = "gate-review/gate-review"
TERMINAL_STATES = frozenset({"COMPLETED", "FAILED", "CRASHED", "CANCELLED"})
# A door that hands a review to a served deployment waits this long for the run to finish before it says so.
_REVIEW_WAIT_SECONDS = 60.0
logger = logging.getLogger(__name__)
# A door waits at most this long for each request to a Prefect server before it falls back (see module doc).
# The local server's process is known to run (its pid file, /proc): when it is slow to answer, the machine is
# busy, and waiting for it is cheaper than the fallback (importing Prefect and running the flow in this
# process, often with a temporary server of its own). A team's server may be gone: a vote gives up sooner.
_LOCAL_API_TIMEOUT_SECONDS = 30.0
_TEAM_API_TIMEOUT_SECONDS = 10.0
_BUSY_CODES = frozenset({429, 502, 503})
_FIRST_BUSY_PAUSE_SECONDS = 0.1
_MOST_BUSY_PAUSE_SECONDS = 2.0


class PrefectApiError(Exception):
    """The Prefect API did not take a request; ``missing`` when the deployment does not exist there."""

    def __init__(self, message: str, *, missing: bool = False) -> None:
        super().__init__(message)
        self.missing = missing


def prepare_prefect() -> str:
    """Choose the Prefect API before Prefect is imported (it reads its settings once, at import).

    Returns the mode: "external" (a team server named by PREFECT_API_URL), "local-server" or "ephemeral".
    """
    from phasegate.flows.server import configure_prefect_env
    from phasegate.models.keys import secret_key

    settings = runtime().settings
    secret_key(settings)  # every flow makes or sends approval links: refuse before Prefect is even imported

    # The command prints its own summary, so Prefect's console says only what went wrong; its flow-run
    # logger stays at INFO, so the run's logs still reach the server and show in the UI.
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
    # A temporary server on a busy machine can take longer than Prefect's 20 s default to answer.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    return configure_prefect_env(settings)


def run_flow(call: Any) -> Any:
    """Run a flow in this process against the Prefect API ``prepare_prefect`` chose."""
    from phasegate.flows.server import prefect_run_context

    with prefect_run_context():
        state = call()
    if not state.is_completed():
        raise PhasegateError(f"flow run ended {state.name}: {state.message}", code="flow.failed")
    return state.result(), state


@dataclass(frozen=True)
class Served:
    """The Prefect API whose deployments run this database's flows, and whether it is a team's server."""

    api: str
    team: bool

    @property
    def timeout(self) -> float:
        return _TEAM_API_TIMEOUT_SECONDS if self.team else _LOCAL_API_TIMEOUT_SECONDS


def served_api(settings: Settings) -> Served | str:
    """Where this database's flows are served, or why they are not (a phrase: the door runs the flow itself).

    A team's ``PREFECT_API_URL`` is trusted (its workers read the database from their own environment);
    the local server counts only while ``phasegate server start``'s serving process serves this database
    (``configure_prefect_env`` may have put the local server's URL in ``PREFECT_API_URL``: it stays local).
    Nothing here waits on the network: whether the server answers is learnt from the request itself.
    """
    from phasegate.flows.server import local_server_url, serving_ready

    named = (os.environ.get("PREFECT_API_URL") or "").rstrip("/")
    local = local_server_url(settings)  # None at once when phasegate's server is not running (no pid file)
    if named and named != local:
        return Served(named, team=True)
    if local is None:
        return "phasegate's Prefect server is not running"
    if not serving_ready(settings):
        return "no process serves this database's deployments"
    return Served(local, team=False)


def apply_decision_flow(round_id: str) -> dict[str, Any]:
    """Apply a resolved round through the gate-decision flow.

    Returns ``{"scheduled_flow_run", "flow_run_name", "round_id"}`` when a served deployment or a worker
    will run it; the flow's own result plus ``"ran_here"`` (why it ran in this process) when it ran here;
    ``{"deferred": reason, "round_id"}`` when a team's server did not answer (reconciliation applies it later).
    """
    settings = runtime().settings
    served = served_api(settings)
    if isinstance(served, Served):
        try:
            run = create_flow_run(
                served.api,
                DECISION_DEPLOYMENT,
                parameters={"round_id": round_id},
                name=round_run_name(round_id),
                timeout=served.timeout,
            )
            return {"scheduled_flow_run": run["id"], "flow_run_name": run["name"], "round_id": round_id}
        except PrefectApiError as err:
            if served.team and not err.missing:
                return {"deferred": str(err), "round_id": round_id}
            reason = f"the Prefect API did not take the flow run ({err})"
    else:
        reason = served
    # A server that is up but did not take the run is worth a warning; no server at all is the laptop's normal path.
    (logger.info if isinstance(served, str) else logger.warning)(
        "round %s: gate-decision runs in this process: %s", round_id, reason
    )
    prepare_prefect()
    from phasegate.flows.gate_decision import gate_decision_flow

    applied, _ = run_flow(lambda: gate_decision_flow(round_id, return_state=True))
    return dict(applied) | {"ran_here": reason}


def served_review(project_key: str, *, requested_by: str, meeting_at: str | None) -> dict[str, Any] | None:
    """Run a review as a flow run of the served ``gate-review`` deployment and wait for it to end.

    Returns ``{"flow_run_id", "flow_run_name", "state": {"type", "name", "message"}}`` (the state of a run that
    has not ended in time is its current one); None when no served deployment takes this database's reviews, or
    the server refused the run: the door then runs the review itself, so asking for one is never lost.
    ``requested_by`` is the requester sealed by the door (``Runtime.seal_actor``).
    """
    from phasegate.flows.run_names import review_run_name

    served = served_api(runtime().settings)
    if not isinstance(served, Served):
        return None
    parameters = {"project_key": project_key, "requested_by": requested_by, "meeting_at": meeting_at}
    try:
        run = create_flow_run(
            served.api,
            REVIEW_DEPLOYMENT,
            parameters=parameters,
            name=review_run_name(project_key),
            timeout=served.timeout,
        )
    except PrefectApiError as err:
        logger.warning("the review of %s runs in this process: the Prefect API did not take it (%s)", project_key, err)
        return None
    state = _await_end(served.api, str(run["id"]), seconds=_REVIEW_WAIT_SECONDS, timeout=served.timeout)
    return {"flow_run_id": run["id"], "flow_run_name": run["name"], "state": state}


def _await_end(api: str, flow_run_id: str, *, seconds: float, timeout: float) -> dict[str, Any]:
    """Poll a flow run until it ends or ``seconds`` pass; its last state (type, name, message)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            state = _request(api, "GET", f"/flow_runs/{flow_run_id}", timeout=timeout).get("state") or {}
        except PrefectApiError:
            state = {}
        if state.get("type") in TERMINAL_STATES or time.monotonic() > deadline:
            return {key: state.get(key) for key in ("type", "name", "message")}
        time.sleep(0.5)


def create_flow_run(
    api: str, deployment: str, *, parameters: dict[str, Any], name: str, timeout: float = _TEAM_API_TIMEOUT_SECONDS
) -> dict[str, Any]:
    """Create a flow run of ``flow-name/deployment-name`` through Prefect's REST API; returns the run as JSON.

    Two requests: the deployment by name, then ``POST /deployments/{id}/create_flow_run``. The run is
    created Scheduled for now, so the deployment's runner or worker picks it up on its next poll.
    """
    flow_name, deployment_name = deployment.split("/", 1)
    path = f"/deployments/name/{urllib.parse.quote(flow_name)}/{urllib.parse.quote(deployment_name)}"
    found = _request(api, "GET", path, timeout=timeout)
    # The key makes a retried POST (a busy server may have created the run before it failed to answer) return the
    # run it made instead of a second one; a new call is a new key, so a later reconciliation still gets its run.
    body = {"name": name, "parameters": parameters, "tags": ["phasegate"], "idempotency_key": str(uuid.uuid4())}
    return _request(api, "POST", f"/deployments/{found['id']}/create_flow_run", body, timeout=timeout)


def _request(api: str, method: str, path: str, body: dict[str, Any] | None = None, *, timeout: float) -> dict[str, Any]:
    """One request, asked again while the server says it is busy (HTTP 429, 502, 503: what Prefect's own client
    retries; a Prefect server on SQLite answers 503 while its database is locked by another writer), with a
    doubling pause or the server's ``Retry-After``, until ``timeout`` seconds have passed since the first try."""
    deadline = time.monotonic() + timeout
    pause = _FIRST_BUSY_PAUSE_SECONDS
    while True:
        try:
            return _send(api, method, path, body, timeout=timeout)
        except _BusyError as busy:
            wait = busy.retry_after if busy.retry_after is not None else pause
            if time.monotonic() + wait >= deadline:
                raise PrefectApiError(f"{method} {api}{path}: HTTP {busy.code}") from None
            time.sleep(wait)
            pause = min(pause * 2, _MOST_BUSY_PAUSE_SECONDS)


class _BusyError(Exception):
    """The server answered that it is busy: worth asking again."""

    def __init__(self, code: int, retry_after: float | None) -> None:
        super().__init__(code)
        self.code = code
        self.retry_after = retry_after


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds (its HTTP-date form is not used by Prefect and is ignored)."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _send(api: str, method: str, path: str, body: dict[str, Any] | None, *, timeout: float) -> dict[str, Any]:
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(f"{api}{path}", data=data, method=method, headers=_headers())
    try:
        with _opener(api).open(request, timeout=timeout) as response:
            answer: dict[str, Any] = json.loads(response.read())
            return answer
    except urllib.error.HTTPError as err:
        if err.code in _BUSY_CODES:
            raise _BusyError(err.code, _retry_after(err.headers.get("Retry-After"))) from None
        raise PrefectApiError(f"{method} {api}{path}: HTTP {err.code}", missing=err.code == 404) from None
    except TimeoutError:
        raise PrefectApiError(f"{method} {api}{path}: no answer within {timeout:g} s") from None
    except urllib.error.URLError as err:
        if isinstance(err.reason, TimeoutError):
            raise PrefectApiError(f"{method} {api}{path}: no answer within {timeout:g} s") from None
        raise PrefectApiError(f"{method} {api}{path}: {err}") from None
    except (OSError, ValueError) as err:
        raise PrefectApiError(f"{method} {api}{path}: {err}") from None


def _headers() -> dict[str, str]:
    """JSON, and the credentials Prefect's own client would send: an API key (Cloud) or a basic auth string."""
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if key := os.environ.get("PREFECT_API_KEY"):
        headers["Authorization"] = f"Bearer {key}"
    elif auth := os.environ.get("PREFECT_API_AUTH_STRING"):
        headers["Authorization"] = "Basic " + base64.b64encode(auth.encode("utf-8")).decode("ascii")
    return headers


def _opener(api: str) -> urllib.request.OpenerDirector:
    """A loopback server is reached directly; a team's server through whatever proxy the environment names."""
    host = urllib.parse.urlsplit(api).hostname or ""
    if host in ("127.0.0.1", "localhost", "::1"):
        return urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener()
