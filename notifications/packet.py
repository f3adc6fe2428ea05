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

from phasegate.gates.vocabulary import terms
from phasegate.gates.vocabulary.errors import InputError
from phasegate.gates.vocabulary.text import Catalog, Text
from phasegate.notifications.render import LOCALES, environment

PACKET_TEMPLATE = "packet.html.j2"


class _Input(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="ignore", frozen=True)


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


# EVM rows in reading order: (key, shown as, name).
EVM_ROWS: tuple[tuple[str, str, Text], ...] = (
    ("bac", "money", Text("BAC (budget at completion)", "完工预算（BAC）")),
    ("pv", "money", Text("PV (planned value)", "计划价值（PV）")),
    ("ev", "money", Text("EV (earned value)", "挣值（EV）")),
    ("ac", "money", Text("AC (actual cost)", "实际成本（AC）")),
    ("cv", "money", Text("CV (cost variance)", "成本偏差（CV）")),
    ("sv", "money", Text("SV (schedule variance)", "进度偏差（SV）")),
    ("cv_pct", "percent", Text("CV %", "成本偏差率（CV%）")),
    ("sv_pct", "percent", Text("SV %", "进度偏差率（SV%）")),
    ("cpi", "ratio", Text("CPI (cost performance index)", "成本绩效指数（CPI）")),
    ("spi", "ratio", Text("SPI (schedule performance index)", "进度绩效指数（SPI）")),
    ("eac_cpi", "money", Text("EAC, variances continue (BAC / CPI)", "完工估算 EAC（按当前 CPI）")),
    ("eac_atypical", "money", Text("EAC, variance was one-off", "完工估算 EAC（偏差为一次性）")),
    ("eac_cpi_spi", "money", Text("EAC, cost and schedule drive", "完工估算 EAC（CPI × SPI）")),
    ("eac_bottom_up", "money", Text("EAC, bottom-up", "完工估算 EAC（自下而上）")),
    ("etc", "money", Text("ETC (estimate to complete)", "完工尚需估算（ETC）")),
    ("vac", "money", Text("VAC (variance at completion)", "完工偏差（VAC）")),
    ("tcpi_bac", "ratio", Text("TCPI to BAC", "完工尚需绩效指数（TCPI，对 BAC）")),
    ("tcpi_eac", "ratio", Text("TCPI to EAC", "完工尚需绩效指数（TCPI，对 EAC）")),
    ("percent_complete", "percent", Text("% complete", "完成百分比")),
    ("percent_spent", "percent", Text("% spent", "支出百分比")),
)

WORDS = Catalog(
    "gate packet",
    {
        "heading": terms.GATE_PACKET,
        "project": terms.PROJECT,
        "gate": terms.GATE,
        "round": Text("Approval round", "审批轮次"),
        "generated": Text("Prepared", "生成时间"),
        "recommendation": terms.RECOMMENDATION,
        "advice": terms.ADVICE,
        "evidence_hash": terms.EVIDENCE_HASH,
        "evidence_note": Text(
            "Votes are bound to this hash: if the evidence changes, the round is re-opened.",
            "投票与该哈希绑定：证据变更后，审批将重新发起。",
        ),
        "reasons": terms.WHY,
        "criteria": terms.CRITERIA,
        "result": terms.RESULT,
        "criterion": terms.CRITERION,
        "kind": terms.KIND,
        "finding": terms.FINDING,
        "measured": terms.MEASURED,
        "threshold": terms.THRESHOLD,
        "fix": terms.HOW_TO_FIX,
        "none_recorded": Text("None recorded.", "暂无记录。"),
        "documents": terms.DOCUMENTS,
        "document": terms.DOCUMENT,
        "present": terms.PRESENT,
        "approved": terms.APPROVED,
        "version": terms.VERSION,
        "sha256": Text("sha256", "sha256"),
        "yes": terms.YES,
        "no": terms.NO,
        "evm": terms.EARNED_VALUE,
        "figure": terms.FIGURE,
        "value": terms.VALUE,
        "not_available": terms.NOT_AVAILABLE,
        "as_of": terms.AS_OF,
        "risks": Text("Risks", "风险登记册"),
        "lessons": Text("Lessons learned from earlier projects", "以往项目的经验教训"),
        "repeat": terms.REPEAT,
        "avoid": terms.AVOID,
        "risk": terms.RISK,
        "owner": terms.OWNER,
        "pxi": terms.PXI,
        "response": terms.RESPONSE,
        "status": terms.STATUS,
        "scorecard": terms.SCORECARD,
        "factor": terms.FACTOR,
        "mean": terms.MEAN,
        "floor": terms.FLOOR,
        "below_floor": terms.BELOW_FLOOR,
        "overall": terms.WEIGHTED_MEAN,
        "percent_of_max": terms.PERCENT_OF_MAXIMUM,
        "pass_mark": Text("Pass mark", "通过线"),
        "scorecard_passed": Text("Scorecard passed", "评分卡是否通过"),
        "votes": terms.VOTES,
        "approver": terms.APPROVER,
        "decision": terms.VOTE_DECISION,
        "reason": terms.REASON,
        "cast_at": terms.CAST_AT,
        "pending": terms.NOT_YET_VOTED,
        "no_votes": terms.NO_VOTES,
    },
)


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
        for key, shape, name in EVM_ROWS:
            if key in packet.evm:
                evm_rows.append({"name": name.in_locale(locale), "value": _figure(packet.evm[key], shape)})
    return (
        environment(locale, html=True)
        .get_template(PACKET_TEMPLATE)
        .render(
            packet=packet,
            evm_rows=evm_rows,
            evm_as_of=(packet.evm or {}).get("as_of"),
            t=WORDS.words(locale),
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
