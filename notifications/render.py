"""Render one notification (title, chat Markdown, plain text, email HTML, attachments) per kind and locale.

Templates live next to this module: ``templates/<kind>.<locale>.md.j2`` sets the title with
``{% set title %}...{% endset %}`` and renders the Markdown body (what chat targets get: short, no tables);
``templates/<kind>.<locale>.html.j2`` renders the email's HTML part (it extends ``_layout.html.j2``). The
plain-text part is derived from the Markdown, so an email carries the same words twice, once per reader.

Context keys per kind (``?`` marks optional keys; a missing required key is an InputError naming it):

- approval_requested: project_key, project_name, gate_id, gate_name, gate_name_zh?, recommendation, round_id,
  approver_name, vote_command, approval_url (may be None), criteria, due_at?, on_behalf_of?, and for the
  attachments packet? (an evaluation dict, see ``notifications.packet``; attached as HTML) and
  review_meeting? ({starts_at (ISO, with offset), duration_minutes?, location?, sequence?}; attached as an
  .ics invitation, which then also needs requested_at (ISO): when the round was opened, the DTSTAMP).
- decision_made: project_key, project_name, gate_name, gate_name_zh?, decision, decided_by (list or text),
  reason, new_stage (may be None), new_stage_zh?, project_status.
- gate_not_ready: project_key, project_name, gate_name, gate_name_zh?, criteria, reasons?.
- reminder: project_key, project_name, gate_name, gate_name_zh?, round_id, approver_name, due_at (ISO),
  overdue (bool), vote_command, on_behalf_of?, approval_url?.
- escalation: the reminder keys plus escalation_level (int, 1 = first escalation) and recipient_name? (the
  person escalated to; the message then names ``approver_name`` as the one who has not decided).
- condition_due: project_key, project_name, condition, condition_zh?, owner, due_on, verification,
  gate_name?, gate_name_zh?.
- condition_missed: the condition_due keys plus proposal ("hold" or "kill": what the engine proposes).
- portfolio_report: period, period_start, period_end, projects, active, rag ({green, amber, red, unknown}),
  decisions, open_conditions, report_url?; the PDF comes in the context's attachments (to email targets).
- lesson_due: project_key, project_name, gate_name, gate_name_zh?, lesson_command (a killed project owes its
  lessons learned). approval_requested also takes lessons? ([{id, project_key, category, what_happened, repeat,
  avoid}]: the lessons learned the review shows, ``gates.relevance``).
- round_cancelled: project_key, project_name, gate_name, gate_name_zh?, round_id, reason (why the PMO cancelled).
- tolerance_exception: project_key, project_name, exception_id, dimension, scope ("*": the whole project),
  level, owner (may be empty), baseline, forecast, allowance, deviation, currency, decide_command.
- gate_evidence_warning: project_key, project_name, gate_name, gate_name_zh?, gate_date, working_days_left,
  criteria (as for gate_not_ready; the failing ones are listed).
- capacity_available: project_key, project_name, next_stage, next_stage_zh?, demand_hours, rank, resume_command
  (a project on hold whose next stage now fits the free capacity, ``resources.announce_capacity``).
- weekly_digest: person_name, items: [{project_key, project_name, gate_name, gate_name_zh?, round_id,
  waiting_days, due_at, approval_url (may be None)}], conditions: [{project_key, project_name, condition,
  condition_zh?, owner, due_on, verification}].

A criterion is {code, passed, message, message_zh?, remediation?, remediation_zh?, measured?, threshold?,
evidence_missing?}: the trace the gate evaluation recorded, so "not ready" says what is missing and the fix.

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

from phasegate.gates.vocabulary.enums import Locale
from phasegate.gates.vocabulary.errors import InputError

TEMPLATE_DIR = Path(__file__).parent / "templates"

KINDS: tuple[str, ...] = (
    "approval_requested",
    "reminder",
    "escalation",
    "decision_made",
    "gate_not_ready",
    "condition_due",
    "condition_missed",
    "weekly_digest",
    "round_cancelled",
    "portfolio_report",
    "tolerance_exception",
    "gate_evidence_warning",
    "lesson_due",
    "capacity_available",
)
LOCALES: tuple[str, ...] = tuple(locale.value for locale in Locale)
MISSED_CONDITION_PROPOSALS: tuple[str, ...] = ("hold", "kill")

# Display words for stored enum values, per locale. Unknown values fall back to the raw value.
# RECYCLE is 返工 (rework the stage and come back to the same gate): 回退 in Chinese approval tools means
# sending a request back to an earlier approval step, which is a different act.
LABELS: dict[str, dict[str, str]] = {
    "en": {
        "go": "Go",
        "conditional_go": "Conditional go",
        "not_ready": "Not ready",
        "recycle": "Recycle",
        "hold": "Hold",
        "kill": "Kill",
        "active": "Active",
        "on_hold": "On hold",
        "killed": "Killed",
        "completed": "Completed",
        "passed": "PASS",
        "failed": "FAIL",
        "missing": "MISSING",
        "must_meet": "must meet",
        "should_meet": "should meet",
        "abstain": "Abstain",
        "recuse": "Recuse",
        "time": "Time",
        "cost": "Cost",
        "scope": "Scope",
        "quality": "Quality",
        "risk": "Risk",
        "benefits": "Benefits",
        "corporate": "Corporate / portfolio",
        "project_board": "Project board",
        "project_manager": "Project manager",
    },
    "zh-CN": {
        "go": "通过",
        "conditional_go": "有条件通过",
        "not_ready": "未就绪",
        "recycle": "返工",
        "hold": "暂停",
        "kill": "终止",
        "active": "进行中",
        "on_hold": "已暂停",
        "killed": "已终止",
        "completed": "已完成",
        "passed": "满足",
        "failed": "不满足",
        "missing": "缺少证据",
        "must_meet": "必须满足",
        "should_meet": "应当满足",
        "abstain": "弃权",
        "recuse": "回避",
        "time": "进度",
        "cost": "成本",
        "scope": "范围",
        "quality": "质量",
        "risk": "风险",
        "benefits": "收益",
        "corporate": "公司/项目组合层",
        "project_board": "项目委员会",
        "project_manager": "项目经理",
    },
}

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
    """Values a template cannot judge by itself: a missed condition proposes only HOLD or KILL."""
    if kind == "condition_missed" and "proposal" in context:
        proposal = context["proposal"]
        if proposal not in MISSED_CONDITION_PROPOSALS:
            raise InputError(
                f"notification context for condition_missed: proposal {proposal!r} is not allowed; "
                f"allowed: {', '.join(MISSED_CONDITION_PROPOSALS)}"
            )
    if kind == "escalation" and "escalation_level" in context:
        level = context["escalation_level"]
        if isinstance(level, bool) or not isinstance(level, int) or level < 1:
            raise InputError(
                f"notification context for escalation: escalation_level must be an integer >= 1, got {level!r}"
            )


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
    labels = LABELS[locale]
    made.filters["label"] = lambda value: labels.get(str(value), str(value))
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
