"""Documentation standards at a gate: each required deliverable is present, signed by the right role, unchanged
since it was signed, has the required sections, is in an allowed format, and is recent enough.

The standard is data in the template (``DeliverableDef``); these criteria take no params. Every criterion
looks at all the deliverables the gate requires and reports each problem by deliverable and file, in English
and Simplified Chinese, with the fix.

Missing evidence versus failure: what the gate cannot judge (no registered version, no approval yet, a file
that is gone, a format whose sections cannot be read, no as-of date) is *missing evidence*, so the gate
recommends NOT_READY and tells the team what to bring. A registered deliverable that breaks the standard
(signed by the wrong person, changed after signing, a section missing, a wrong format, too old) is a failure.
A criterion with both reports both and counts as a failure, since the failure stands whatever arrives later.
A deliverable that is not registered is missing evidence for every criterion that applies to it: a check
with nothing to look at never passes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import NamedTuple

from phasegate.gates.criteria import Criterion, evidence_reference, params_check, per_evaluation, per_template
from phasegate.gates.vocabulary.enums import DocumentStatus
from phasegate.gates.vocabulary.errors import InputError
from phasegate.gates.vocabulary.evidence import DocumentEvidence, GateEvidence
from phasegate.gates.vocabulary.snapshots import CriterionResult
from phasegate.gates.vocabulary.template import CriterionDef, DeliverableDef, GateDef, LifecycleTemplate

ROLE_ZH: Mapping[str, str] = {
    "sponsor": "发起人",
    "manager": "项目经理",
    "pmo": "项目管理办公室（PMO）",
    "finance": "财务",
    "operations": "运营",
    "owner": "负责人",
    "architect": "架构师",
    "qa": "质量保证",
    "legal": "法务",
    "gatekeeper": "关口评审人",
}
"""Chinese names of common project roles for messages; any other role is shown by its id."""

MANAGER_ROLE = "manager"


class _Issue(NamedTuple):
    """One problem with one deliverable. ``missing``: the gate lacks evidence, as opposed to a failure."""

    missing: bool
    text: str
    text_zh: str
    fix: str
    fix_zh: str


class _Item(NamedTuple):
    """A required deliverable with its latest registered version (None when none is registered)."""

    spec: DeliverableDef
    doc: DocumentEvidence | None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def name_zh(self) -> str:
        return self.spec.name_zh or self.spec.name

    @property
    def label(self) -> str:
        return f"{self.spec.name} v{self.doc.version}" if self.doc else self.spec.name

    @property
    def label_zh(self) -> str:
        return f"{self.name_zh} 第 {self.doc.version} 版" if self.doc else self.name_zh


# --- params ------------------------------------------------------------------------------------------------


def param_problems(definition: CriterionDef) -> list[str]:
    """Problems with ``definition`` for a documentation criterion, one line each. These criteria take no
    params (the standard lives on each deliverable), so any param is a typo that must not pass unnoticed."""
    if definition.code not in DOCUMENTATION_CRITERIA:
        return [
            f"{definition.code}: not a documentation criterion; documentation criteria are: "
            + ", ".join(DOCUMENTATION_CRITERIA)
        ]
    return [
        f"{definition.code}: unknown param {name!r}; documentation criteria take no params (the standard is set "
        "on each deliverable: formats, required_sections, approver_role, approver_not_manager, max_age_days, "
        "unchanged_since_approval)"
        for name in definition.params
    ]


_check_params = params_check(param_problems)


# --- shared ------------------------------------------------------------------------------------------------


def _latest(documents: Iterable[DocumentEvidence]) -> dict[str, DocumentEvidence]:
    """The highest registered version of each deliverable (the evidence normally holds only that one)."""
    latest: dict[str, DocumentEvidence] = {}
    for doc in documents:
        seen = latest.get(doc.deliverable_id)
        if seen is None or doc.version >= seen.version:
            latest[doc.deliverable_id] = doc
    return latest


@per_evaluation
def _deliverables(gate: GateDef, template: LifecycleTemplate, evidence: GateEvidence) -> tuple[tuple[_Item, ...], str]:
    """The gate's deliverables with their documents, in the gate's order, and the reference for the trace;
    every documentation criterion of a gate reads them, so they are gathered once per evaluation."""
    specs = {d.id: d for d in template.deliverables}
    latest = _latest(evidence.documents)
    items = []
    for deliverable_id in gate.deliverables:
        spec = specs.get(deliverable_id)
        if spec is None:  # a validated template cannot get here; say so clearly if an unvalidated one does
            raise InputError(
                f"gates.{gate.id}.deliverables: unknown deliverable {deliverable_id!r}; deliverables are: "
                + (", ".join(sorted(specs)) or "(none defined)")
            )
        items.append(_Item(spec, latest.get(deliverable_id)))
    return tuple(items), evidence_reference("doc", gate, evidence)


def file_name(path: str) -> str:
    """The last part of a stored path, whichever separator the registering machine used."""
    return path[max(path.rfind("/"), path.rfind("\\")) + 1 :] or path


def document_format(doc: DocumentEvidence) -> str:
    """The recorded format, or the path's extension when evidence from an older registration has none."""
    if doc.format:
        return doc.format.lower()
    name = file_name(doc.path)
    return name.rsplit(".", 1)[1].lower() if "." in name.strip(".") else ""


def _role_zh(role: str) -> str:
    return ROLE_ZH.get(role, role)


def _register_fix(evidence: GateEvidence, item: _Item) -> tuple[str, str]:
    command = f"phasegate doc add {evidence.project_key} {item.spec.id} FILE"
    return (
        f"register {item.name}: {command}",
        f"登记{item.name_zh}：{command}",
    )


def _not_registered(evidence: GateEvidence, item: _Item) -> _Issue:
    fix, fix_zh = _register_fix(evidence, item)
    return _Issue(
        True,
        f"{item.name} ({item.spec.id}) is not registered",
        f"{item.name_zh}（{item.spec.id}）尚未登记",
        fix,
        fix_zh,
    )


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def _result(
    definition: CriterionDef,
    reference: str,
    issues: list[_Issue],
    *,
    measured: str,
    threshold: str,
    passed_message: tuple[str, str],
) -> CriterionResult:
    if issues:
        message = "; ".join(issue.text for issue in issues)
        message_zh = "；".join(issue.text_zh for issue in issues)
        remediation = "; ".join(_unique(issue.fix for issue in issues))
        remediation_zh = "；".join(_unique(issue.fix_zh for issue in issues))
    else:
        (message, message_zh), remediation, remediation_zh = passed_message, "", ""
    return CriterionResult(
        code=definition.code,
        kind=definition.kind,
        remediable=definition.remediable,
        passed=not issues,
        evidence_missing=bool(issues) and all(issue.missing for issue in issues),
        measured=measured,
        threshold=threshold,
        message=message,
        message_zh=message_zh,
        remediation=remediation,
        remediation_zh=remediation_zh,
        evidence_ref=reference,
    )


def _counted(
    definition: CriterionDef,
    reference: str,
    issues: list[_Issue],
    *,
    met: int,
    of: int,
    passed_message: tuple[str, str],
) -> CriterionResult:
    """A result measured as a count against a total that must all pass (``3/4`` against ``4/4``)."""
    return _result(
        definition, reference, issues, measured=f"{met}/{of}", threshold=f"{of}/{of}", passed_message=passed_message
    )


# --- criteria ----------------------------------------------------------------------------------------------


def required_present(
    definition: CriterionDef, gate: GateDef, template: LifecycleTemplate, evidence: GateEvidence
) -> CriterionResult:
    """Every deliverable the gate requires has a registered version. A gap is missing evidence."""
    _check_params(definition)
    items, reference = _deliverables(gate, template, evidence)
    issues = [_not_registered(evidence, item) for item in items if item.doc is None]
    total, present = len(items), len(items) - len(issues)
    if total:
        done = (f"all {total} required deliverables are registered", f"全部 {total} 项必需交付物均已登记")
    else:
        done = ("this gate requires no deliverables", "本关口不要求交付物")
    return _counted(definition, reference, issues, met=present, of=total, passed_message=done)


def _approval_fix(evidence: GateEvidence, item: _Item, role: str, holders: tuple[str, ...]) -> tuple[str, str]:
    who = f" ({', '.join(holders)})" if holders else ""
    who_zh = f"（{'、'.join(holders)}）" if holders else ""
    command = f"phasegate doc add {evidence.project_key} {item.spec.id} FILE --approved-by PERSON"
    return (
        f"have the {role}{who} approve {item.name}: {command}",
        f"请{_role_zh(role)}{who_zh}批准{item.name_zh}：{command}",
    )


def approved_by_role(
    definition: CriterionDef, gate: GateDef, template: LifecycleTemplate, evidence: GateEvidence
) -> CriterionResult:
    """Each deliverable is approved by someone holding its ``approver_role``, and not by the project's manager
    when ``approver_not_manager`` (segregation of duties). Not yet approved is missing evidence; approved by the
    wrong person is a failure, fixed by having the right person approve it."""
    _check_params(definition)
    items, reference = _deliverables(gate, template, evidence)
    managers = set(evidence.roles.get(MANAGER_ROLE, ()))
    issues: list[_Issue] = []
    for item in items:
        doc, role = item.doc, item.spec.approver_role
        if doc is None:
            issues.append(_not_registered(evidence, item))
            continue
        holders = evidence.roles.get(role, ())
        approver = doc.approved_by
        if doc.status is not DocumentStatus.APPROVED or approver is None:
            issues.append(
                _Issue(
                    True,
                    f"{item.label} is not approved; it needs approval by the {role}",
                    f"{item.label_zh}尚未批准，需由{_role_zh(role)}批准",
                    *_approval_fix(evidence, item, role, holders),
                )
            )
            continue
        problems, problems_zh = [], []
        if approver not in holders and role not in doc.approver_roles:
            problems.append(f"{approver} does not hold the {role} role on the project")
            problems_zh.append(f"{approver} 不是本项目的{_role_zh(role)}")
        if item.spec.approver_not_manager and (approver in managers or MANAGER_ROLE in doc.approver_roles):
            problems.append(f"{approver} is the project's manager, who may not approve it")
            problems_zh.append(f"{approver} 是本项目的项目经理，不得批准该交付物")
        if problems:
            issues.append(
                _Issue(
                    False,
                    f"{item.label} was approved by {approver}, but {' and '.join(problems)}",
                    f"{item.label_zh}由 {approver} 批准，但{'，且'.join(problems_zh)}",
                    *_approval_fix(evidence, item, role, holders),
                )
            )
    total = len(items)
    ok = total - len(issues)
    done = (
        f"all {total} required deliverables are approved by their required role",
        f"全部 {total} 项必需交付物均已由规定角色批准",
    )
    return _counted(definition, reference, issues, met=ok, of=total, passed_message=done)


def unchanged_since_approval(
    definition: CriterionDef, gate: GateDef, template: LifecycleTemplate, evidence: GateEvidence
) -> CriterionResult:
    """phasegate's stored copy hashes to what was approved (registered, if not yet approved), for deliverables
    with ``unchanged_since_approval``: gatekeepers must read the text that was signed. The copy is taken at
    registration (``models.document_store``); editing the original afterwards is a new version, not a change."""
    _check_params(definition)
    all_items, reference = _deliverables(gate, template, evidence)
    items = [item for item in all_items if item.spec.unchanged_since_approval]
    issues: list[_Issue] = []
    for item in items:
        doc = item.doc
        if doc is None:
            issues.append(_not_registered(evidence, item))
            continue
        signed = doc.status is DocumentStatus.APPROVED
        when, when_zh = ("approved", "批准") if signed else ("registered", "登记")
        name = file_name(doc.path)
        if doc.current_sha256 is None and doc.store_key is None:
            issues.append(
                _Issue(
                    True,
                    f"{item.label}: phasegate keeps no copy of it (registered from {doc.path} before the document "
                    "store), so what was signed cannot be checked",
                    f"{item.label_zh}：phasegate 未保存其副本（于文档库启用前从 {doc.path} 登记），"
                    "无法核对所签署的内容",
                    f"run 'phasegate doc adopt' to copy {name} into the store if it is unchanged, or register it "
                    "again (phasegate doc add) and have it approved",
                    f"若 {name} 未被修改，运行 'phasegate doc adopt' 将其存入文档库；否则重新登记（phasegate doc add）"
                    "并取得批准",
                )
            )
        elif doc.current_sha256 is None:
            issues.append(
                _Issue(
                    True,
                    f"{item.label}: phasegate's stored copy of {name} is missing ({doc.store_key})",
                    f"{item.label_zh}：phasegate 保存的 {name} 副本已丢失（{doc.store_key}）",
                    f"register the {when} file {name} again to restore the copy, or register a new version and "
                    "have it approved",
                    f"重新登记{when_zh}时的文件 {name} 以恢复副本，或登记新版本并重新取得批准",
                )
            )
        elif doc.current_sha256.lower() != doc.sha256.lower():
            issues.append(
                _Issue(
                    False,
                    f"{item.label}: phasegate's stored copy no longer matches what was {when}: sha256 "
                    f"{doc.sha256[:12]} {when}, {doc.current_sha256[:12]} now ({name}); the document store was "
                    "altered",
                    f"{item.label_zh}：phasegate 保存的副本与{when_zh}时不一致：{when_zh}时 sha256 为 "
                    f"{doc.sha256[:12]}，现在为 {doc.current_sha256[:12]}（{name}）；文档库已被改动",
                    f"register the {when} file {name} again to restore the copy, or register the new version and "
                    "have it approved",
                    f"重新登记{when_zh}时的文件 {name} 以恢复副本，或将新版本登记并重新取得批准",
                )
            )
    total = len(items)
    if total:
        done = (
            f"all {total} deliverables are unchanged since they were approved (sha256 matches)",
            f"全部 {total} 项交付物自批准后未被修改（sha256 一致）",
        )
    else:
        done = (
            "no deliverable at this gate must stay unchanged since approval",
            "本关口没有要求批准后不得修改的交付物",
        )
    return _counted(definition, reference, issues, met=total - len(issues), of=total, passed_message=done)


_NUMBERING = re.compile(
    r"""^(?:
        第[一二三四五六七八九十百零〇两\d]+[章节部分篇条]       # 第一章, 第2节
      | [（(][一二三四五六七八九十百零〇\d]+[）)]              # (一), （1）
      | [一二三四五六七八九十百零〇]+[、.．]                   # 一、
      | \d+(?:[.．]\d+)*(?:[.．)、]|(?=\s))                  # 1. 2.3 2.3.1 1) 1、 but not "3D"
      | [ivxlc]+[.)]                                           # iv.
      | [a-z][.)](?=\s)                                        # a) B.
    )[\s:：.\-–—]*""",
    re.VERBOSE,
)
_SEPARATOR = re.compile(r"^(?:[:：]|\s+[-–—])")


@lru_cache(maxsize=65536)
def section_key(title: str) -> str:
    """A heading or section title for comparison: case-folded, whitespace collapsed, leading numbering
    ("1.", "2.3", "一、", "第一章", "(一)", "iv.") stripped, so "2.3  Project SCOPE" matches "Project scope"."""
    text = " ".join(title.split()).casefold()
    stripped = _NUMBERING.sub("", text, count=1).strip()
    return stripped or text


def has_section(headings: Iterable[str], section: str) -> bool:
    """A heading equal to the section title, or starting with it followed by ":" or " -" ("Budget: 2026")."""
    return _has_section([section_key(heading) for heading in headings], section_key(section))


@per_template
def _section_keys(spec: DeliverableDef) -> tuple[tuple[str, str], ...]:
    """The standard's required sections with their keys, computed once per template."""
    return tuple((section, section_key(section)) for section in spec.required_sections)


def _has_section(keys: list[str], wanted: str) -> bool:
    """``has_section`` on headings already turned into keys, so a document's are keyed once for all sections."""
    return wanted in keys or any(key.startswith(wanted) and _SEPARATOR.match(key[len(wanted) :]) for key in keys)


def required_sections(
    definition: CriterionDef, gate: GateDef, template: LifecycleTemplate, evidence: GateEvidence
) -> CriterionResult:
    """Each deliverable's file has every section its standard requires, read from its headings at registration.
    A file whose sections cannot be read (xlsx, mpp, a damaged docx) is missing evidence, never a pass."""
    _check_params(definition)
    all_items, reference = _deliverables(gate, template, evidence)
    items = [item for item in all_items if item.spec.required_sections]
    issues: list[_Issue] = []
    missing_en: list[str] = []
    missing_zh: list[str] = []
    found = required = 0
    for item in items:
        doc = item.doc
        if doc is None:
            issues.append(_not_registered(evidence, item))
            continue
        if doc.headings is None:
            name = file_name(doc.path)
            fmt = document_format(doc)
            readable = [f for f in item.spec.formats if f in ("md", "markdown", "docx", "pdf")]
            shown = f"its {fmt} file" if fmt else "its file (no extension)"
            shown_zh = f"其 {fmt} 文件" if fmt else "其文件（无扩展名）"
            if readable:
                fix = f"register {item.name} as {' or '.join(readable)} with the sections as headings"
                fix_zh = f"以 {'或'.join(readable)} 格式登记{item.name_zh}，并将各章节设为标题"
            else:
                fix = f"ask the PMO to allow md, docx or pdf for {item.name}, whose sections can be read"
                fix_zh = f"请 PMO 允许{item.name_zh}使用可读取章节的 md、docx 或 pdf 格式"
            issues.append(
                _Issue(
                    True,
                    f"{item.label}: sections cannot be read from {shown} ({name})",
                    f"{item.label_zh}：无法从{shown_zh}读取章节（{name}）",
                    fix,
                    fix_zh,
                )
            )
            continue
        required += len(item.spec.required_sections)
        keys = [section_key(heading) for heading in doc.headings]
        present = set(keys)
        for section, wanted in _section_keys(item.spec):
            if wanted in present or _has_section(keys, wanted):
                found += 1
            else:
                name = file_name(doc.path)
                missing_en.append(f"{item.name} / {section} / {name}")
                missing_zh.append(f"{item.name_zh} / {section} / {name}")
    if missing_en:
        issues.append(
            _Issue(
                False,
                f"{len(missing_en)} required section(s) missing (deliverable / section / file): "
                + "; ".join(missing_en),
                f"缺少 {len(missing_zh)} 个必需章节（交付物 / 章节 / 文件）：" + "；".join(missing_zh),
                "add each missing section as a heading, then register the new version and have it approved",
                "将缺少的章节作为标题补入文档，然后登记新版本并取得批准",
            )
        )
    total = len(items)
    if total:
        done = (
            f"all {required} required sections are present in {total} deliverable(s)",
            f"{total} 项交付物中全部 {required} 个必需章节均已具备",
        )
    else:
        done = ("no deliverable at this gate has required sections", "本关口没有规定必需章节的交付物")
    return _counted(definition, reference, issues, met=found, of=required, passed_message=done)


def format_allowed(
    definition: CriterionDef, gate: GateDef, template: LifecycleTemplate, evidence: GateEvidence
) -> CriterionResult:
    """Each deliverable's file is in one of its standard's formats (by extension)."""
    _check_params(definition)
    items, reference = _deliverables(gate, template, evidence)
    issues: list[_Issue] = []
    for item in items:
        doc = item.doc
        if doc is None:
            issues.append(_not_registered(evidence, item))
            continue
        fmt = document_format(doc)
        allowed = item.spec.formats
        if fmt not in allowed:
            shown = f"a {fmt} file" if fmt else "a file without an extension"
            shown_zh = f"{fmt} 文件" if fmt else "无扩展名的文件"
            issues.append(
                _Issue(
                    False,
                    f"{item.label} is {shown} ({file_name(doc.path)}); allowed formats: {', '.join(allowed)}",
                    f"{item.label_zh}是{shown_zh}（{file_name(doc.path)}）；允许的格式：{'、'.join(allowed)}",
                    f"save {item.name} as {' or '.join(allowed)} and register it again",
                    f"将{item.name_zh}另存为 {'或'.join(allowed)} 格式后重新登记",
                )
            )
    total = len(items)
    if total:
        done = (f"all {total} deliverables are in an allowed format", f"全部 {total} 项交付物的格式均符合要求")
    else:
        done = ("this gate requires no deliverables", "本关口不要求交付物")
    return _counted(definition, reference, issues, met=total - len(issues), of=total, passed_message=done)


def _utc_date(moment: datetime) -> date:
    """Registration times are stored in UTC; a naive value is taken to be UTC already."""
    return moment.astimezone(UTC).date() if moment.tzinfo else moment.date()


def fresh(
    definition: CriterionDef, gate: GateDef, template: LifecycleTemplate, evidence: GateEvidence
) -> CriterionResult:
    """Deliverables with ``max_age_days`` were registered at most that many days before the evidence date:
    a plan older than its standard allows is stale, however well it was approved."""
    _check_params(definition)
    all_items, reference = _deliverables(gate, template, evidence)
    items = [item for item in all_items if item.spec.max_age_days is not None]
    issues: list[_Issue] = []
    measured: list[str] = []
    threshold = "; ".join(f"{item.spec.id} <= {item.spec.max_age_days} days" for item in items) or "-"
    as_of = evidence.as_of
    if items and as_of is None:
        issues.append(
            _Issue(
                True,
                "the evidence has no as-of date, so the age of deliverables cannot be measured",
                "证据缺少截至日期，无法计算交付物的时效",
                "take the gate evidence with an as-of date",
                "生成带截至日期的关口证据",
            )
        )
        items = []
    for item in items:
        doc, limit = item.doc, item.spec.max_age_days
        if doc is None:
            issues.append(_not_registered(evidence, item))
            continue
        if doc.registered_at is None or as_of is None or limit is None:
            issues.append(
                _Issue(
                    True,
                    f"{item.label} has no registration date, so its age cannot be measured",
                    f"{item.label_zh}缺少登记日期，无法计算其时效",
                    *_register_fix(evidence, item),
                )
            )
            continue
        registered = _utc_date(doc.registered_at)
        age = (as_of - registered).days
        measured.append(f"{item.spec.id} {age} days")
        if age > limit:
            issues.append(
                _Issue(
                    False,
                    f"{item.label} is {age} days old (registered {registered.isoformat()}, as of {as_of.isoformat()}); "
                    f"the limit is {limit} days",
                    f"{item.label_zh}已登记 {age} 天（登记于 {registered.isoformat()}，截至 {as_of.isoformat()}），"
                    f"超过 {limit} 天的时效要求",
                    f"update {item.name}, register the new version and have it approved",
                    f"更新{item.name_zh}，登记新版本并取得批准",
                )
            )
    if measured:
        done = (
            "all deliverables are within their maximum age: " + ", ".join(measured),
            "全部交付物均在时效要求内：" + "，".join(m.replace(" days", " 天") for m in measured),
        )
    else:
        done = ("no deliverable at this gate has a maximum age", "本关口没有规定时效的交付物")
    return _result(
        definition,
        reference,
        issues,
        measured="; ".join(measured) or "-",
        threshold=threshold,
        passed_message=done,
    )


DOCUMENTATION_CRITERIA: dict[str, Criterion] = {
    "doc.required_present": required_present,
    "doc.approved_by_role": approved_by_role,
    "doc.unchanged_since_approval": unchanged_since_approval,
    "doc.required_sections": required_sections,
    "doc.format_allowed": format_allowed,
    "doc.fresh": fresh,
}
