"""The gate packet: a standalone bilingual HTML document built from a real evaluation and real EVM figures."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import pytest

from phasegate.gates.evm import compute
from phasegate.gates.vocabulary.enums import CriterionKind, Recommendation
from phasegate.gates.vocabulary.errors import InputError
from phasegate.gates.vocabulary.evidence import EvmSnapshot
from phasegate.gates.vocabulary.snapshots import CriterionResult, DeliverableStatus, Evaluation
from phasegate.notifications.packet import parse_packet, render_packet

pytestmark = pytest.mark.unit  # pure: no database, no Prefect, no browser (make test-fast)

EVIDENCE = "9" * 64
CHARTER_SHA = "1" * 64
PLAN_SHA = "2" * 64


def _evaluation() -> Evaluation:
    return Evaluation(
        project_key="ERP-7",
        gate_id="g2",
        recommendation=Recommendation.CONDITIONAL_GO,
        reasons=("budget.cpi_floor failed: CPI 0.82 is below the floor 0.90",),
        criteria=(
            CriterionResult(
                code="doc.required_present",
                kind=CriterionKind.MUST_MEET,
                remediable=True,
                passed=True,
                message="All required documents are registered",
                message_zh="所有必需文件均已登记",
            ),
            CriterionResult(
                code="budget.cpi_floor",
                kind=CriterionKind.SHOULD_MEET,
                remediable=True,
                passed=False,
                measured="0.8200",
                threshold=">= 0.90",
                message="CPI 0.82 is below the floor 0.90",
                message_zh="成本绩效指数 0.82 低于下限 0.90",
                remediation="Submit a recovery plan",
                remediation_zh="提交纠偏计划",
            ),
            CriterionResult(
                code="risk.no_open_critical",
                kind=CriterionKind.MUST_MEET,
                remediable=True,
                passed=False,
                evidence_missing=True,
                message="No risk register was submitted",
                message_zh="未提交风险登记册",
                remediation="Register the risk register",
                remediation_zh="登记风险登记册",
            ),
        ),
        required_deliverables=(
            DeliverableStatus(id="charter", present=True, approved=True, version=3, sha256=CHARTER_SHA),
            DeliverableStatus(id="plan", present=True, approved=False, version=1, sha256=PLAN_SHA),
            DeliverableStatus(id="risk_register", present=False, approved=False),
        ),
        evidence_hash=EVIDENCE,
    )


def _packet(**extra: Any) -> dict[str, Any]:
    evm = compute(
        EvmSnapshot(
            as_of=date(2026, 2, 28),
            bac=Decimal("1200000"),
            pv=Decimal("400000"),
            ev=Decimal("328000"),
            ac=None,
        )
    )
    packet: dict[str, Any] = _evaluation().model_dump(mode="json") | {
        "project_name": "ERP rollout",
        "gate_name": "Gate 2: Plan approval",
        "gate_name_zh": "关口2：计划审批",
        "round_id": "0b6f3c4e-1111-4a2b-9c3d-000000000001",
        "evm": evm.as_json(),
        "risks": [
            {
                "id": "R-3",
                "title": "Vendor delay",
                "title_zh": "供应商延期",
                "owner": "li",
                "probability": 4,
                "impact": 4,
                "score": 16,
                "response": "mitigate",
                "status": "open",
            },
        ],
        "scorecard": {
            "factors": [
                {"factor": "fit", "name": "Strategic fit", "name_zh": "战略契合度", "floor": 4, "mean": "7.50"},
                {
                    "factor": "tech",
                    "name": "Technical feasibility",
                    "name_zh": "技术可行性",
                    "floor": 4,
                    "mean": "3.50",
                    "below_floor": True,
                },
            ],
            "weighted_mean": "5.50",
            "percent_of_max": "55.0",
            "pass_percent": 60.0,
            "passed": False,
            "gatekeepers": ["wang", "li"],
        },
        "votes": [
            {
                "voter_id": "wang",
                "voter_name": "Wang Fang",
                "decision": "conditional_go",
                "reason": "Fix CPI",
                "cast_at": "2026-03-02T10:00:00+00:00",
            }
        ],
        "pending": ["li", "zhao"],
    }
    return packet | extra


class _Collect(HTMLParser):
    VOID = frozenset({"meta", "br", "hr", "img", "link", "input"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1] if self.stack else None}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _read(html: str) -> _Collect:
    parser = _Collect()
    parser.feed(html)
    parser.close()
    assert parser.stack == []
    return parser


def test_packet_holds_every_criterion_document_hash_and_figure() -> None:
    html = render_packet(_packet(), "en")
    seen = " ".join(_read(html).text)

    assert html.startswith("<!DOCTYPE html>") and '<html lang="en">' in html
    for criterion in _evaluation().criteria:
        assert criterion.code in seen
        assert criterion.message in seen
    assert "0.8200" in seen and ">= 0.90" in seen and "Submit a recovery plan" in seen
    assert "MISSING" in seen and "FAIL" in seen and "PASS" in seen
    assert EVIDENCE in seen and CHARTER_SHA in seen and PLAN_SHA in seen
    assert re.search(r"charter\s+yes\s+yes\s+3\s+" + CHARTER_SHA, seen)
    assert "Conditional go" in seen
    assert "1,200,000.00" in seen and "328,000.00" in seen and "27.33%" in seen  # BAC, EV, % complete
    assert "Vendor delay" in seen and "4 × 4 = 16" in seen
    assert "Technical feasibility" in seen and "below floor" in seen and "55.0%" in seen
    assert "Wang Fang" in seen and "2026-03-02 10:00 UTC" in seen and "li, zhao" in seen


def test_undefined_evm_figures_say_not_available_never_a_number() -> None:
    seen = " ".join(_read(render_packet(_packet(), "en")).text)

    for name in ("AC (actual cost)", "CPI (cost performance index)", "EAC, variances continue (BAC / CPI)"):
        assert re.search(re.escape(name) + r"\s+not available", seen), name
    assert re.search(r"SPI \(schedule performance index\)\s+0\.82", seen)


def test_packet_in_chinese_uses_chinese_headings_and_texts() -> None:
    seen = " ".join(_read(render_packet(_packet(), "zh-CN")).text)

    for word in (
        "阶段门评审材料包",
        "关口2：计划审批",
        "有条件通过",
        "成本绩效指数 0.82 低于下限 0.90",
        "提交纠偏计划",
        "缺少证据",
        "挣值分析",
        "不可用",
        "风险登记册",
        "供应商延期",
        "战略契合度",
        "尚未投票",
        "li、zhao",
    ):
        assert word in seen, word
    assert "Submit a recovery plan" not in seen


def test_packet_is_standalone_with_no_external_assets_or_scripts() -> None:
    html = render_packet(_packet(), "en")
    parsed = _read(html)

    assert not [tag for tag, _ in parsed.tags if tag in {"script", "link", "img", "iframe", "object", "embed"}]
    assert not [attrs for _, attrs in parsed.tags if "src" in attrs or "href" in attrs]
    assert "url(" not in html and "@import" not in html and "http" not in html.lower().replace("http-equiv", "")


def test_packet_escapes_user_text() -> None:
    packet = _packet(project_name="<script>alert(1)</script>")
    packet["criteria"][1]["message"] = '<img src=x onerror="alert(2)">'

    html = render_packet(packet, "en")

    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_minimal_evaluation_dump_renders_without_optional_sections() -> None:
    html = render_packet(_evaluation().model_dump(mode="json"), "zh-CN")
    seen = " ".join(_read(html).text)

    assert "暂无投票" in seen and EVIDENCE in seen
    assert "挣值分析" not in seen and "评分卡" not in seen


@pytest.mark.parametrize(
    ("change", "field"),
    [({"evidence_hash": None}, "evidence_hash"), ({"criteria": [{"code": "x"}]}, "criteria.0.passed")],
)
def test_invalid_packet_is_an_input_error_naming_the_field(change: dict[str, Any], field: str) -> None:
    packet = _packet() | change
    if change.get("evidence_hash", "") is None:
        del packet["evidence_hash"]
    with pytest.raises(InputError, match=re.escape(field)):
        parse_packet(packet)


def test_unknown_locale_is_an_input_error() -> None:
    with pytest.raises(InputError, match="locale 'fr'"):
        render_packet(_packet(), "fr")
