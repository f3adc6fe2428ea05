"""Errors a user can cause. Each carries a dotted ``code``; entry points turn them into exit 2 or a 4xx.

A gate that fails its checks is a result, not an exception: these are for requests that cannot be served.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from phasegate.gates.vocabulary.events import DomainEvent


class PhasegateError(Exception):
    """Base of every expected error: the message is safe and complete enough to show as one line."""

    code = "phasegate.error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class InputError(PhasegateError):
    """Malformed or out-of-range input: names the field and what is allowed."""

    code = "input.invalid"


class NotFoundError(PhasegateError):
    code = "not_found"


class UnknownReferencesError(NotFoundError):
    """Well-formed rows that name what phasegate does not have (a project, a stage of its template, a role nobody
    holds, a person); ``problems`` holds one ``SOURCE:row N: column: message`` each."""

    code = "import.unknown_references"

    def __init__(self, message: str, problems: list[str]) -> None:
        super().__init__(message)
        self.problems = problems


class ConflictError(PhasegateError):
    """The request contradicts recorded state (duplicate vote, changed template version, closed round)."""

    code = "conflict"


class EvidenceChangedError(ConflictError):
    """A vote met newer evidence: the round was re-evaluated and committed, and the vote must be cast again.

    ``events`` are what that refresh committed (a review recorded, approvers asked again), so the composition
    root still reacts to them (dispatching the fresh requests) although the vote itself was refused.
    """

    code = "vote.evidence_changed"

    def __init__(self, message: str, *, events: tuple[DomainEvent, ...] = ()) -> None:
        super().__init__(message)
        self.events = events


class PermissionDeniedError(PhasegateError):
    """The actor may not do this (not an approver of the round, segregation of duties)."""

    code = "permission.denied"


class SecurityRefusedError(PermissionDeniedError):
    """A refused attempt that is also a security event (segregation of duties, delegation abuse)."""

    code = "security.refused"


class TemplateError(InputError):
    """A lifecycle template failed validation; ``problems`` holds one ``FILE:LINE:COL: message`` per issue."""

    code = "template.invalid"

    def __init__(self, message: str, problems: list[str]) -> None:
        super().__init__(message)
        self.problems = problems


class AuthorizationError(PermissionDeniedError):
    """The actor's roles or relationship to the project do not allow the act (``gates.authorization``).

    ``entity`` names what the act was on (``project:P1``, ``round:...``) for the audit entry of the refusal.
    """

    code = "auth.role"

    def __init__(self, message: str, *, code: str | None = None, entity: str | None = None) -> None:
        super().__init__(message, code=code)
        self.entity = entity


class RemoteError(PhasegateError):
    """The team server could not serve a command the CLI sent it (``phasegate login``): refused or unreachable.

    Why one type with several codes: the CLI turns every one into exit 2 with its line, and the code tells a
    script which it was: ``remote.unreachable``, ``remote.unauthorized`` (log in again), ``remote.forbidden``
    (the token's role), ``remote.refused`` (any other problem the server answered), ``remote.not_available``
    (a command the server has no operation for).
    """

    code = "remote.refused"

    def __init__(self, message: str, *, code: str | None = None, server_code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.server_code = server_code
        """The problem ``code`` the server answered with, when it answered one (e.g. ``signature.required``)."""


class SecretKeyError(PhasegateError):
    """No usable secret key: missing, too short, or in a key file others could read or replace.

    Entry points that sign approval links (``serve``, every flow, ``vote``, reminders, digests, dispatch) and
    every appender of a keyed audit chain refuse to run without one; the message says how to make one.
    """

    code = "secret_key.missing"


class AuditKeyError(PhasegateError):
    """The audit chain needs a key this process does not have, or an unkeyed entry would follow keyed ones."""

    code = "audit.key_required"


class ReportFontError(PhasegateError):
    """No font with Chinese glyphs for a report: the PDF would show empty boxes, so it is not made."""

    code = "report.font_missing"
