"""The gate packet: one standalone HTML document with everything a gatekeeper needs to decide.

Attached to every approval request, so it must stand alone: no scripts, no stylesheets, fonts or images
from elsewhere (mail clients block them and an archived copy must still read the same in seven years).
It shows the evidence the approver signs against: the evidence hash, every criterion with what was
measured, the threshold and the fix, each document with its version and sha256, the EVM figures (a figure
that is undefined says so; it is never shown as "on budget"), risks, the scorecard, and who has voted.

Input is a plain dict, as stored in the outbox: ``Evaluation.model_dump(mode="json")`` plus optional
``project_name``, ``gate_name``, ``gate_name_zh``, ``round_id``, ``generated_at``, ``evm``
(``EvmFigures.as_json()``), ``risks`` (list of {id, title, owner?, probability?, impact?, score?,
response?, status?}), ``scorecard`` (``ScorecardSummary.model_dump(mode="json")``), ``votes`` (list of
{voter_id, voter_name?, decision, reason?, cast_at?}) and ``pending`` (approver ids yet to vote).
Unknown keys are ignored so the packet keeps working as the evaluation grows.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from phasegate.gates.vocabulary.errors import InputError
from phasegate.notifications.render import LOCALES, environment

PACKET_TEMPLATE = "packet.html.j2"


class _Input(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class PacketCriterion(_Input):
    code: str
    kind: str = ""
    passed: bool
    evidence_missing: bool = False
    measured: str | None = None
    threshold: str | None = None
    message: str
    message_zh: str = ""
    remediation: str = ""
    remediation_zh: str = ""
    evidence_ref: str = ""


class PacketDocument(_Input):
    id: str
    title: str = ""
    title_zh: str = ""
    present: bool = True
    approved: bool = False
    version: int | None = None
    sha256: str | None = None


class PacketLesson(_Input):
    """A lesson learned the review chose for this gate (``gates.relevance``)."""

    id: int
    project_key: str
    category: str
    what_happened: str
    repeat: str = ""
    avoid: str = ""
    score: int = 0


class PacketRisk(_Input):
    id: str
    title: str
    title_zh: str = ""
    owner: str = ""
    probability: int | None = None
    impact: int | None = None
    score: int | None = None
    response: str = ""
    status: str = ""


class PacketVote(_Input):
    voter_id: str
    voter_name: str = ""
    decision: str
    reason: str = ""
    cast_at: str = ""


class PacketFactor(_Input):
    factor: str = ""
    name: str
    name_zh: str | None = None
    floor: int | None = None
    mean: str | None = None
    below_floor: bool = False


class PacketScorecard(_Input):
    factors: tuple[PacketFactor, ...] = ()
    weighted_mean: str | None = None
    percent_of_max: str | None = None
    pass_percent: float | None = None
    passed: bool | None = None
    gatekeepers: tuple[str, ...] = ()


class PacketInput(_Input):
    project_key: str
    project_name: str = ""
    gate_id: str
    gate_name: str = ""
    gate_name_zh: str = ""
    round_id: str | None = None
    generated_at: str | None = None
    recommendation: str
    reasons: tuple[str, ...] = ()
    criteria: tuple[PacketCriterion, ...]
    required_deliverables: tuple[PacketDocument, ...] = ()
    evidence_hash: str
    evm: dict[str, str | None] | None = None
    risks: tuple[PacketRisk, ...] = ()
    lessons: tuple[PacketLesson, ...] = ()
    scorecard: PacketScorecard | None = None
    votes: tuple[PacketVote, ...] = ()
    pending: tuple[str, ...] = Field(default=())


# EVM rows in reading order: (key, shown as, English name, Chinese name).
EVM_ROWS: tuple[tuple[str, str, str, str], ...] = (
    ("bac", "money", "BAC (budget at completion)", "完工预算（BAC）"),
    ("pv", "money", "PV (planned value)", "计划价值（PV）"),
    ("ev", "money", "EV (earned value)", "挣值（EV）"),
    ("ac", "money", "AC (actual cost)", "实际成本（AC）"),
    ("cv", "money", "CV (cost variance)", "成本偏差（CV）"),
    ("sv", "money", "SV (schedule variance)", "进度偏差（SV）"),
    ("cv_pct", "percent", "CV %", "成本偏差率（CV%）"),
    ("sv_pct", "percent", "SV %", "进度偏差率（SV%）"),
    ("cpi", "ratio", "CPI (cost performance index)", "成本绩效指数（CPI）"),
    ("spi", "ratio", "SPI (schedule performance index)", "进度绩效指数（SPI）"),
    ("eac_cpi", "money", "EAC, variances continue (BAC / CPI)", "完工估算 EAC（按当前 CPI）"),
    ("eac_atypical", "money", "EAC, variance was one-off", "完工估算 EAC（偏差为一次性）"),
    ("eac_cpi_spi", "money", "EAC, cost and schedule drive", "完工估算 EAC（CPI × SPI）"),
    ("eac_bottom_up", "money", "EAC, bottom-up", "完工估算 EAC（自下而上）"),
    ("etc", "money", "ETC (estimate to complete)", "完工尚需估算（ETC）"),
    ("vac", "money", "VAC (variance at completion)", "完工偏差（VAC）"),
    ("tcpi_bac", "ratio", "TCPI to BAC", "完工尚需绩效指数（TCPI，对 BAC）"),
    ("tcpi_eac", "ratio", "TCPI to EAC", "完工尚需绩效指数（TCPI，对 EAC）"),
    ("percent_complete", "percent", "% complete", "完成百分比"),
    ("percent_spent", "percent", "% spent", "支出百分比"),
)

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "heading": "Gate packet",
        "project": "Project",
        "gate": "Gate",
        "round": "Approval round",
        "generated": "Prepared",
        "recommendation": "Recommendation",
        "advice": "A recommendation is advice; only the gatekeepers decide.",
        "evidence_hash": "Evidence hash (sha256)",
        "evidence_note": "Votes are bound to this hash: if the evidence changes, the round is re-opened.",
        "reasons": "Why",
        "criteria": "Criteria",
        "result": "Result",
        "criterion": "Criterion",
        "kind": "Kind",
        "finding": "Finding",
        "measured": "Measured",
        "threshold": "Threshold",
        "fix": "How to fix",
        "none_recorded": "None recorded.",
        "documents": "Documents",
        "document": "Document",
        "present": "Present",
        "approved": "Approved",
        "version": "Version",
        "sha256": "sha256",
        "yes": "yes",
        "no": "no",
        "evm": "Earned value",
        "figure": "Figure",
        "value": "Value",
        "not_available": "not available",
        "as_of": "As of",
        "risks": "Risks",
        "lessons": "Lessons learned from earlier projects",
        "repeat": "Repeat",
        "avoid": "Avoid",
        "risk": "Risk",
        "owner": "Owner",
        "pxi": "P × I",
        "response": "Response",
        "status": "Status",
        "scorecard": "Scorecard",
        "factor": "Factor",
        "mean": "Mean",
        "floor": "Floor",
        "below_floor": "below floor",
        "overall": "Weighted mean",
        "percent_of_max": "Percent of maximum",
        "pass_mark": "Pass mark",
        "scorecard_passed": "Scorecard passed",
        "votes": "Votes",
        "approver": "Approver",
        "decision": "Decision",
        "reason": "Reason",
        "cast_at": "Cast at (UTC)",
        "pending": "Not yet voted",
        "no_votes": "No votes yet.",
    },
    "zh-CN": {
        "heading": "阶段门评审材料包",
        "project": "项目",
        "gate": "阶段门",
        "round": "审批轮次",
        "generated": "生成时间",
        "recommendation": "系统建议",
        "advice": "系统建议仅供参考，由阶段门评审人决定。",
        "evidence_hash": "证据哈希（sha256）",
        "evidence_note": "投票与该哈希绑定：证据变更后，审批将重新发起。",
        "reasons": "原因",
        "criteria": "评审标准",
        "result": "结果",
        "criterion": "标准",
        "kind": "类型",
        "finding": "说明",
        "measured": "实测值",
        "threshold": "阈值",
        "fix": "处理建议",
        "none_recorded": "暂无记录。",
        "documents": "交付文件",
        "document": "文件",
        "present": "已提交",
        "approved": "已批准",
        "version": "版本",
        "sha256": "sha256",
        "yes": "是",
        "no": "否",
        "evm": "挣值分析",
        "figure": "指标",
        "value": "数值",
        "not_available": "不可用",
        "as_of": "数据日期",
        "risks": "风险登记册",
        "lessons": "以往项目的经验教训",
        "repeat": "值得重复",
        "avoid": "应当避免",
        "risk": "风险",
        "owner": "负责人",
        "pxi": "概率 × 影响",
        "response": "应对策略",
        "status": "状态",
        "scorecard": "评分卡",
        "factor": "评分项",
        "mean": "平均分",
        "floor": "最低分",
        "below_floor": "低于最低分",
        "overall": "加权平均分",
        "percent_of_max": "占满分比例",
        "pass_mark": "通过线",
        "scorecard_passed": "评分卡是否通过",
        "votes": "投票情况",
        "approver": "审批人",
        "decision": "意见",
        "reason": "理由",
        "cast_at": "投票时间（UTC）",
        "pending": "尚未投票",
        "no_votes": "暂无投票。",
    },
}


def parse_packet(evaluation: Mapping[str, Any]) -> PacketInput:
    """Validate the packet dict; InputError names the first field that is missing or of the wrong type."""
    try:
        return PacketInput.model_validate(dict(evaluation))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "packet"
        raise InputError(f"gate packet: {where}: {first['msg']}") from None


def render_packet(evaluation: Mapping[str, Any], locale: str) -> str:
    """The gate packet as a complete HTML document in ``locale`` (en or zh-CN)."""
    if locale not in LOCALES:
        raise InputError(f"gate packet locale {locale!r} is not supported; allowed: {', '.join(LOCALES)}")
    packet = parse_packet(evaluation)
    evm_rows = []
    if packet.evm is not None:
        zh = locale == "zh-CN"
        for key, shape, name_en, name_zh in EVM_ROWS:
            if key in packet.evm:
                evm_rows.append({"name": name_zh if zh else name_en, "value": _figure(packet.evm[key], shape)})
    return (
        environment(locale, html=True)
        .get_template(PACKET_TEMPLATE)
        .render(
            packet=packet,
            evm_rows=evm_rows,
            evm_as_of=(packet.evm or {}).get("as_of"),
            t=WORDS[locale],
            message_locale=locale,
        )
    )


def _figure(value: str | None, shape: str) -> str | None:
    """A figure as a reader expects it; None stays None (the template says "not available")."""
    if value is None:
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        return value
    if shape == "percent":
        return f"{(number * 100).quantize(Decimal('0.01'))}%"
    if shape == "money":
        return f"{number.quantize(Decimal('0.01')):,}"
    return str(number)
