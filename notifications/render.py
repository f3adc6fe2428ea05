"""Render one notification (title, chat Markdown, plain text, email HTML, attachments) per kind and locale.

Templates live next to this module: ``templates/<kind>.<locale>.md.j2`` sets the title with
``{% set title %}...{% endset %}`` and renders the Markdown body (what chat targets get: short, no tables);
``templates/<kind>.<locale>.html.j2`` renders the email's HTML part (it extends ``_layout.html.j2``). The
plain-text part is derived from the Markdown, so an email carries the same words twice, once per reader.

What each kind says is a typed payload (``gates.vocabulary.notices``: one model per kind, nested criteria, lessons and
digest lines typed too). ``render`` validates the stored context against its kind's model first, so a row
written by an older or a buggy producer is a clear InputError naming the field, not a half-rendered message.
A criterion line is the trace the gate evaluation recorded, so "not ready" says what is missing and the fix.

Why the care with values: contexts carry text people typed (project names, vote reasons, criterion
messages). The environments are sandboxed and immutable, values are data and are never compiled as
templates. In Markdown every ``{{ value }}`` passes through ``finalize``, which backslash-escapes Markdown's
active characters: a project called ``[pay here](http://evil)`` shows as text, not as a link. Template-made
markup (code spans, autolinks) is marked safe with ``Markup`` by the ``code`` and ``link`` filters. The
plain-text body is the Markdown with the template's markup removed and the escapes undone, so it shows the
user's characters exactly. HTML templates get Jinja's autoescape; their ``link`` filter writes the URL both
as the ``href`` and as the visible text, so a reader whose client strips links can still copy it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, TemplateNotFound, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup, escape
from pydantic import ValidationError

from phasegate.gates.vocabulary import terms
from phasegate.gates.vocabulary.enums import Locale
from phasegate.gates.vocabulary.errors import InputError
from phasegate.gates.vocabulary.notices import NOTICES
from phasegate.gates.vocabulary.text import Catalog, Text

TEMPLATE_DIR = Path(__file__).parent / "templates"

KINDS: tuple[str, ...] = tuple(NOTICES)
LOCALES: tuple[str, ...] = tuple(locale.value for locale in Locale)

# Display words for stored enum values (the ``label`` filter). Unknown values fall back to the raw value.
LABELS = Catalog(
    "notification enum words",
    {
        "go": terms.GO,
        "conditional_go": terms.CONDITIONAL_GO,
        "not_ready": terms.NOT_READY,
        "recycle": terms.RECYCLE,
        "hold": terms.HOLD,
        "kill": terms.KILL,
        "active": terms.ACTIVE,
        "on_hold": Text("On hold", "已暂停"),
        "killed": terms.KILLED,
        "completed": terms.COMPLETED,
        "passed": Text("PASS", "满足"),
        "failed": Text("FAIL", "不满足"),
        "missing": Text("MISSING", "缺少证据"),
        "must_meet": terms.MUST_MEET,
        "should_meet": terms.SHOULD_MEET,
        "abstain": terms.ABSTAIN,
        "recuse": terms.RECUSE,
        "time": terms.TIME,
        "cost": terms.COST,
        "scope": terms.SCOPE,
        "quality": terms.QUALITY,
        "risk": terms.RISK,
        "benefits": terms.BENEFITS,
        "corporate": Text("Corporate / portfolio", "公司/项目组合层"),
        "project_board": terms.PROJECT_BOARD,
        "project_manager": terms.PROJECT_MANAGER,
    },
)

# Characters that start Markdown constructs inline; escaping them keeps user text literal.
_MD_ACTIVE = re.compile(r"([\\`*_\[\]<>|&~])")
_LINE_BREAKS = re.compile(r"\s*[\r\n]+\s*")
_BOLD = re.compile(r"(?<!\\)(\*\*|__)")
_AUTOLINK = re.compile(r"(?<!\\)<((?:https?|mailto):[^\s<>]*)>")
_CODE_SPAN = re.compile(r"(?<![\\`])(`+)(?!`)(.*?)(?<!`)\1(?!`)")
_ESCAPE = re.compile(r"\\([\\`*_\[\]<>|&~])")
_HTTP_URL = re.compile(r"https?://[^\s<>\"']+")


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file to send with an email: name as the reader sees it, MIME type, and the bytes."""

    filename: str
    media_type: str
    content: bytes


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    title: str
    body_markdown: str
    body_text: str
    body_html: str
    attachments: tuple[Attachment, ...] = ()


def render(kind: str, locale: str, context: dict[str, Any]) -> RenderedMessage:
    """Render ``kind`` in ``locale``; InputError for an unknown kind/locale or a context missing a key."""
    if kind not in KINDS:
        raise InputError(f"notification kind {kind!r} is not known; allowed: {', '.join(KINDS)}")
    if locale not in LOCALES:
        raise InputError(f"notification locale {locale!r} is not supported; allowed: {', '.join(LOCALES)}")
    if not isinstance(context, dict):
        raise InputError(f"notification context for {kind}: must be a JSON object, got {type(context).__name__}")
    _check_values(kind, context)
    name = f"{kind}.{locale}.md.j2"
    try:
        module = _environment(locale, html=False).get_template(name).make_module(dict(context))
        title = _one_line(str(getattr(module, "title", "")))
        body = _tidy(str(module))
        if not title:
            raise InputError(f"notification template {name!r} sets no title")
        plain_title = _to_text(title)
        name = f"{kind}.{locale}.html.j2"
        html_context = {**context, "message_title": plain_title, "message_locale": locale}
        html = _environment(locale, html=True).get_template(name).render(html_context)
    except TemplateNotFound:
        raise InputError(f"notification template {name!r} is missing from {TEMPLATE_DIR}") from None
    except UndefinedError as exc:
        raise InputError(f"notification context for {kind}/{locale}: {exc.message}") from exc
    return RenderedMessage(
        title=plain_title,
        body_markdown=body,
        body_text=_to_text(body),
        body_html=html.strip() + "\n",
        attachments=_attachments(kind, locale, context),
    )


def resolve_locale(preferred: str | None) -> str:
    """The supported locale for a person's stored preference: any Chinese tag is zh-CN, anything else en.

    People's profiles say ``zh``, ``zh_CN``, ``zh-Hans`` or ``zh-CN``; all of them read Simplified Chinese.
    """
    tag = (preferred or "").strip().replace("_", "-").lower()
    if tag == "zh" or tag.startswith(("zh-cn", "zh-hans", "zh-sg")):
        return Locale.ZH_CN.value
    return Locale.EN.value


def escape_markdown(value: object) -> str:
    """Make ``value`` literal inline Markdown: escape active characters, fold line breaks into spaces."""
    if isinstance(value, Markup):
        return str(value)
    text = "" if value is None else str(value)
    return _MD_ACTIVE.sub(r"\\\1", _LINE_BREAKS.sub(" ", text))


def code_span(value: object) -> Markup:
    """A Markdown code span holding ``value`` verbatim (fence longer than any backtick run inside)."""
    text = _LINE_BREAKS.sub(" ", "" if value is None else str(value))
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if not text or text.startswith("`") or text.endswith("`") else ""
    return Markup(f"{fence}{pad}{text}{pad}{fence}")


def autolink(value: object) -> Markup:
    """An autolink for an http(s) URL; anything else is shown as escaped text, never as a link."""
    text = "" if value is None else str(value).strip()
    if _HTTP_URL.fullmatch(text):
        return Markup(f"<{text}>")
    return Markup(escape_markdown(text))


def html_link(value: object) -> Markup:
    """An anchor whose visible text is the URL itself; a non-http(s) value is plain escaped text."""
    text = "" if value is None else str(value).strip()
    if _HTTP_URL.fullmatch(text):
        return Markup('<a href="{0}">{0}</a>').format(text)
    return escape(text)


def html_code(value: object) -> Markup:
    return Markup("<code>{0}</code>").format("" if value is None else str(value))


def format_when(value: object) -> str:
    """An ISO date-time as ``YYYY-MM-DD HH:MM UTC`` (people compare it with their calendar); dates unchanged.

    A value that is not ISO is shown as given: a reminder with an odd date still goes out.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        return value.isoformat()
    else:
        text = "" if value is None else str(value).strip()
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return text
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return text
    if moment.tzinfo is None:
        return moment.strftime("%Y-%m-%d %H:%M")
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _check_values(kind: str, context: Mapping[str, Any]) -> None:
    """The context must be a valid payload of its kind (``gates.vocabulary.notices``); InputError names the field."""
    try:
        NOTICES[kind].model_validate(context)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'context'}: {error['msg']}" for error in exc.errors()
        )
        raise InputError(f"notification context for {kind}: {problems}") from None


def _attachments(kind: str, locale: str, context: Mapping[str, Any]) -> tuple[Attachment, ...]:
    """The approval request carries the gate packet and, when a review meeting is set, an .ics invitation."""
    if kind != "approval_requested":
        return ()
    # Imported here: packet and ics import this module's filters and labels.
    from phasegate.notifications.ics import meeting_from_context
    from phasegate.notifications.packet import render_packet

    found: list[Attachment] = []
    packet = context.get("packet")
    if packet is not None:
        safe_key = re.sub(r"[^A-Za-z0-9_.-]+", "-", str(context["project_key"])).strip("-") or "project"
        safe_gate = re.sub(r"[^A-Za-z0-9_.-]+", "-", str(context["gate_id"])).strip("-") or "gate"
        found.append(
            Attachment(
                filename=f"gate-packet-{safe_key}-{safe_gate}.html",
                media_type="text/html; charset=utf-8",
                content=render_packet(packet, locale).encode("utf-8"),
            )
        )
    if context.get("review_meeting") is not None:
        found.append(
            Attachment(
                filename="gate-review.ics",
                media_type="text/calendar; charset=utf-8; method=PUBLISH",
                content=meeting_from_context(context, locale).encode("utf-8"),
            )
        )
    return tuple(found)


def environment(locale: str, *, html: bool) -> ImmutableSandboxedEnvironment:
    """The shared environment for ``locale``: Markdown (escaping finalize) or HTML (autoescape)."""
    return _environment(locale, html=html)


def _environment(locale: str, *, html: bool) -> ImmutableSandboxedEnvironment:
    key = (locale, html)
    found = _ENVIRONMENTS.get(key)
    if found is not None:
        return found
    finalize: Callable[[object], object] = _html_finalize if html else escape_markdown
    made = ImmutableSandboxedEnvironment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        undefined=StrictUndefined,
        autoescape=html,
        finalize=finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    made.filters["label"] = lambda value: LABELS.get(str(value), locale) or str(value)
    made.filters["code"] = html_code if html else code_span
    made.filters["link"] = html_link if html else autolink
    made.filters["when"] = format_when
    _ENVIRONMENTS[key] = made
    return made


_ENVIRONMENTS: dict[tuple[str, bool], ImmutableSandboxedEnvironment] = {}


def _html_finalize(value: object) -> object:
    return "" if value is None else value


def _one_line(text: str) -> str:
    return _LINE_BREAKS.sub(" ", text).strip()


def _tidy(body: str) -> str:
    lines = [line.rstrip() for line in body.strip().splitlines()]
    tidy: list[str] = []
    for line in lines:
        if line or (tidy and tidy[-1]):
            tidy.append(line)
    return "\n".join(tidy).strip() + "\n"


def _to_text(markdown: str) -> str:
    """Strip the markup our templates make (bold, code spans, autolinks) and undo value escapes."""
    pieces: list[str] = []
    position = 0
    # Code spans hold verbatim text: take them out whole before touching escapes elsewhere.
    for match in _CODE_SPAN.finditer(markdown):
        pieces.append(_plain(markdown[position : match.start()]))
        content = match.group(2)
        if len(content) >= 2 and content.startswith(" ") and content.endswith(" "):
            content = content[1:-1]
        pieces.append(content)
        position = match.end()
    pieces.append(_plain(markdown[position:]))
    return "".join(pieces)


def _plain(fragment: str) -> str:
    fragment = _AUTOLINK.sub(r"\1", fragment)
    fragment = _BOLD.sub("", fragment)
    return _ESCAPE.sub(r"\1", fragment)
