"""Documentation criteria at their boundaries: exactly the maximum age and one day over, one missing section,
numbering variants, the wrong approver, the manager approving, a changed file, a file that is gone, and the
difference between missing evidence (NOT_READY) and a failure (RECYCLE)."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import docx
import pytest

from phasegate.gates.documentation import DOCUMENTATION_CRITERIA, has_section, param_problems, section_key
from phasegate.gates.evaluation import recommend
from phasegate.gates.vocabulary.enums import CriterionKind, DocumentStatus, Recommendation
from phasegate.gates.vocabulary.errors import InputError
from phasegate.gates.vocabulary.evidence import DocumentEvidence, GateEvidence
from phasegate.gates.vocabulary.snapshots import CriterionResult
from phasegate.gates.vocabulary.template import CriterionDef, DeliverableDef, GateDef, LifecycleTemplate, StageDef
from phasegate.models.document_store import DocumentStore, store_key

pytestmark = pytest.mark.unit  # pure: no database, no Prefect, no browser (make test-fast)

H1 = hashlib.sha256(b"approved text").hexdigest()
H2 = hashlib.sha256(b"edited afterwards").hexdigest()
MISSING = "missing"  # expected: passed False and evidence_missing True

CHARTER = DeliverableDef(
    id="charter",
    name="Project charter",
    name_zh="项目章程",
    formats=("md", "docx", "pdf"),
    required_sections=("Objectives", "Scope", "Budget"),
    approver_role="sponsor",
    approver_not_manager=True,
    max_age_days=30,
    unchanged_since_approval=True,
)
PLAN = DeliverableDef(
    id="plan",
    name="Project plan",
    formats=("xlsx", "md"),
    required_sections=("Schedule",),
    approver_role="pmo",
    approver_not_manager=False,
    unchanged_since_approval=False,
)


def template(*deliverables: DeliverableDef, gate_requires: tuple[str, ...] | None = None) -> LifecycleTemplate:
    deliverables = deliverables or (CHARTER, PLAN)
    ids = tuple(d.id for d in deliverables) if gate_requires is None else gate_requires
    return LifecycleTemplate(
        id="it-test",
        version=1,
        name="Test lifecycle",
        deliverables=deliverables,
        stages=(StageDef(id="initiating", name="Initiating"), StageDef(id="planning", name="Planning")),
        gates=(GateDef(id="g1", name="Gate 1", after="initiating", deliverables=ids),),
    )


def charter(**update: Any) -> DocumentEvidence:
    values: dict[str, Any] = {
        "deliverable_id": "charter",
        "version": 2,
        "sha256": H1,
        "size": 1000,
        "path": "/srv/docs/P1/charter.docx",
        "status": DocumentStatus.APPROVED,
        "approved_by": "sam",
        "format": "docx",
        "headings": ("1. Objectives", "2.3 SCOPE", "Budget: 2026"),
        "current_sha256": H1,
        "store_key": store_key(H1),
        "approver_roles": ("sponsor",),
        "registered_at": datetime(2026, 5, 31, 9, 0, tzinfo=UTC),
        "approved_at": datetime(2026, 6, 1, 9, 0, tzinfo=UTC),
    }
    return DocumentEvidence(**(values | update))


def plan(**update: Any) -> DocumentEvidence:
    values: dict[str, Any] = {
        "deliverable_id": "plan",
        "version": 1,
        "sha256": H1,
        "size": 500,
        "path": "C:\\pmo\\P1\\plan.md",
        "status": DocumentStatus.APPROVED,
        "approved_by": "pat",
        "format": "md",
        "headings": ("Schedule",),
        "current_sha256": H1,
        "approver_roles": ("pmo",),
        "registered_at": datetime(2020, 1, 1, tzinfo=UTC),  # old, but the plan has no maximum age
    }
    return DocumentEvidence(**(values | update))


ROLES: dict[str, tuple[str, ...]] = {"sponsor": ("sam",), "manager": ("max",), "pmo": ("pat",)}


def evidence(*documents: DocumentEvidence, **update: Any) -> GateEvidence:
    values: dict[str, Any] = {
        "project_key": "P1",
        "template": "it-test@1",
        "gate_id": "g1",
        "stage_id": "initiating",
        "as_of": date(2026, 6, 30),
        "budget": 100,
        "currency": "CNY",
        "actual_cost": 0,
        "documents": documents,
        "roles": ROLES,
    }
    return GateEvidence(**(values | update))


def run(code: str, ev: GateEvidence, lifecycle: LifecycleTemplate | None = None, **kw: Any) -> CriterionResult:
    lifecycle = lifecycle or template()
    gate = lifecycle.gates[0]
    return DOCUMENTATION_CRITERIA[code](CriterionDef(code=code, **kw), gate, lifecycle, ev)


def check(result: CriterionResult, expected: bool | str) -> None:
    if expected == MISSING:
        assert not result.passed and result.evidence_missing, result.message
    else:
        assert result.passed is expected and not result.evidence_missing, result.message
    if result.passed:
        assert result.remediation == result.remediation_zh == ""
    else:
        assert result.remediation and result.remediation_zh


GOOD = (charter(), plan())

# Each row: (id, code, evidence, expected, words in message, words in message_zh, words in remediation).
# fmt: off
CASES: list[tuple[str, str, GateEvidence, bool | str, tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = [
    # doc.required_present
    ("present", "doc.required_present", evidence(*GOOD), True,
     ("all 2 required deliverables are registered",), ("全部 2 项必需交付物均已登记",), ()),
    ("one absent", "doc.required_present", evidence(charter()), MISSING,
     ("Project plan (plan) is not registered",), ("Project plan（plan）尚未登记",),
     ("phasegate doc add P1 plan FILE",)),
    ("the highest version counts", "doc.approved_by_role",
     evidence(charter(version=3, status=DocumentStatus.REGISTERED, approved_by=None), charter(version=1), plan()),
     MISSING, ("Project charter v3 is not approved",), ("项目章程 第 3 版尚未批准",), ()),
    # doc.approved_by_role
    ("approved by role", "doc.approved_by_role", evidence(*GOOD), True,
     ("all 2 required deliverables are approved by their required role",), ("均已由规定角色批准",), ()),
    ("not approved yet", "doc.approved_by_role",
     evidence(charter(status=DocumentStatus.REGISTERED, approved_by=None, approver_roles=()), plan()), MISSING,
     ("Project charter v2 is not approved; it needs approval by the sponsor",),
     ("项目章程 第 2 版尚未批准，需由发起人批准",),
     ("have the sponsor (sam) approve Project charter", "--approved-by")),
    ("approver name but status registered", "doc.approved_by_role",
     evidence(charter(status=DocumentStatus.REGISTERED), plan()), MISSING, ("is not approved",), ("尚未批准",), ()),
    ("wrong role", "doc.approved_by_role", evidence(charter(approved_by="pat", approver_roles=("pmo",)), plan()), False,
     ("Project charter v2 was approved by pat, but pat does not hold the sponsor role on the project",),
     ("项目章程 第 2 版由 pat 批准，但pat 不是本项目的发起人",), ("请发起人（sam）批准项目章程",)),
    ("role held per approver_roles only", "doc.approved_by_role",
     evidence(charter(approved_by="vera", approver_roles=("sponsor",)), plan()), True, (), (), ()),
    ("role held per project roles only", "doc.approved_by_role",
     evidence(charter(approver_roles=()), plan()), True, (), (), ()),
    ("approved by the manager", "doc.approved_by_role",
     evidence(charter(approved_by="max", approver_roles=("sponsor", "manager")), plan(),
              roles=ROLES | {"sponsor": ("sam", "max")}), False,
     ("approved by max, but max is the project's manager, who may not approve it",),
     ("max 是本项目的项目经理，不得批准该交付物",), ()),
    ("manager per approver_roles at approval", "doc.approved_by_role",
     evidence(charter(approved_by="sam", approver_roles=("sponsor", "manager")), plan()), False,
     ("sam is the project's manager",), ("项目经理",), ()),
    ("manager may approve when allowed", "doc.approved_by_role",
     evidence(charter(), plan(approved_by="max", approver_roles=("pmo", "manager")),
              roles=ROLES | {"pmo": ("pat", "max")}), True, (), (), ()),
    ("manager without the role", "doc.approved_by_role",
     evidence(charter(approved_by="max", approver_roles=("manager",)), plan()), False,
     ("does not hold the sponsor role on the project and max is the project's manager",),
     ("max 不是本项目的发起人，且max 是本项目的项目经理",), ()),
    ("missing and wrong together is a failure", "doc.approved_by_role",
     evidence(charter(approved_by="pat", approver_roles=()), plan(status=DocumentStatus.REGISTERED)), False,
     ("does not hold the sponsor role", "Project plan v1 is not approved"), (), ()),
    ("unregistered cannot be judged", "doc.approved_by_role", evidence(plan()), MISSING,
     ("Project charter (charter) is not registered",), ("项目章程（charter）尚未登记",), ()),
    # doc.unchanged_since_approval (the plan does not require it)
    ("unchanged", "doc.unchanged_since_approval", evidence(charter(), plan(current_sha256=H2)), True,
     ("all 1 deliverables are unchanged since they were approved",), ("自批准后未被修改",), ()),
    ("changed", "doc.unchanged_since_approval", evidence(charter(current_sha256=H2), plan()), False,
     (f"Project charter v2: phasegate's stored copy no longer matches what was approved: sha256 {H1[:12]} "
      f"approved, {H2[:12]} now (charter.docx); the document store was altered",),
     (f"项目章程 第 2 版：phasegate 保存的副本与批准时不一致：批准时 sha256 为 {H1[:12]}，"
      f"现在为 {H2[:12]}（charter.docx）",),
     ("register the approved file charter.docx again to restore the copy",)),
    ("hash compared case-insensitively", "doc.unchanged_since_approval",
     evidence(charter(current_sha256=H1.upper()), plan()), True, (), (), ()),
    ("changed before approval", "doc.unchanged_since_approval",
     evidence(charter(current_sha256=H2, status=DocumentStatus.REGISTERED, approved_by=None), plan()), False,
     ("no longer matches what was registered",), ("与登记时不一致",), ()),
    ("stored copy gone", "doc.unchanged_since_approval", evidence(charter(current_sha256=None), plan()), MISSING,
     (f"Project charter v2: phasegate's stored copy of charter.docx is missing ({store_key(H1)})",), ("副本已丢失",),
     ("register the approved file charter.docx again to restore the copy",)),
    ("registered before the store", "doc.unchanged_since_approval",
     evidence(charter(current_sha256=None, store_key=None), plan()), MISSING,
     ("Project charter v2: phasegate keeps no copy of it (registered from /srv/docs/P1/charter.docx before the "
      "document store)",), ("phasegate 未保存其副本",),
     ("run 'phasegate doc adopt' to copy charter.docx into the store if it is unchanged, or register it again",)),
    # doc.required_sections
    ("all sections", "doc.required_sections", evidence(*GOOD), True,
     ("all 4 required sections are present in 2 deliverable(s)",), ("全部 4 个必需章节均已具备",), ()),
    ("one section missing", "doc.required_sections",
     evidence(charter(headings=("1. Objectives", "2. Scope", "3. Budgetary notes")), plan()), False,
     ("1 required section(s) missing (deliverable / section / file): Project charter / Budget / charter.docx",),
     ("缺少 1 个必需章节（交付物 / 章节 / 文件）：项目章程 / Budget / charter.docx",), ("add each missing section",)),
    ("sections in two files", "doc.required_sections", evidence(charter(headings=("Scope",)), plan(headings=())), False,
     ("3 required section(s) missing", "Project charter / Objectives / charter.docx",
      "Project charter / Budget / charter.docx", "Project plan / Schedule / plan.md"),
     ("Project plan / Schedule / plan.md",), ()),
    ("unreadable format", "doc.required_sections",
     evidence(charter(), plan(headings=None, format="xlsx", path="/srv/plan.xlsx")), MISSING,
     ("Project plan v1: sections cannot be read from its xlsx file (plan.xlsx)",),
     ("Project plan 第 1 版：无法从其 xlsx 文件读取章节（plan.xlsx）",), ("register Project plan as md",)),
    ("unreadable and missing section is a failure", "doc.required_sections",
     evidence(charter(headings=("Objectives", "Scope")), plan(headings=None)), False,
     ("sections cannot be read from its md file", "Project charter / Budget / charter.docx"), (), ()),
    ("unregistered", "doc.required_sections", evidence(charter()), MISSING, ("Project plan (plan) is not registered",),
     (), ()),
    # doc.format_allowed
    ("formats allowed", "doc.format_allowed", evidence(*GOOD), True,
     ("all 2 deliverables are in an allowed format",), ("全部 2 项交付物的格式均符合要求",), ()),
    ("wrong format", "doc.format_allowed", evidence(charter(format="xlsx", path="/d/charter.xlsx"), plan()), False,
     ("Project charter v2 is a xlsx file (charter.xlsx); allowed formats: md, docx, pdf",),
     ("项目章程 第 2 版是xlsx 文件（charter.xlsx）；允许的格式：md、docx、pdf",),
     ("save Project charter as md or docx or pdf",)),
    ("no extension", "doc.format_allowed", evidence(charter(format="", path="/d/charter"), plan()), False,
     ("is a file without an extension (charter)",), ("无扩展名的文件",), ()),
    ("format from the path when not recorded", "doc.format_allowed",
     evidence(charter(format="", path="/d/Charter.PDF"), plan()), True, (), (), ()),
    # doc.fresh (charter: 30 days, registered 2026-05-31; the plan has no limit)
    ("exactly the maximum age", "doc.fresh", evidence(*GOOD), True,
     ("all deliverables are within their maximum age: charter 30 days",), ("charter 30 天",), ()),
    ("one day over", "doc.fresh", evidence(*GOOD, as_of=date(2026, 7, 1)), False,
     ("Project charter v2 is 31 days old (registered 2026-05-31, as of 2026-07-01); the limit is 30 days",),
     ("项目章程 第 2 版已登记 31 天（登记于 2026-05-31，截至 2026-07-01），超过 30 天的时效要求",),
     ("update Project charter",)),
    ("registered in UTC+8 on the next local day", "doc.fresh",
     evidence(charter(registered_at=datetime(2026, 6, 1, 7, 0, tzinfo=timezone(timedelta(hours=8)))), plan()),
     True, ("charter 30 days",), (), ()),
    ("no as-of date", "doc.fresh", evidence(*GOOD, as_of=None), MISSING,
     ("the evidence has no as-of date",), ("证据缺少截至日期",), ()),
    ("no registration date", "doc.fresh", evidence(charter(registered_at=None), plan()), MISSING,
     ("Project charter v2 has no registration date",), ("缺少登记日期",), ()),
    ("unregistered", "doc.fresh", evidence(plan()), MISSING, ("Project charter (charter) is not registered",), (), ()),
]
# fmt: on


@pytest.mark.parametrize(
    ("code", "ev", "expected", "words", "words_zh", "fixes"),
    [case[1:] for case in CASES],
    ids=[f"{case[1]}: {case[0]}" for case in CASES],
)
def test_criterion(
    code: str,
    ev: GateEvidence,
    expected: bool | str,
    words: tuple[str, ...],
    words_zh: tuple[str, ...],
    fixes: tuple[str, ...],
) -> None:
    result = run(code, ev)
    check(result, expected)
    assert result.code == code
    for word in words:
        assert word in result.message, result.message
    for word in words_zh:
        assert word in result.message_zh, result.message_zh
    for fix in fixes:
        assert fix in result.remediation or fix in result.remediation_zh, (result.remediation, result.remediation_zh)


@pytest.mark.parametrize(
    ("heading", "found"),
    [
        ("Budget", True),
        ("  BUDGET  ", True),
        ("3. Budget", True),
        ("3 Budget", True),
        ("2.3 Budget", True),
        ("2.3.1. Budget", True),
        ("1) Budget", True),
        ("三、Budget", True),
        ("第三章 Budget", True),
        ("第3节：Budget", True),
        ("（三）Budget", True),
        ("IV. Budget", True),
        ("b) Budget", True),
        ("Budget: 2026 to 2027", True),
        ("Budget - draft", True),
        ("Budget — draft", True),
        ("Budget draft", False),
        ("Budgetary notes", False),
        ("Over budget", False),
        ("Budget-draft", False),
        ("", False),
    ],
)
def test_section_matching(heading: str, found: bool) -> None:
    assert has_section([heading], "Budget") is found
    result = run("doc.required_sections", evidence(charter(headings=("Objectives", "Scope", heading)), plan()))
    check(result, found)
    assert result.measured == ("4/4" if found else "3/4") and result.threshold == "4/4"


def test_section_keys_keep_words_that_start_with_digits() -> None:
    assert section_key("1. 3D printing") == section_key("3D printing") == "3d printing"
    assert section_key("一、项目  范围") == "项目 范围"
    assert section_key("1.") == "1."
    assert has_section(["第二章 风险登记册"], "风险登记册")
    assert has_section(["范围：第一期"], "范围")


def test_measured_and_threshold() -> None:
    absent = run("doc.required_present", evidence(charter()))
    assert (absent.measured, absent.threshold) == ("1/2", "2/2")
    late = run("doc.fresh", evidence(*GOOD, as_of=date(2026, 7, 1)))
    assert (late.measured, late.threshold) == ("charter 31 days", "charter <= 30 days")
    wrong = run("doc.approved_by_role", evidence(charter(approved_by="pat", approver_roles=()), plan()))
    assert (wrong.measured, wrong.threshold) == ("1/2", "2/2")


def test_gate_without_applicable_deliverables_passes_with_a_plain_message() -> None:
    lifecycle = template(PLAN, gate_requires=())
    for code in DOCUMENTATION_CRITERIA:
        result = run(code, evidence(), lifecycle)
        check(result, True)
        assert result.message and result.message_zh
    plan_only = template(PLAN)
    for code, phrase in (
        ("doc.fresh", "no deliverable at this gate has a maximum age"),
        ("doc.unchanged_since_approval", "no deliverable at this gate must stay unchanged"),
    ):
        result = run(code, evidence(plan()), plan_only)
        check(result, True)
        assert phrase in result.message


def test_kind_and_remediable_come_from_the_definition() -> None:
    result = run(
        "doc.format_allowed", evidence(charter(format="xlsx"), plan()), kind=CriterionKind.SHOULD_MEET, remediable=False
    )
    assert (result.kind, result.remediable, result.passed) == (CriterionKind.SHOULD_MEET, False, False)


def test_missing_evidence_means_not_ready_and_a_failure_means_recycle() -> None:
    gone = run("doc.unchanged_since_approval", evidence(charter(current_sha256=None), plan()))
    changed = run("doc.unchanged_since_approval", evidence(charter(current_sha256=H2), plan()))
    assert recommend((gone,))[0] is Recommendation.NOT_READY
    assert recommend((changed,))[0] is Recommendation.RECYCLE
    assert recommend((gone, changed))[0] is Recommendation.RECYCLE


def test_params_are_rejected() -> None:
    assert param_problems(CriterionDef(code="doc.fresh")) == []
    problems = param_problems(CriterionDef(code="doc.fresh", params={"max_age_days": 30}))
    assert len(problems) == 1 and "unknown param 'max_age_days'" in problems[0] and "max_age_days" in problems[0]
    assert "not a documentation criterion" in param_problems(CriterionDef(code="budget.cpi_floor"))[0]
    for code in DOCUMENTATION_CRITERIA:
        with pytest.raises(InputError, match=rf"^{code}: unknown param 'strict'"):
            run(code, evidence(*GOOD), params={"strict": True})


def test_gate_naming_an_unknown_deliverable_is_an_input_error() -> None:
    lifecycle = template(CHARTER)
    broken = lifecycle.gates[0].model_copy(update={"deliverables": ("charter", "ghost")})
    with pytest.raises(InputError, match=r"gates\.g1\.deliverables: unknown deliverable 'ghost'"):
        DOCUMENTATION_CRITERIA["doc.required_present"](
            CriterionDef(code="doc.required_present"), broken, lifecycle, evidence(charter())
        )


def test_real_files_through_the_criteria(tmp_path: Path) -> None:
    """Files taken into the document store feed the criteria: a DOCX missing one section; its original edited
    after approval changes nothing; the stored copy altered or deleted fails the criterion."""
    path = tmp_path / "charter.docx"
    document = docx.Document()
    document.add_heading("1. Objectives", 1)
    document.add_heading("2. Scope", 1)
    document.add_paragraph("Budget is discussed in the appendix.")
    document.save(str(path))
    store = DocumentStore(tmp_path / "store")
    stored = store.put(path)
    doc = charter(
        path=str(path),
        sha256=stored.sha256,
        format=stored.format,
        headings=stored.headings,
        store_key=stored.key,
        current_sha256=store.sha256_of(stored.key),
    )
    sections = run("doc.required_sections", evidence(doc, plan()))
    check(sections, False)
    assert "Project charter / Budget / charter.docx" in sections.message
    check(run("doc.unchanged_since_approval", evidence(doc, plan())), True)

    document.add_heading("3. Budget", 1)
    document.save(str(path))
    after_edit = doc.model_copy(update={"current_sha256": store.sha256_of(stored.key)})
    check(run("doc.unchanged_since_approval", evidence(after_edit, plan())), True)

    copy = store.path_of(stored.key)
    copy.chmod(0o644)
    copy.write_bytes(path.read_bytes())
    tampered = doc.model_copy(update={"current_sha256": store.sha256_of(stored.key)})
    changed = run("doc.unchanged_since_approval", evidence(tampered, plan()))
    check(changed, False)
    assert stored.sha256[:12] in changed.message and "document store was altered" in changed.message

    copy.unlink()
    gone = doc.model_copy(update={"current_sha256": store.sha256_of(stored.key)})
    check(run("doc.unchanged_since_approval", evidence(gone, plan())), MISSING)
