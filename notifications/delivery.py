"""Send one outbox row through Apprise: render it, load its target, attach, classify the result.

Why apart from ``notifications.dispatch``: Apprise loads every plugin when imported (about 0.1-0.2 s), and
the dispatcher runs at the end of each gate review and decision; most of those runs find nothing due, so
this module is imported only once there is a row to send.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import apprise
from apprise import NotifyFormat
from apprise.result import AppriseResult, AppriseResultStatus
from markupsafe import escape

from phasegate.gates.vocabulary.enums import OutboxStatus
from phasegate.gates.vocabulary.errors import InputError
from phasegate.gates.vocabulary.text import Text
from phasegate.notifications.email import attachments_from_context, rendered_attachments, write_attachments
from phasegate.notifications.links import LinkSigner, has_link_requests, sign_links
from phasegate.notifications.render import RenderedMessage, code_span, render
from phasegate.notifications.routing import single_target_config
from phasegate.notifications.targets import (
    is_email_target,
    placeholder_names,
    redact_target,
    scrub_secrets,
    with_idempotency_header,
)

logger = logging.getLogger(__name__)

MAX_ERROR_CHARS = 2000


class OutboxRow(Protocol):
    """What a send needs of a claimed outbox row."""

    @property
    def idempotency_key(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def locale(self) -> str: ...
    @property
    def context(self) -> dict[str, Any]: ...
    @property
    def recipient_id(self) -> str | None: ...


_FOOTER_LABEL = Text("Message reference", "消息编号")
_WARNING_LEVELS = frozenset({"WARNING", "ERROR", "CRITICAL"})


@dataclass(frozen=True, slots=True)
class Delivery:
    """How one send ended: the status to record and the error to show (secrets scrubbed, clipped)."""

    status: OutboxStatus
    error: str | None


def message_body(rendered: RenderedMessage, idempotency_key: str, locale: str) -> str:
    """The Markdown body sent for a row: the rendered message plus a footer naming its idempotency key."""
    label = _FOOTER_LABEL.in_locale(locale)
    return f"{rendered.body_markdown.rstrip()}\n\n---\n\n{label}: {code_span(idempotency_key)}\n"


def message_html(body_html: str, idempotency_key: str, locale: str) -> str:
    """The HTML body sent to email targets: the rendered HTML plus the same idempotency footer."""
    label = _FOOTER_LABEL.in_locale(locale)
    footer = f'<hr>\n<p style="color:#666;font-size:12px">{escape(label)}: <code>{escape(idempotency_key)}</code></p>'
    closing = body_html.lower().rfind("</body>")
    if closing >= 0:
        return f"{body_html[:closing]}{footer}\n{body_html[closing:]}"
    return f"{body_html.rstrip()}\n{footer}\n"


def deliver(row: OutboxRow, send_timeout_seconds: float, *, links: LinkSigner | None = None) -> Delivery:
    """Render and send one row; every failure becomes a ``Delivery``, never an exception.

    Approval links are signed here, from the link requests the row stores (``notifications.links``), so the
    token exists only in the message on its way out. ``${NAME}`` placeholders are filled only for the
    organisation's configured targets (``PHASEGATE_NOTIFY_CONFIG``), never for a person's own URL: a person
    could otherwise have any environment variable of the dispatcher, its secret key included, sent to them.
    """
    if has_link_requests(row.context) and links is None:
        return Delivery(
            OutboxStatus.FAILED, "approval link cannot be signed: this dispatcher has no PHASEGATE_SECRET_KEY"
        )
    try:
        context = sign_links(row.context, links) if links is not None else row.context
        rendered = render(row.kind, row.locale, context)
    except InputError as exc:
        # A message that cannot be rendered will not render on retry either.
        return Delivery(OutboxStatus.DEAD, f"render failed: {exc.message}")
    names = placeholder_names(row.target) if row.recipient_id is None else ()
    if row.recipient_id is not None and placeholder_names(row.target):
        return Delivery(
            OutboxStatus.DEAD,
            f"target {redact_target(row.target)} of a person holds a ${{NAME}} placeholder; only the "
            "organisation's notify config (PHASEGATE_NOTIFY_CONFIG) may use them",
        )
    missing = [name for name in names if not os.environ.get(name, "").strip()]
    if missing:
        # The operator may still export it; retry with backoff, dead-letter after max_attempts.
        return Delivery(
            OutboxStatus.FAILED,
            f"environment variable {', '.join(missing)} is not set; target {redact_target(row.target)} needs it",
        )
    secrets = {name: os.environ[name].strip() for name in names}
    notifier = _notifier(row, secrets)
    if notifier is None:
        return Delivery(OutboxStatus.DEAD, f"target {redact_target(row.target)} cannot be parsed by Apprise")
    email = is_email_target(row.target)
    try:
        attachments = rendered_attachments(rendered) + attachments_from_context(context) if email else []
    except InputError as exc:
        return Delivery(OutboxStatus.DEAD, f"attachments unusable: {exc.message}")
    body, body_format = _body(rendered, row, email=email)
    try:
        with tempfile.TemporaryDirectory(prefix="phasegate-attach-") as directory:
            result = notifier.notify(
                body=body,
                title=rendered.title,
                body_format=body_format,
                attach=write_attachments(attachments, Path(directory)) or None,
                timeout=send_timeout_seconds,
                log_level=logging.WARNING,
                template=secrets or None,
            )
    except Exception as exc:  # a plugin bug must not stop the batch or lose the row
        error = _scrub(f"{type(exc).__name__}: {exc}", row.target, secrets)
        return Delivery(OutboxStatus.FAILED, _clip(error))
    with result:
        return _classify(result, row.target, secrets)


def _notifier(row: OutboxRow, secrets: dict[str, str]) -> apprise.Apprise | None:
    """An Apprise object holding exactly this row's target, or None when Apprise cannot load it.

    A target with ``${NAME}`` placeholders is loaded as a one-entry YAML config, so Apprise fills the secrets
    into the parsed fields at send time; the secret is never part of a URL string we build or store.
    """
    url = with_idempotency_header(row.target, row.idempotency_key)
    notifier = apprise.Apprise()
    try:
        if secrets:
            config = apprise.AppriseConfig()
            if not config.add_config(single_target_config(url), format="yaml"):
                return None
            notifier.add(config)
            return notifier if len(list(notifier.find(template=secrets))) == 1 else None
        if notifier.add(url):
            return notifier
    except Exception as exc:  # Apprise plugins may raise on odd input; the row must still be recorded.
        logger.debug("apprise could not load %s: %r", redact_target(row.target), exc)
    return None


def _body(rendered: RenderedMessage, row: OutboxRow, *, email: bool) -> tuple[str, NotifyFormat]:
    """Email: the HTML rendering (Apprise derives the text part from it); chat: the short Markdown.

    Until the renderer provides ``body_html``, email gets the Markdown and Apprise converts it to HTML; the
    templates write links as autolinks, so the link text is the URL itself and survives plain-text readers.
    """
    html = getattr(rendered, "body_html", None)
    if email and isinstance(html, str) and html.strip():
        return message_html(html, row.idempotency_key, row.locale), NotifyFormat.HTML
    return message_body(rendered, row.idempotency_key, row.locale), NotifyFormat.MARKDOWN


def _scrub(text: str, target: str, secrets: dict[str, str]) -> str:
    text = scrub_secrets(text, target)
    for value in sorted(secrets.values(), key=len, reverse=True):
        if value:
            text = text.replace(value, "****")
    return text


def _classify(result: AppriseResult, target: str, secrets: dict[str, str]) -> Delivery:
    if result.status == AppriseResultStatus.SUCCESS:
        return Delivery(OutboxStatus.SENT, None)
    warnings = [entry.message for entry in result.logs() if entry.level in _WARNING_LEVELS]
    text = "; ".join(dict.fromkeys(warnings)) or f"Apprise reported {result.status.name} without a message"
    if result.status == AppriseResultStatus.TIMEOUT:
        text = f"timed out waiting for the receiver; delivery unknown: {text}"
        return Delivery(OutboxStatus.MAYBE_SENT, _clip(_scrub(text, target, secrets)))
    return Delivery(OutboxStatus.FAILED, _clip(_scrub(text, target, secrets)))


def _clip(text: str) -> str:
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"
