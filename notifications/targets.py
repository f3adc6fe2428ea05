"""Notification targets are Apprise URLs; they often carry secrets (passwords, webhook tokens, API keys).

Why this module exists: a target is typed by a person (so it must be checked with a clear message before it
is stored) and it is shown back in listings, logs and ``outbox.last_error`` (so its secrets must never be).
Apprise knows which parts of each service's URL are secret (``url(privacy=True)``); we rely on that and add
one more rule of our own: query values are hidden too, because Apprise leaves custom header values such as
``+X-Token=...`` in clear.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from phasegate.gates.vocabulary.errors import InputError

_MASK = "****"

# Query parameters whose values are Apprise's own delivery settings, never secrets: kept readable.
_SAFE_QUERY_KEYS = frozenset(
    {"method", "overflow", "retry", "wait", "optional", "cto", "rto", "verify", "format", "mode", "image"}
)

# Shortest raw URL fragment treated as a possible secret when scrubbing free text (shorter ones are hosts,
# ports and words like "json" that would mangle the message without protecting anything).
_MIN_SECRET_LEN = 4

IDEMPOTENCY_HEADER = "X-Idempotency-Key"

# Apprise services that accept custom headers as ``+Name=value``: the generic HTTP posts and SMTP mail.
_HEADER_SCHEMES = frozenset({"json", "jsons", "form", "forms", "xml", "xmls", "mailto", "mailtos"})

# Email services (SMTP and the mail APIs): they get HTML with a text part and carry attachments. Every other
# target (Slack, Teams, WeCom, DingTalk, Feishu, webhooks...) is a chat target and gets the short Markdown.
_EMAIL_SCHEMES = frozenset(
    {
        "mailto",
        "mailtos",
        "azure",
        "o365",
        "brevo",
        "mailersend",
        "mailgun",
        "postmark",
        "resend",
        "sendgrid",
        "sendpulse",
        "ses",
        "smtp2go",
        "sparkpost",
    }
)

# ``${NAME}`` placeholders in a target, filled from the environment at send time (Apprise's own name rule).
PLACEHOLDER = re.compile(r"\$\{(?P<name>[A-Za-z0-9_]{1,32})\}")


def validate_person_target(url: str) -> None:
    """``validate_target`` for a URL a person registers: ``${NAME}`` placeholders are refused too.

    Why: placeholders are filled from the dispatcher's environment, so a person's URL holding
    ``${PHASEGATE_SECRET_KEY}`` would have the server's key sent to a receiver of their choosing. Only the
    organisation's config file (``notifications.routing``) may use them.
    """
    if isinstance(url, str) and "${" in url:
        names = ", ".join(f"${{{name}}}" for name in placeholder_names(url)) or "${...}"
        raise InputError(
            f"--notify {redact_target(url)!r}: {names} placeholders are not allowed in a person's URL (they would be "
            "filled from the server's environment); put shared targets in PHASEGATE_NOTIFY_CONFIG instead"
        )
    validate_target(url)


def validate_target(url: str) -> None:
    """Raise InputError unless Apprise can load ``url`` as exactly one notification target."""
    shown = redact_target(url)
    if not isinstance(url, str) or not url.strip():
        raise InputError("notify url: must be a non-empty Apprise URL such as mailto://user:pass@example.com")
    if "://" not in url:
        raise InputError(f"notify url {shown!r}: not a URL; use an Apprise URL such as json://host/path")
    import apprise  # loads every plugin: only where a target is really parsed

    if apprise.Apprise.instantiate(url) is None or not apprise.Apprise().add(url):
        scheme = url.split("://", 1)[0]
        raise InputError(
            f"notify url {shown!r}: Apprise cannot use it (unknown scheme {scheme!r} or missing/invalid parts); "
            "see https://appriseit.com/services/ for the URL format of each service"
        )


def redact_target(url: str) -> str:
    """Return ``url`` safe to display: Apprise's privacy form when it parses, else a masked fallback."""
    if not isinstance(url, str):  # defensive: targets come from JSON and YAML, where anything can appear
        return _MASK  # type: ignore[unreachable]
    import apprise  # loads every plugin: only where a target is really parsed

    service = apprise.Apprise.instantiate(url) if "://" in url else None
    shown = str(service.url(privacy=True)) if service is not None else url  # type: ignore[no-untyped-call]
    return _mask_query_values(_mask_userinfo(shown))


def scrub_secrets(text: str, url: str) -> str:
    """Remove from ``text`` every fragment of ``url`` that the redacted form hides.

    Why: error messages come from Apprise plugins and from HTTP libraries, which sometimes echo the URL or a
    token; ``last_error`` is stored and shown, so it must not carry what ``redact_target`` hides.
    """
    shown = redact_target(url)
    candidates = {url}
    parts = urlsplit(url) if "://" in url else None
    if parts is not None:
        if parts.password:
            candidates.add(parts.password)
        candidates.update(value for _key, value in parse_qsl(parts.query, keep_blank_values=False))
    candidates.update(token for token in re.split(r"[/:@?&=+#]", url) if token and token not in shown)
    for secret in sorted(candidates, key=len, reverse=True):
        if len(secret) >= _MIN_SECRET_LEN:
            text = text.replace(secret, _MASK)
    return text


def with_idempotency_header(url: str, key: str) -> str:
    """Add ``+X-Idempotency-Key=<key>`` to targets that accept custom headers, so receivers can drop repeats.

    Other targets (mail APIs, chat services) get the key only in the message footer.
    """
    if scheme_of(url) not in _HEADER_SCHEMES:
        return url
    parts = urlsplit(url)
    header = f"+{IDEMPOTENCY_HEADER}={quote(key, safe='')}"
    query = f"{parts.query}&{header}" if parts.query else header
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def scheme_of(url: str) -> str:
    """The lower-cased scheme of an Apprise URL ('' when there is none)."""
    return url.split("://", 1)[0].lower() if isinstance(url, str) and "://" in url else ""


def is_email_target(url: str) -> bool:
    """Whether ``url`` is an email service (HTML + text part, attachments) rather than a chat target."""
    return scheme_of(url) in _EMAIL_SCHEMES


def placeholder_names(url: str) -> tuple[str, ...]:
    """The ``${NAME}`` placeholders in ``url``, in first-seen order, spelled as written."""
    return tuple(dict.fromkeys(match.group("name") for match in PLACEHOLDER.finditer(url)))


def _mask_userinfo(url: str) -> str:
    if "://" not in url:
        return _MASK
    scheme, rest = url.split("://", 1)
    netloc_end = min((i for i in (rest.find("/"), rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    netloc, tail = rest[:netloc_end], rest[netloc_end:]
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        if ":" in userinfo:
            user, password = userinfo.split(":", 1)
            if password and password != _MASK:
                netloc = f"{user}:{_MASK}@{host}"
    return f"{scheme}://{netloc}{tail}"


def _mask_query_values(url: str) -> str:
    base, sep, query = url.partition("?")
    if not sep:
        return url
    fragment = ""
    if "#" in query:
        query, fragment = query.split("#", 1)
        fragment = "#" + _MASK
    masked = []
    for pair in query.split("&"):
        key, eq, value = pair.partition("=")
        if eq and value and key.lower() not in _SAFE_QUERY_KEYS:
            value = _MASK
        masked.append(f"{key}{eq}{value}")
    return f"{base}?{'&'.join(masked)}{fragment}"
