"""Render one notification (title + Markdown body + plain-text body) from Jinja2 templates, per locale.

Templates live next to this module as ``templates/<kind>.<locale>.md.j2``. Each sets ``title`` with
``{% set title %}...{% endset %}`` and renders the Markdown body as its output, so one file holds all the
wording a translator touches.

Why the care with values: contexts carry text people typed (project names, vote reasons, criterion
messages). The environment is sandboxed and immutable, values are data and are never compiled as templates,
and every ``{{ value }}`` in a Markdown template passes through ``finalize``, which backslash-escapes
Markdown's active characters: a project called ``[pay here](http://evil)`` shows as text, not as a link.
Template-made markup (code spans, autolinks) is marked safe with ``Markup`` by the ``code`` and ``link``
filters. The plain-text body is the Markdown with the template's markup removed and the escapes undone, so
it shows the user's characters exactly. HTML templates (``*.html.j2``), if added, get Jinja's autoescape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, TemplateNotFound, UndefinedError, select_autoescape
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from models.enums import Locale
from models.errors import InputError

TEMPLATE_DIR = Path(__file__).parent / "templates"

KINDS: tuple[str, ...] = ("approval_requested", "decision_made", "gate_not_ready")
LOCALES: tuple[str, ...] = tuple(locale.value for locale in Locale)

# Display words for stored enum values, per locale. Unknown values fall back to the raw value.
_LABELS: dict[str, dict[str, str]] = {
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
    },
    "zh-CN": {
        "go": "通过",
        "conditional_go": "有条件通过",
        "not_ready": "未就绪",
        "recycle": "退回重做",
        "hold": "暂缓",
        "kill": "终止",
        "active": "进行中",
        "on_hold": "已暂停",
        "killed": "已终止",
        "completed": "已完成",
        "passed": "满足",
        "failed": "不满足",
    },
}

# Characters that start Markdown constructs inline; escaping them keeps user text literal.
_MD_ACTIVE = re.compile(r"([\\`*_\[\]<>|&~])")
_LINE_BREAKS = re.compile(r"\s*[\r\n]+\s*")
_BOLD = re.compile(r"(?<!\\)(\*\*|__)")
_AUTOLINK = re.compile(r"(?<!\\)<((?:https?|mailto):[^\s<>]*)>")
_CODE_SPAN = re.compile(r"(?<![\\`])(`+)(?!`)(.*?)(?<!`)\1(?!`)")
_ESCAPE = re.compile(r"\\([\\`*_\[\]<>|&~])")


@dataclass(frozen=True, slots=True)
class RenderedMessage:
    title: str
    body_markdown: str
    body_text: str


def render(kind: str, locale: str, context: dict[str, Any]) -> RenderedMessage:
    """Render ``kind`` in ``locale``; InputError for an unknown kind/locale or a context missing a key."""
    if kind not in KINDS:
        raise InputError(f"notification kind {kind!r} is not known; allowed: {', '.join(KINDS)}")
    if locale not in LOCALES:
        raise InputError(f"notification locale {locale!r} is not supported; allowed: {', '.join(LOCALES)}")
    if not isinstance(context, dict):
        raise InputError(f"notification context for {kind}: must be a JSON object, got {type(context).__name__}")
    name = f"{kind}.{locale}.md.j2"
    try:
        template = _environment(locale).get_template(name)
        module = template.make_module(dict(context))
        title = _one_line(str(getattr(module, "title", "")))
        body = _tidy(str(module))
    except TemplateNotFound:
        raise InputError(f"notification template {name!r} is missing from {TEMPLATE_DIR}") from None
    except UndefinedError as exc:
        raise InputError(f"notification context for {kind}/{locale}: {exc.message}") from exc
    if not title:
        raise InputError(f"notification template {name!r} sets no title")
    return RenderedMessage(title=_to_text(title), body_markdown=body, body_text=_to_text(body))


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
    if re.fullmatch(r"https?://[^\s<>]+", text):
        return Markup(f"<{text}>")
    return Markup(escape_markdown(text))


def _environment(locale: str) -> ImmutableSandboxedEnvironment:
    environment = _ENVIRONMENTS.get(locale)
    if environment is None:
        environment = ImmutableSandboxedEnvironment(
            loader=FileSystemLoader(TEMPLATE_DIR),
            undefined=StrictUndefined,
            autoescape=select_autoescape(enabled_extensions=("html", "html.j2", "htm"), default=False),
            finalize=escape_markdown,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        labels = _LABELS[locale]
        environment.filters["label"] = lambda value: labels.get(str(value), str(value))
        environment.filters["code"] = code_span
        environment.filters["link"] = autolink
        _ENVIRONMENTS[locale] = environment
    return environment


_ENVIRONMENTS: dict[str, ImmutableSandboxedEnvironment] = {}


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
