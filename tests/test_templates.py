"""Lifecycle templates: the shipped ones load, and every broken file says exactly where and what is allowed."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import jsonschema  # type: ignore[import-untyped]  # no stubs installed; only two calls used here
import pytest
import yaml

from phasegate.gates.vocabulary.enums import ApprovalPolicyKind, CriterionKind
from phasegate.gates.vocabulary.errors import InputError, TemplateError
from phasegate.gates.vocabulary.template import LifecycleTemplate
from phasegate.models.template_yaml import (
    SCHEMA_ID,
    load_template_file,
    load_template_text,
    shipped_templates,
    template_content_hash,
    template_json_schema,
)

pytestmark = pytest.mark.unit  # pure: no database, no Prefect, no browser (make test-fast)

DATA = Path(__file__).parent / "data" / "templates"

# A valid template, the base every bad snippet below varies. Line numbers in the table refer to each snippet.
MINIMAL = """\
id: minimal
version: 1
name: Minimal
deliverables:
  - id: charter
    name: Charter
stages:
  - id: build
    name: Build
gates:
  - id: done
    name: Done
    after: build
    deliverables: [charter]
"""


def _problems(text: str) -> list[str]:
    with pytest.raises(TemplateError) as caught:
        load_template_text(textwrap.dedent(text), source="t.yaml")
    return caught.value.problems


# --- shipped templates -----------------------------------------------------------------------------------


def _shipped() -> dict[str, LifecycleTemplate]:
    """Version 1 of each shipped template (version 2 is the same lifecycle with default tolerances)."""
    return {template.id: template for _, template in shipped_templates() if template.version == 1}


def test_shipped_templates_are_it_pmo_and_cooper_5_versions_1_and_2() -> None:
    shipped = sorted((t.id, t.version) for _, t in shipped_templates())
    assert shipped == [("cooper-5", 1), ("cooper-5", 2), ("it-pmo", 1), ("it-pmo", 2)]
    for _, template in shipped_templates():
        if template.version == 2:
            first = _shipped()[template.id]
            # Version 2 adds tolerances and the monitor's automatic first review; the gates are otherwise the same.
            assert [g.model_copy(update={"auto_review": None}) for g in template.gates] == list(first.gates)
            assert template.deliverables == first.deliverables
            assert template.tolerances and not first.tolerances


def test_it_pmo_stages_gates_and_charter_standard() -> None:
    template = _shipped()["it-pmo"]
    assert [s.id for s in template.stages] == ["initiating", "planning", "executing", "closing"]
    assert [(g.id, g.after) for g in template.gates] == [
        ("ready-for-planning", "initiating"),
        ("ready-for-executing", "planning"),
        ("ready-for-closing", "executing"),
        ("closure", "closing"),
    ]
    assert template.deliverable("project-charter").required_sections == (
        "Objectives",
        "Scope",
        "Budget",
        "Sponsor",
        "Success criteria",
    )
    assert template.deliverable("project-management-plan").required_sections == (
        "Scope",
        "Schedule",
        "Cost",
        "Quality",
        "Risk",
        "Communications",
        "Change",
    )
    first_gate = template.gate("ready-for-planning")
    assert first_gate is not None
    assert set(first_gate.deliverables) == {"project-initiation-request", "business-case", "project-charter"}
    closure = template.gate("closure")
    assert closure is not None
    assert "lessons-learned" in closure.deliverables


def test_cooper_5_stages_and_gates() -> None:
    template = _shipped()["cooper-5"]
    assert [s.id for s in template.stages] == [
        "discovery",
        "scoping",
        "business-case",
        "development",
        "testing-validation",
        "launch",
    ]
    assert [(g.id, g.after) for g in template.gates] == [
        ("idea-screen", "discovery"),
        ("second-screen", "scoping"),
        ("go-to-development", "business-case"),
        ("go-to-testing", "development"),
        ("go-to-launch", "testing-validation"),
        ("post-launch-review", "launch"),
    ]
    money_gate = template.gate("go-to-development")
    assert money_gate is not None
    assert "business-case" in money_gate.deliverables
    assert "Sensitivity analysis" in template.deliverable("business-case").required_sections


DOCUMENTATION_STANDARD = [
    "doc.required_present",
    "doc.approved_by_role",
    "doc.unchanged_since_approval",
    "doc.required_sections",
    "doc.format_allowed",
]


@pytest.mark.parametrize("template_id", ["it-pmo", "cooper-5"])
def test_shipped_gates_follow_the_house_rules(template_id: str) -> None:
    template = _shipped()[template_id]
    assert template.name_zh
    for stage in template.stages:
        assert stage.name_zh, stage.id
    for gate in template.gates:
        assert gate.name_zh, gate.id
    for deliverable in template.deliverables:
        assert deliverable.name_zh, deliverable.id
        assert deliverable.required_sections, deliverable.id
        assert deliverable.approver_role in {"sponsor", "pmo"}, deliverable.id
    used = {ref for gate in template.gates for ref in gate.deliverables}
    assert used == {d.id for d in template.deliverables}, "every deliverable is required at some gate"
    for gate in template.gates:
        assert 2 <= len(gate.deliverables) <= 4, gate.id
        codes = [c.code for c in gate.criteria]
        assert codes[:5] == DOCUMENTATION_STANDARD, gate.id
        assert all(c.kind is CriterionKind.MUST_MEET for c in gate.criteria if not c.code.startswith("scorecard."))
        assert ("scorecard.pass" in codes) is (gate.scorecard is not None)
        assert gate.approval.policy is ApprovalPolicyKind.SINGLE
        assert gate.approval.approvers == ("sponsor",)


def test_shipped_content_hashes_are_stable_across_loads() -> None:
    first = {t.id: template_content_hash(t) for _, t in shipped_templates()}
    second = {t.id: template_content_hash(t) for _, t in shipped_templates()}
    assert first == second
    assert len(set(first.values())) == 2
    assert all(len(h) == 64 and int(h, 16) >= 0 for h in first.values())


def test_shipped_text_is_the_file_that_was_loaded() -> None:
    for text, template in shipped_templates():
        assert load_template_text(text, source="again.yaml") == template


# --- bad templates: exact place and a message that says what is allowed -----------------------------------

BAD = [
    pytest.param(
        MINIMAL.replace("name: Minimal\n", "name: Minimal\ncolour: red\n"),
        "t.yaml:4:1:",
        "unknown field 'colour'; allowed here: id, version, name",
        id="unknown-key",
    ),
    pytest.param(
        MINIMAL.replace("    name: Charter\n", "    name: Charter\n    owner: pmo\n"),
        "t.yaml:7:5:",
        "deliverables[0]: unknown field 'owner'; allowed here: id, name, name_zh, formats",
        id="unknown-key-nested",
    ),
    pytest.param(
        MINIMAL.replace("version: 1", "version: first"),
        "t.yaml:2:10:",
        "version: must be a whole number; found the text 'first'",
        id="wrong-type",
    ),
    pytest.param(
        MINIMAL.replace("    deliverables: [charter]", "    deliverables: [charter, plan]"),
        "t.yaml:14:29:",
        "gates[0].deliverables[1]: gate 'done' requires unknown deliverable 'plan'; deliverables are: charter",
        id="missing-deliverable-reference",
    ),
    pytest.param(
        MINIMAL.replace("after: build", "after: ship"),
        "t.yaml:13:12:",
        "gates[0].after: gate 'done' follows unknown stage 'ship'; stages are: build",
        id="unknown-stage",
    ),
    pytest.param(
        MINIMAL.replace("stages:\n", "stages:\n  - id: build\n    name: Build twice\n"),
        "t.yaml:10:9:",
        "stages[1].id: duplicate stage id 'build'; each stage id must be unique",
        id="duplicate-stage-id",
    ),
    pytest.param(
        MINIMAL.replace("    name: Charter\n", "    name: Charter\n  - id: charter\n    name: Again\n"),
        "t.yaml:7:9:",
        "duplicate deliverable id 'charter'",
        id="duplicate-deliverable-id",
    ),
    pytest.param(
        MINIMAL.replace("    name: Build\n", "    name: Build\n    name: Build again\n"),
        "t.yaml:10:5:",
        "duplicate key 'name' in this mapping (first at line 9)",
        id="duplicate-yaml-key",
    ),
    pytest.param(
        MINIMAL.replace("stages:\n  - id: build\n    name: Build\n", "stages: []\n"),
        "t.yaml:7:9:",
        "stages: must list at least 1 stage; found none",
        id="empty-stages",
    ),
    pytest.param(
        MINIMAL.replace("    deliverables: [charter]", "    deliverables: [charter"),
        "t.yaml:15:1:",
        "invalid YAML: expected ',' or ']'",
        id="malformed-yaml",
    ),
    pytest.param(
        MINIMAL.replace("  - id: charter\n", "  - id: charter\n\tname: tab\n"),
        "t.yaml:6:1:",
        "invalid YAML: found character '\\t' that cannot start any token",
        id="tab-indentation",
    ),
    pytest.param(
        "- id: minimal\n- version: 1\n",
        "t.yaml:1:1:",
        "the top level must be a mapping with id, version, name, stages, gates; found a list",
        id="non-mapping-top-level",
    ),
    pytest.param(
        "just a sentence\n",
        "t.yaml:1:1:",
        "found the value 'just a sentence'",
        id="scalar-top-level",
    ),
    pytest.param("# nothing here\n", "t.yaml:1:1:", "the template is empty", id="empty-file"),
    pytest.param(
        MINIMAL + "    approval:\n      policy: unanimous\n",
        "t.yaml:16:15:",
        "gates[0].approval.policy: the text 'unanimous' is not allowed; use one of 'single', 'all', 'any', "
        "'m_of_n', 'percentage', 'per_group' or 'sequential'",
        id="bad-enum-value",
    ),
    pytest.param(
        MINIMAL + "    criteria:\n      - code: doc.present\n        kind: must\n",
        "t.yaml:17:15:",
        "use one of 'must_meet' or 'should_meet'",
        id="bad-criterion-kind",
    ),
    pytest.param(
        MINIMAL.replace("  - id: done", "  - id: Done Gate"),
        "t.yaml:11:9:",
        "gates[0].id: the text 'Done Gate' is not an id of lowercase letters, digits and hyphens",
        id="bad-slug",
    ),
    pytest.param(
        MINIMAL.replace("    name: Done\n", ""),
        "t.yaml:11:5:",
        "gates[0]: missing required field 'name' (required here: id, name, after)",
        id="missing-field",
    ),
    pytest.param(
        MINIMAL.replace("version: 1\n", ""),
        "t.yaml:1:1:",
        "top level: missing required field 'version'",
        id="missing-top-level-field",
    ),
    pytest.param(
        MINIMAL + "    approval:\n      approvers: [sponsor, pmo]\n",
        "t.yaml:16:7:",
        "gates[0].approval: policy 'single' takes exactly one approver role",
        id="single-with-two-approvers",
    ),
    pytest.param(
        MINIMAL + "    criteria:\n      - code: budget.cpi_floor\n        params: {floor: [0.9]}\n",
        "t.yaml:17:25:",
        "params.floor: must be text, a number or true/false; found a list",
        id="criterion-param-list",
    ),
    pytest.param(
        MINIMAL + "    criteria:\n      - code: budget.cpi_floor\n        params: {floor: .nan}\n",
        "t.yaml:17:25:",
        "params.floor: must be text, a finite number or true/false",
        id="criterion-param-nan",
    ),
    pytest.param(
        MINIMAL + "    sla_business_days: 90\n",
        "t.yaml:15:24:",
        "gates[0].sla_business_days: must be at most 60; found the number 90",
        id="sla-out-of-range",
    ),
    pytest.param(
        MINIMAL + "  - id: done-again\n    name: Again\n    after: build\n",
        "t.yaml:17:12:",
        "gates[1].after: stage 'build' is closed by more than one gate",
        id="two-gates-one-stage",
    ),
    pytest.param(
        MINIMAL + "---\nid: second\n",
        "t.yaml:15:1:",
        "invalid YAML: expected a single document in the stream, but found another document",
        id="two-documents",
    ),
    pytest.param(
        MINIMAL.replace("name: Minimal", "name: !!python/object/apply:os.system [echo hacked]"),
        "t.yaml:3:7:",
        "could not determine a constructor for the tag 'tag:yaml.org,2002:python/object/apply:os.system'",
        id="unsafe-tag-refused",
    ),
    pytest.param(
        MINIMAL.replace("name: Minimal", "name: bell\x07"),
        "t.yaml:3:11:",
        "control character U+0007 is not allowed",
        id="control-character",
    ),
]


@pytest.mark.parametrize(("text", "where", "fragment"), BAD)
def test_bad_template_points_at_the_exact_place(text: str, where: str, fragment: str) -> None:
    problems = _problems(text)
    located = [p for p in problems if p.startswith(where + " ")]
    assert located, f"no problem at {where}: {problems}"
    assert any(fragment in p for p in located), f"{fragment!r} not in {located}"


def test_bad_minimal_base_is_itself_valid() -> None:
    """The table above only means something if the base it varies loads cleanly."""
    assert load_template_text(MINIMAL, source="t.yaml").gates[0].deliverables == ("charter",)


def test_all_problems_are_reported_sorted_by_line() -> None:
    path = DATA / "many-problems.yaml"
    with pytest.raises(TemplateError) as caught:
        load_template_file(path)
    problems = caught.value.problems
    assert [p.split(" ", 1)[0] for p in problems] == [
        f"{path}:{place}:" for place in ("1:5", "2:10", "4:1", "8:9", "13:5", "15:5", "16:12", "17:29", "19:15")
    ]
    assert caught.value.code == "template.invalid"
    assert str(path) in caught.value.message
    assert "9 problems" in caught.value.message
    assert problems[0] in caught.value.message


def test_field_error_and_cross_reference_at_one_place_report_once() -> None:
    problems = _problems(MINIMAL.replace("after: build", "after: [build]"))
    assert problems == ["t.yaml:13:12: gates[0].after: must be text; found a list"]


def test_duplicate_key_detection_ignores_merge_keys_and_follows_aliases() -> None:
    text = MINIMAL.replace("    name: Done\n", "    <<: &base {name: Done}\n")
    assert load_template_text(text, source="t.yaml").gates[0].name == "Done"
    nested = MINIMAL + "    approval: &a {policy: any, policy: all, approvers: [sponsor]}\n"
    assert _problems(nested) == [
        "t.yaml:15:32: duplicate key 'policy' in this mapping (first at line 15); each key may appear once"
    ]


# --- files ------------------------------------------------------------------------------------------------


def test_load_template_file_reads_a_valid_file() -> None:
    template = load_template_file(DATA / "minimal.yaml")
    assert template.id == "minimal"
    assert template.name_zh == "最小生命周期"


def test_missing_file_is_an_input_error_naming_path_and_reason(tmp_path: Path) -> None:
    missing = tmp_path / "absent.yaml"
    with pytest.raises(InputError) as caught:
        load_template_file(missing)
    assert not isinstance(caught.value, TemplateError)
    assert str(missing) in caught.value.message
    assert "No such file" in caught.value.message


def test_directory_is_an_input_error_with_the_os_reason(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"cannot read template file .*: Is a directory"):
        load_template_file(tmp_path)


def test_non_utf8_file_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(MINIMAL.replace("Minimal", "Caf\xe9").encode("latin-1"))
    with pytest.raises(InputError) as caught:
        load_template_file(path)
    assert str(path) in caught.value.message
    assert "not UTF-8" in caught.value.message
    assert "byte 0xe9 at offset 32" in caught.value.message


def test_utf8_bom_is_accepted_and_problems_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode("utf-8"))
    assert load_template_file(path).id == "minimal"
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.replace("version: 1", "version: 0").encode("utf-8"))
    with pytest.raises(TemplateError) as caught:
        load_template_file(path)
    assert caught.value.problems == [f"{path}:2:10: version: must be at least 1; found the number 0"]


# --- content hash -----------------------------------------------------------------------------------------


def test_hash_ignores_key_order_formatting_and_comments() -> None:
    block = load_template_file(DATA / "minimal.yaml")
    flow = load_template_file(DATA / "minimal-reordered.yaml")
    assert template_content_hash(block) == template_content_hash(flow)


def test_hash_changes_with_content() -> None:
    base = load_template_file(DATA / "minimal.yaml")
    text = (DATA / "minimal.yaml").read_text(encoding="utf-8")
    changed = load_template_text(text.replace("[Objectives, Scope]", "[Objectives, Scope, Budget]"), source="c")
    bumped = load_template_text(text.replace("version: 1", "version: 2"), source="v")
    hashes = {template_content_hash(t) for t in (base, changed, bumped)}
    assert len(hashes) == 3


# --- JSON schema ------------------------------------------------------------------------------------------


def test_json_schema_is_json_with_title_id_and_top_level_properties() -> None:
    schema = json.loads(json.dumps(template_json_schema()))
    assert schema["$id"] == SCHEMA_ID
    assert schema["title"] == "phasegate lifecycle template"
    assert set(schema["properties"]) == {
        "id",
        "version",
        "name",
        "name_zh",
        "description",
        "deliverables",
        "stages",
        "gates",
        "risk_scale",
        "calendar",
        "tolerances",
    }
    assert {"id", "version", "name", "stages", "gates"} <= set(schema["required"])
    jsonschema.Draft202012Validator.check_schema(schema)


def test_json_schema_accepts_shipped_templates_and_rejects_an_unknown_key() -> None:
    validator = jsonschema.Draft202012Validator(template_json_schema())
    for text, _ in shipped_templates():
        validator.validate(yaml.safe_load(text))
    bad = yaml.safe_load(MINIMAL)
    bad["gates"][0]["colour"] = "red"
    assert not validator.is_valid(bad)


def test_shipped_templates_name_only_known_criteria_with_valid_params() -> None:
    from phasegate.flows.runtime import template_check

    for _, template in shipped_templates():
        assert template_check(template) == [], template.id
