"""Where an organisation's notifications go: an Apprise YAML config file whose entries carry tags.

Why Apprise's own YAML format: a PMO that already keeps an Apprise config (for Slack, Teams, WeCom, DingTalk,
Feishu, shared mailboxes) uses it as is, and the Apprise documentation is the documentation of this file::

    version: 1
    urls:
      - mailtos://pmo:${SMTP_PASSWORD}@mail.example.com?to=pmo@example.com:
          - tag: pmo, finance
      - slack://T1JJ3T3L2/A1BRTD4JD/${SLACK_TOKEN}:
          - tag: sponsor, project:ERP-7

Tags name audiences (``sponsor``, ``pmo``, ``finance``, one ``project:KEY`` tag per project). A notification
asks for tags with Apprise's own logic: the items of a list are alternatives (OR), and a tuple (or list)
inside the list must all be present (AND): ``["pmo", ("finance", "project:ERP-7")]`` reaches every ``pmo``
target and the ``finance`` targets of ERP-7. Entries tagged ``always`` join every non-empty request. Tags
match without regard to case.

Secrets: ``${NAME}`` placeholders are filled from the environment variable ``NAME`` (letters, digits and
``_``, at most 32 characters) only when a message is sent, by the dispatcher. The URLs this module hands out,
and therefore the outbox rows, the audit log, ``notify list`` and every log line, hold the placeholder,
never the secret. Undeclared placeholders are declared for Apprise automatically, so the file needs no
``template:`` section (one may still give defaults there).

Only this file's placeholders are ever filled. A person's own notify URL is sent exactly as typed: input
refuses ``${...}`` in it (``gates.vocabulary.commands.AddPerson``) and the dispatcher dead-letters one stored earlier,
because whoever registers a URL would otherwise choose which of the dispatcher's environment variables (its
secret key included) is sent to their receiver.

A URL Apprise cannot parse is rejected when the file is loaded, with the entry's number and its redacted URL.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import apprise
import yaml
from apprise.template import NotifyTemplate
from apprise.utils.logic import is_exclusive_match

from phasegate.gates.vocabulary.errors import InputError
from phasegate.notifications.targets import PLACEHOLDER, placeholder_names, redact_target

# A request for tags: each item is an alternative; a tuple/list item is a set of tags that must all match.
TagRequest = Sequence[str | Sequence[str]]

_ANY_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_MATCH_ALL = "all"
_MATCH_ALWAYS = "always"


@dataclass(frozen=True, slots=True)
class OrgTarget:
    """One delivery target of the organisation: its Apprise URL (placeholders unfilled) and its tags."""

    url: str
    tags: frozenset[str]

    @property
    def placeholders(self) -> tuple[str, ...]:
        return placeholder_names(self.url)


@dataclass(frozen=True, slots=True)
class OrgConfig:
    """The organisation's targets, loaded once per process from ``PHASEGATE_NOTIFY_CONFIG``."""

    source: str
    targets: tuple[OrgTarget, ...]

    @property
    def tags(self) -> frozenset[str]:
        """Every tag some target carries (for checking a template's audiences against the config)."""
        return frozenset(tag for target in self.targets for tag in target.tags)

    def matching(self, tags: TagRequest) -> list[OrgTarget]:
        """Targets whose tags satisfy ``tags`` (OR of items, AND inside a tuple); none for an empty request."""
        logic = _normalise_request(tags)
        if not logic:
            return []
        return [
            target
            for target in self.targets
            if is_exclusive_match(  # type: ignore[no-untyped-call]
                logic=logic, data=set(target.tags), match_all=_MATCH_ALL, match_always=_MATCH_ALWAYS
            )
        ]


def expand_targets(person_urls: Sequence[str], tags: TagRequest, config: OrgConfig | None) -> list[str]:
    """The Apprise URLs one notification goes to: the person's own, then the org targets ``tags`` select.

    One outbox row is written per URL returned. Duplicates (a URL both personal and tagged, or selected by
    two tags) appear once, in first-seen order, so nobody gets the same message twice through one target.
    Pure and cheap: the config was loaded before; this reads no file and no environment.
    """
    urls: list[str] = list(person_urls)
    if config is not None:
        urls.extend(target.url for target in config.matching(tags))
    return list(dict.fromkeys(urls))


def load_org_config(path: str | Path, *, environ: Mapping[str, str] | None = None) -> OrgConfig:
    """Read and check an Apprise YAML config; InputError naming the file and entry for anything unusable.

    Entries whose placeholders all have values in ``environ`` (default: the process environment) are also
    built once, so a URL that only breaks once its secret is filled in is caught here rather than at send
    time. An entry whose secrets are absent here (they may live only in the dispatcher's environment) is
    checked for a known service only.
    """
    source = str(path)
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(
            f"notify config {source}: file not found (set PHASEGATE_NOTIFY_CONFIG to an Apprise YAML file)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"notify config {source}: cannot be read as UTF-8 text ({type(exc).__name__})") from None
    return parse_org_config(text, source=source, environ=environ)


def load_configured(path: str | Path | None) -> OrgConfig | None:
    """The org config named by the setting, or None when the setting is empty (person targets only)."""
    if path is None or not str(path).strip():
        return None
    return load_org_config(path)


def parse_org_config(text: str, *, source: str = "<text>", environ: Mapping[str, str] | None = None) -> OrgConfig:
    """Like ``load_org_config`` for YAML text already in hand (tests, a config kept in the database)."""
    document = _document(text, source)
    values = os.environ if environ is None else environ
    targets: list[OrgTarget] = []
    for number, entry in enumerate(document["urls"], start=1):
        targets.extend(_entry_targets(document, entry, number, source, values))
    return OrgConfig(source=source, targets=tuple(targets))


def single_target_config(url: str) -> str:
    """A one-entry Apprise YAML config for a URL with ``${NAME}`` placeholders, each declared as a template.

    Why: Apprise fills declared placeholders into the *parsed* fields of a service, so a secret holding
    ``/``, ``@`` or ``?`` cannot change the URL's structure the way text substitution would.
    """
    names = placeholder_names(url)
    return yaml.safe_dump({"version": 1, "template": list(names), "urls": [url]}, allow_unicode=True)


def _document(text: str, source: str) -> dict[str, Any]:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise InputError(f"notify config {source}: not valid YAML{line}") from None
    if not isinstance(document, dict):
        raise InputError(f"notify config {source}: must be an Apprise YAML mapping with 'version: 1' and 'urls:'")
    if document.get("version", 1) != 1:
        raise InputError(f"notify config {source}: version must be 1, got {document.get('version')!r}")
    if "include" in document:
        raise InputError(f"notify config {source}: 'include' is not supported; keep every target in one file")
    urls = document.get("urls")
    if not isinstance(urls, list) or not urls:
        raise InputError(f"notify config {source}: 'urls' must be a non-empty list of Apprise URLs")
    for match in _ANY_PLACEHOLDER.finditer(text):
        if not PLACEHOLDER.fullmatch(match.group(0)):
            raise InputError(
                f"notify config {source}: placeholder {match.group(0)[:40]!r} is not allowed; names are letters, "
                "digits and '_', at most 32 characters, e.g. ${SMTP_PASSWORD}"
            )
    return document


def _entry_targets(
    document: dict[str, Any], entry: object, number: int, source: str, environ: Mapping[str, str]
) -> list[OrgTarget]:
    shown = _entry_label(entry)
    names = placeholder_names(yaml.safe_dump(entry, allow_unicode=True))
    single = {key: value for key, value in document.items() if key not in {"urls", "template"}}
    single["urls"] = [entry]
    single["template"] = _declarations(document.get("template"), names)
    config = apprise.AppriseConfig()
    loaded = config.add_config(yaml.safe_dump(single, allow_unicode=True), format="yaml")
    notifier = apprise.Apprise()
    if loaded:
        notifier.add(config)
    services = list(notifier.find(tag=_MATCH_ALL, resolve=False)) if loaded else []
    if not services:
        raise InputError(
            f"notify config {source}: urls entry #{number} ({shown}) cannot be used by Apprise (unknown service "
            "or missing/invalid parts); see https://appriseit.com/services/ for each service's URL format"
        )
    targets = []
    for service in services:
        url = str(service.url())  # type: ignore[no-untyped-call]
        if isinstance(service, NotifyTemplate):
            _check_filled(service, environ, number, shown, source)
        targets.append(OrgTarget(url=url, tags=frozenset(str(tag).lower() for tag in service.tags)))
    return targets


def _check_filled(service: NotifyTemplate, environ: Mapping[str, str], number: int, shown: str, source: str) -> None:
    if not service.enabled:
        raise InputError(f"notify config {source}: urls entry #{number} ({shown}) uses a service Apprise cannot load")
    url = str(service.url())
    values = {name: environ.get(name, "") for name in placeholder_names(url)}
    if not all(values.values()):
        return
    notifier = apprise.Apprise()
    config = apprise.AppriseConfig()
    if config.add_config(single_target_config(url), format="yaml"):
        notifier.add(config)
    if not list(notifier.find(template=values)):
        raise InputError(
            f"notify config {source}: urls entry #{number} ({shown}) cannot be used by Apprise once its "
            f"placeholders ({', '.join(values)}) are filled from the environment; check those values"
        )


def _declarations(template: object, names: Sequence[str]) -> list[Any]:
    """The entry's ``template:`` section: what the file declared plus every placeholder it uses."""
    declared: list[Any] = []
    known: set[str] = set()
    if isinstance(template, dict):
        declared = [{key: value} for key, value in template.items()]
        known = {str(key).lower() for key in template}
    elif isinstance(template, list):
        declared = list(template)
        for item in template:
            keys = [item] if isinstance(item, str) else list(item) if isinstance(item, dict) else []
            known.update(str(key).lower() for key in keys)
    for name in names:
        if name.lower() not in known:
            known.add(name.lower())
            declared.append(name)
    return declared


def _entry_label(entry: object) -> str:
    url = entry if isinstance(entry, str) else next(iter(entry), "") if isinstance(entry, dict) else ""
    return redact_target(str(url)) if url else "not a URL"


def _normalise_request(tags: TagRequest) -> list[str | tuple[str, ...]]:
    if isinstance(tags, str):
        raise InputError("notify tags: must be a list of tags (a tuple inside it means AND), not one string")
    logic: list[str | tuple[str, ...]] = []
    for item in tags:
        if isinstance(item, str):
            if item.strip():
                logic.append(item.strip().lower())
        else:
            group = tuple(str(tag).strip().lower() for tag in item if str(tag).strip())
            if group:
                logic.append(group)
    return logic
