"""The report's words in English and Simplified Chinese (numbers and codes are the same in both).

A ``Catalog`` (``gates.vocabulary.text``); words the pages and messages show too come from
``gates.vocabulary.terms``, in lower case where the report writes them inside a cell or a sentence.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from phasegate.gates.vocabulary import terms
from phasegate.gates.vocabulary.text import Catalog, Text

LABELS = Catalog(
    "portfolio report",
    {
        "title": Text("Portfolio report", "项目组合报告"),
        "period": Text("Period", "报告期"),
        "generated": Text("Generated", "生成时间"),
        "totals": Text("Projects", "项目数"),
        "portfolio": terms.PORTFOLIO,
        "project": terms.PROJECT,
        "name": Text("Name", "名称"),
        "template": Text("Template", "模板"),
        "stage": terms.STAGE,
        "status": terms.STATUS,
        "sponsor": terms.SPONSOR,
        "as_of": Text("EVM as of", "挣值数据日期"),
        "cpi": Text("CPI", "CPI"),
        "spi": Text("SPI", "SPI"),
        "eac": Text("EAC", "完工估算 EAC"),
        "bac": Text("BAC", "完工预算 BAC"),
        "budget_rag": Text("Budget RAG", "预算红黄绿"),
        "schedule_rag": Text("Schedule RAG", "进度红黄绿"),
        "next_gate": Text("Next gate", "下一关口"),
        "next_gate_due": Text("Gate due", "关口截止"),
        "open_conditions": Text("Open conditions", "未关闭条件"),
        "rag_time": Text("Time RAG", "时间红黄绿"),
        "rag_cost": Text("Cost RAG", "成本红黄绿"),
        "rag_quality": Text("Quality RAG", "质量红黄绿"),
        "rag_risk": Text("Risk RAG", "风险红黄绿"),
        "rag_overall": Text("Overall RAG", "总体红黄绿"),
        "none_rag": Text("none", "无"),
        "scope": terms.SCOPE,
        "tolerance_level": Text("Level", "层级"),
        "baseline": terms.BASELINE,
        "forecast": terms.FORECAST,
        "deviation": terms.DEVIATION,
        "allowance": terms.TOLERANCE,
        "raised_at": Text("Raised at", "提出时间"),
        "dim_time": Text("time", "时间"),
        "dim_cost": terms.COST.lower(),
        "dim_quality": terms.QUALITY.lower(),
        "dim_risk": terms.RISK.lower(),
        "dim_scope": terms.SCOPE.lower(),
        "dim_benefits": terms.BENEFITS.lower(),
        "whole_project": terms.WHOLE_PROJECT,
        "corporate": Text("corporate", "公司层"),
        "project_board": terms.PROJECT_BOARD.lower(),
        "project_manager": terms.PROJECT_MANAGER.lower(),
        "exception_open": Text("open", "未关闭"),
        "approve_plan": Text("exception plan approved", "批准例外计划"),
        "premature_close": Text("premature close", "提前关闭"),
        "accept": Text("accepted", "接受"),
        "open_exceptions": Text("Open exceptions", "未关闭例外"),
        "attention_note": Text(
            "{shown} of {total} projects: those red or amber, or with an open exception or condition, worst first. "
            "Every project is in the HTML and XLSX files of this report.",
            "共 {total} 个项目，此处列出需关注的 {shown} 个（红色、黄色，或有未关闭的例外或条件），最严重的在前。"
            "全部项目见本报告的 HTML 与 XLSX 文件。",
        ),
        "funnel": Text("Pipeline funnel (active projects by stage)", "项目管道漏斗（各阶段在建项目）"),
        "rag_trend": Text("RAG trend (EVM: worse of CPI and SPI bands)", "红黄绿趋势（挣值：CPI 与 SPI 中较差者）"),
        "s_curve": Text("Portfolio EVM S-curve", "项目组合挣值 S 曲线"),
        "bubble": Text("Portfolio balance: value vs risk (size = BAC)", "项目组合平衡：价值与风险（气泡大小 = BAC）"),
        "decisions": Text("Decisions of the period", "本期决策"),
        "exceptions": Text("Exceptions of the period", "本期例外"),
        "risks": terms.TOP_RISKS,
        "gate": Text("Gate", "关口"),
        "decision": terms.DECISION,
        "decided_at": terms.DECIDED_AT,
        "decided_by": terms.DECIDED_BY,
        "reason": terms.REASON,
        "risk": terms.RISK,
        "owner": terms.OWNER,
        "probability": Text("Probability", "可能性"),
        "impact": Text("Impact", "影响"),
        "score": Text("Score", "分值"),
        "value": Text("Value (mean scorecard score)", "价值（评分卡平均分）"),
        "exposure": Text("Risk (sum of probability x impact)", "风险（可能性 × 影响之和）"),
        "week": Text("Week ending", "周末日期"),
        "count": Text("Projects", "项目数"),
        "none": Text("None in this period.", "本期没有。"),
        "no_data": Text("No data", "无数据"),
        "not_yet_available": Text("not yet available", "暂不可用"),
        "green": terms.GREEN,
        "amber": terms.AMBER,
        "red": terms.RED,
        "unknown": Text("unknown", "未知"),
        "pv": Text("PV", "计划价值 PV"),
        "ev": Text("EV", "挣值 EV"),
        "ac": Text("AC", "实际成本 AC"),
        "go": terms.GO.lower(),
        "conditional_go": terms.CONDITIONAL_GO.lower(),
        "recycle": terms.RECYCLE.lower(),
        "hold": terms.HOLD.lower(),
        "kill": terms.KILL.lower(),
        "active": terms.ACTIVE.lower(),
        "on_hold": Text("on hold", "暂停"),
        "killed": terms.KILLED.lower(),
        "completed": terms.COMPLETED.lower(),
        "projects": terms.PROJECTS.lower(),
        "maturity": terms.MATURITY,
        "maturity_overall": Text("Overall maturity level (the lowest dimension)", "总体成熟度等级（取最低维度）"),
        "dimension": terms.DIMENSION,
        "level": terms.LEVEL,
        "evidence": terms.EVIDENCE,
        "next_step": terms.NEXT_STEP,
        "prioritisation": terms.PRIORITISATION,
        "prioritisation_summary": Text(
            "Budget {budget}: {count} selected, cost {spent}, unspent {unspent}, expected benefit {benefit}",
            "预算 {budget}：入选 {count} 个，成本 {spent}，未分配 {unspent}，预期收益 {benefit}",
        ),
        "rank": Text("Rank", "排名"),
        "selected": terms.SELECTED,
        "yes": terms.YES,
        "remaining_cost": terms.REMAINING_COST,
        "expected_benefit": terms.EXPECTED_BENEFIT,
        "value_per_cost": terms.BENEFIT_PER_COST,
        "scorecard": terms.SCORECARD,
        "why": Text("Why left out", "未入选原因"),
    },
)


def labels(lang: str) -> Mapping[str, str]:
    return LABELS.words(lang)


def word(lang: str, key: str) -> str:
    """A translated word, or the key itself (codes such as template ids are not translated)."""
    return LABELS.get(key, lang) or key


def stage_name(lang: str, row: Any) -> str:
    return str(row.stage_name_zh if lang == "zh-CN" else row.stage_name)
