"""Talking to a phasegate server's REST API with a personal token, and turning its answers into CLI outcomes.

Every problem document (RFC 9457) the server answers becomes a ``RemoteError`` carrying its ``detail`` line,
which the CLI prints and exits 2 with, exactly as a local command does for the same mistake. 401 and 403 add
what to do next (log in again; ask for a token with another role). ``--as PERSON`` travels as the
``X-Phasegate-Act-As`` header on every request, so the server, which alone keeps the audit log, refuses and
audits a claim to act as anyone but the token's person. A server that cannot be reached is exit 2
with the address tried; nothing falls back to a local database.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from phasegate.flows.cli.remote.credentials import Login
from phasegate.gates.vocabulary.errors import RemoteError

API = "/api/v1"
# A deciding vote or a review may run a flow on the server before it answers (in the server's own process, with
# a temporary Prefect server, when no Prefect server serves its database): on a busy host that took over 30 s,
# and the laptop then said "did not answer" about a vote the server had recorded. A server that is down still
# fails at once (connect).
TIMEOUT = httpx.Timeout(120.0, connect=5.0)
PAGE = 200
ACT_AS = "X-Phasegate-Act-As"
"""Sent with ``--as PERSON``: the server refuses anyone but the token's person, and audits the refusal."""


class Server:
    """One server and the token presented to it; a thin layer over ``httpx.Client``."""

    def __init__(self, login: Login, *, act_as: str | None = None) -> None:
        self.login = login
        self.status = 0
        """The HTTP status of the last answer (201 created, 200 already there)."""
        claim = {ACT_AS: act_as} if act_as is not None else {}
        self.client = httpx.Client(
            base_url=login.url + API,
            headers={"Authorization": f"Bearer {login.token}", "Accept": "application/json"} | claim,
            timeout=TIMEOUT,
            follow_redirects=False,
        )

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *_: object) -> None:
        self.client.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """The JSON the server answered with; a ``RemoteError`` for anything but a 2xx."""
        try:
            response = self.client.request(
                method,
                path,
                params={k: v for k, v in (params or {}).items() if v is not None},
                json=body,
                headers=dict(headers or {}),
            )
        except httpx.TimeoutException:
            raise RemoteError(
                f"the server at {self.login.url} did not answer in time; try again, or ask your PMO whether it is up",
                code="remote.unreachable",
            ) from None
        except httpx.TransportError as err:
            raise RemoteError(
                f"cannot reach the server at {self.login.url} ({err.__class__.__name__}: {err}); "
                "check the address and your network",
                code="remote.unreachable",
            ) from None
        self.status = response.status_code
        if response.is_success:
            try:
                return response.json() if response.content else None
            except ValueError:
                raise RemoteError(
                    f"{self.login.url} answered {method} {API}{path} with something that is not JSON: it does not "
                    "look like a phasegate server (a proxy's sign-in page?); check the address",
                    code="remote.not_phasegate",
                ) from None
        raise refusal(self.login, method, path, response)

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, params=params)

    def pages(self, path: str, **params: Any) -> Iterator[Any]:
        """Every item of a paged list (``items``/``total``), fetched ``PAGE`` at a time."""
        offset = 0
        while True:
            page = self.get(path, limit=PAGE, offset=offset, **params)
            yield from page["items"]
            offset += len(page["items"])
            if not page["items"] or offset >= page["total"]:
                return

    def me(self) -> dict[str, Any]:
        """Who the token belongs to (``GET /api/v1/me``)."""
        found = self.get("/me")
        if not isinstance(found, dict) or not {"person_id", "role", "method"} <= found.keys():
            raise RemoteError(
                f"{self.login.url} answered GET {API}/me without saying whose token this is: it does not look like "
                "a phasegate server of this version; check the address",
                code="remote.not_phasegate",
            )
        return found


def refusal(login: Login, method: str, path: str, response: httpx.Response) -> RemoteError:
    """The one line a refused request becomes, with the problem's ``detail`` when the server sent one."""
    detail = _detail(response)
    server_code = _problem_code(response)
    if response.status_code == 401:
        return RemoteError(
            f"the server at {login.url} refused the token ({detail}); get a new token from your PMO "
            f"('phasegate token create' on the server), then run 'phasegate login {login.url}'",
            code="remote.unauthorized",
        )
    if response.status_code == 403 and server_code == "auth.act_for":  # --as someone else: the server's line
        return RemoteError(detail, code="remote.refused", server_code=server_code)
    if response.status_code == 403 and (server_code or "auth.").startswith("auth."):  # the token's role or person
        return RemoteError(
            f"{detail} (server {login.url}); ask your PMO for a token with a role that may, "
            f"then run 'phasegate login {login.url}' with it",
            code="remote.forbidden",
        )
    if response.status_code == 404 and not response.headers.get("content-type", "").startswith(
        "application/problem+json"
    ):
        return RemoteError(
            f"{login.url} answered 404 to {method} {API}{path}: it does not look like a phasegate server "
            "of this version; check the address",
            code="remote.not_phasegate",
        )
    if response.is_redirect:
        return RemoteError(
            f"{login.url} redirects {method} {API}{path} to {response.headers.get('location', '?')}; "
            "log in with the address it redirects to",
            code="remote.redirected",
        )
    if response.status_code >= 500:
        return RemoteError(
            f"the server at {login.url} failed ({response.status_code}: {detail}); ask your PMO to check its log",
            code="remote.server_error",
        )
    return RemoteError(detail, code="remote.refused", server_code=server_code)


def _problem_code(response: httpx.Response) -> str | None:
    try:
        data = response.json()
    except ValueError:
        return None
    return str(data["code"]) if isinstance(data, dict) and isinstance(data.get("code"), str) else None


def _detail(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("detail"), str):
        return str(data["detail"])
    return f"HTTP {response.status_code} {response.reason_phrase}".strip()
