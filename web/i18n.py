"""Page strings in English and Simplified Chinese, and how a request picks its language.

Order of precedence: an explicit ``?lang=`` switch (remembered in a cookie), then that cookie, then the
locale of the person the page is for (an approval link names them), then the browser's Accept-Language.
Domain messages (criteria findings) already come in both languages from ``gates``; this file holds only
the words of the pages around them, as a ``Catalog`` (``gates.vocabulary.text``) whose shared words come from
``gates.vocabulary.terms``.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request

from phasegate.gates.vocabulary import terms, text
from phasegate.gates.vocabulary.text import Catalog, Text

LOCALES = text.LOCALES  # the languages every catalogue speaks
COOKIE = "phasegate_lang"

STRINGS = Catalog(
    "web pages",
    {
        "app": Text("phasegate", "phasegate"),
        "portfolio": terms.PORTFOLIO,
        "lessons": Text("Lessons learned", "经验教训"),
        "lessons_search": Text(
            "Search (Chinese or English; every word must match)",
            "搜索（中文或英文；须包含所有词）",
        ),
        "lessons_found": Text("lessons", "条经验教训"),
        "lesson_edit": Text("Edit lesson", "编辑经验教训"),
        "lesson_edit_hint": Text(
            "Its author or a PMO admin may edit it; the audit keeps the text before and after.",
            "作者或 PMO 管理员可以编辑；审计日志保留修改前后的内容。",
        ),
        "lesson_save": Text("Save", "保存"),
        "lesson_edit_link": Text("edit", "编辑"),
        "lessons_none": Text("No lesson matches.", "没有匹配的经验教训。"),
        "resources": Text("Resources", "资源"),
        "resources_allocation": Text("Allocation per role and month", "按角色和月份的资源分配"),
        "resources_help": Text(
            "Committed: the current stage of active projects (their GO committed it). Planned: later stages and "
            "projects on hold. Over-allocated: committed hours above capacity.",
            "已承诺：在建项目当前阶段的需求（由其阶段门 GO 承诺）。计划中：后续阶段及暂缓项目的需求。超额分配："
            "已承诺工时超过产能。",
        ),
        "resources_role": Text("Role", "角色"),
        "resources_month": Text("Month", "月份"),
        "resources_capacity": Text("Capacity (h)", "产能（小时）"),
        "resources_committed": Text("Committed (h)", "已承诺（小时）"),
        "resources_planned": Text("Planned (h)", "计划中（小时）"),
        "resources_free": Text("Free (h)", "剩余（小时）"),
        "resources_projects": Text("Committed to", "承诺给"),
        "resources_over": Text("over-allocated", "超额分配"),
        "resources_over_count": Text("over-allocated role-months", "个超额分配的角色月份"),
        "resources_none": Text(
            "No one has a resource role yet (phasegate resources person set PERSON --role ROLE).",
            "尚无人员设置资源角色（phasegate resources person set PERSON --role ROLE）。",
        ),
        "resources_queue": Text("HOLD queue: projects waiting for capacity", "暂缓队列：等待产能的项目"),
        "resources_queue_none": Text("No project is on hold.", "没有暂缓的项目。"),
        "resources_rank": Text("#", "#"),
        "resources_next_stage": Text("Next stage", "下一阶段"),
        "resources_priority": Text("Priority", "优先级"),
        "resources_score": Text("Score", "评分"),
        "resources_demand": Text("Demand (h)", "需求（小时）"),
        "resources_fits": Text("Fits now", "现在可启动"),
        "resources_fits_yes": terms.YES,
        "resources_fits_no": terms.NO,
        "resources_no_demand": Text("no demand planned", "未规划需求"),
        "resources_filter": Text("Show", "筛选"),
        "resources_queue_place": Text("On hold, waiting for capacity: HOLD queue", "暂缓中，等待产能：暂缓队列"),
        "lesson_category": Text("Category", "类别"),
        "lesson_what": Text("What happened", "发生了什么"),
        "lesson_repeat": terms.REPEAT,
        "lesson_avoid": terms.AVOID,
        "lesson_tags": Text("Tags", "标签"),
        "lesson_gate": terms.GATE,
        "lesson_uses": Text("Shown / applied", "展示 / 采纳"),
        "search": Text("Search", "搜索"),
        "language": Text("Language", "语言"),
        "funnel": Text("Projects by stage", "各阶段项目数"),
        "projects": terms.PROJECTS,
        "project": terms.PROJECT,
        "stage": terms.STAGE,
        "status": terms.STATUS,
        "budget": Text("Budget", "预算"),
        "schedule": Text("Schedule", "进度"),
        "rag": Text("RAG (budget / schedule)", "红黄绿状态（预算 / 进度）"),
        "rag_note": Text(
            "Bands from the latest status report: CPI for budget, SPI for schedule (green at 0.95 or more, amber at "
            "0.85 or more, red below, grey when not reported).",
            "取自最新状态报告：预算看 CPI，进度看 SPI（≥0.95 为绿，≥0.85 为黄，更低为红，未报告为灰）。",
        ),
        "pending_approvals": Text("Pending approvals", "待审批"),
        "gate": terms.GATE,
        "opened": Text("Opened", "发起时间"),
        "age": Text("Age", "已等待"),
        "sla_due": Text("SLA due", "SLA 截止"),
        "overdue": Text("overdue", "已逾期"),
        "waiting_for": Text("Waiting for", "等待"),
        "overdue_conditions": Text("Overdue conditions", "逾期条件"),
        "condition": Text("Condition", "条件"),
        "owner": terms.OWNER,
        "due": Text("Due", "截止日期"),
        "recent_decisions": Text("Recent decisions", "最近决策"),
        "decision": terms.DECISION,
        "decided_by": terms.DECIDED_BY,
        "decided_at": terms.DECIDED_AT,
        "reason": terms.REASON,
        "none": Text("None.", "无。"),
        "days": Text("d", "天"),
        "hours": Text("h", "小时"),
        "gate_history": Text("Gate history", "阶段门历史"),
        "current_evaluation": Text("Current evaluation", "当前评估"),
        "not_evaluated": Text("Not evaluated", "未评估"),
        "audit_trail": Text("Audit trail", "审计记录"),
        "when": Text("When", "时间"),
        "actor": Text("Actor", "操作人"),
        "action": Text("Action", "操作"),
        "entity": Text("Entity", "对象"),
        "sponsor": terms.SPONSOR,
        "manager": Text("Manager", "项目经理"),
        "template": Text("Lifecycle", "生命周期"),
        "next_gate": Text("Next gate", "下一个阶段门"),
        "approval": Text("Approval", "审批"),
        "packet": terms.GATE_PACKET,
        "recommendation": terms.RECOMMENDATION,
        "advice": terms.ADVICE,
        "evidence_hash": terms.EVIDENCE_HASH,
        "evidence_note": Text(
            "Your vote is bound to this hash: if the evidence changes, the round re-opens and you get a fresh link.",
            "您的投票与该哈希绑定：证据变更后，审批将重新发起，您会收到新的链接。",
        ),
        "criteria": terms.CRITERIA,
        "result": terms.RESULT,
        "criterion": terms.CRITERION,
        "kind": terms.KIND,
        "finding": terms.FINDING,
        "measured": terms.MEASURED,
        "threshold": terms.THRESHOLD,
        "fix": terms.HOW_TO_FIX,
        "pass": Text("pass", "通过"),
        "fail": Text("fail", "未通过"),
        "missing": Text("missing evidence", "缺少证据"),
        "must_meet": terms.MUST_MEET,
        "should_meet": terms.SHOULD_MEET,
        "documents": terms.DOCUMENTS,
        "document": terms.DOCUMENT,
        "present": terms.PRESENT,
        "approved": terms.APPROVED,
        "version": terms.VERSION,
        "yes": terms.YES,
        "no": terms.NO,
        "evm": terms.EARNED_VALUE,
        "as_of": terms.AS_OF,
        "figure": terms.FIGURE,
        "value": terms.VALUE,
        "not_available": terms.NOT_AVAILABLE,
        "chart_title": Text("PV, EV and AC over time", "计划价值、挣值与实际成本趋势"),
        "chart_empty": Text("No status reports yet: nothing to chart.", "尚无状态报告，无法绘图。"),
        "top_risks": terms.TOP_RISKS,
        "risk": terms.RISK,
        "pxi": terms.PXI,
        "response": terms.RESPONSE,
        "scorecard": terms.SCORECARD,
        "factor": terms.FACTOR,
        "mean": terms.MEAN,
        "floor": terms.FLOOR,
        "below_floor": terms.BELOW_FLOOR,
        "weighted_mean": terms.WEIGHTED_MEAN,
        "percent_of_max": terms.PERCENT_OF_MAXIMUM,
        "votes": terms.VOTES,
        "approver": terms.APPROVER,
        "cast_at": terms.CAST_AT,
        "pending": terms.NOT_YET_VOTED,
        "no_votes": terms.NO_VOTES,
        "open_conditions": Text("Open conditions", "未关闭的条件"),
        "your_vote": Text("Your vote", "您的投票"),
        "voting_as": Text("Voting as", "投票人"),
        "choose": terms.VOTE_DECISION,
        "go": Text("GO", "通过（GO）"),
        "conditional_go": terms.CONDITIONAL_GO.upper(),
        "recycle": Text("RECYCLE", "返工（RECYCLE）"),
        "hold": Text("HOLD", "暂停（HOLD）"),
        "kill": Text("KILL", "终止（KILL）"),
        "abstain": terms.ABSTAIN,
        "recuse": terms.RECUSE,
        "not_ready": terms.NOT_READY.upper(),
        "reason_help": Text("Required for anything but GO.", "除“通过”外均须填写理由。"),
        "conditions": Text("Conditions (for CONDITIONAL GO)", "条件（有条件通过时填写）"),
        "tolerances": Text("Tolerances and exceptions", "容差与例外"),
        "dimension": terms.DIMENSION,
        "tolerance_scope": Text("Applies to", "适用范围"),
        "tolerance_limit": terms.TOLERANCE,
        "tolerance_level": Text("Set by (level / owner)", "设定者（层级 / 负责人）"),
        "tolerance_source": Text("Source", "来源"),
        "whole_project": terms.WHOLE_PROJECT,
        "no_tolerance": Text("none (explicitly)", "无容差（明确设定）"),
        "unset": Text("unset", "未设定"),
        "whichever_greater": Text("whichever is greater", "取较大者"),
        "exceptions": Text("Exceptions", "例外事项"),
        "forecast": terms.FORECAST,
        "baseline": terms.BASELINE,
        "deviation": terms.DEVIATION,
        "exception_open": Text(
            "OPEN: awaiting the decision of the level that set the tolerance",
            "待处理：等待设定该容差的层级决定",
        ),
        "dim_time": terms.TIME,
        "dim_cost": terms.COST,
        "dim_scope": terms.SCOPE,
        "dim_quality": terms.QUALITY,
        "dim_risk": terms.RISK,
        "dim_benefits": terms.BENEFITS,
        "dim_overall": Text("Overall", "总体"),
        "monitor_rag": Text("RAG against tolerances", "对照容差的红黄绿状态"),
        "monitor_rag_note": Text(
            "Computed by the portfolio monitor from each forecast against this project's own tolerance: green under "
            "50 % consumed, amber from 50 % or after two adverse periods, red when the forecast breaches it. Scope "
            "and benefits tolerances are recorded but not forecast.",
            "由项目组合监控按本项目自己的容差计算：消耗不足 50% 为绿，达到 50% 或连续两期恶化为黄，预测超出容差为红。"
            "范围和收益容差已记录，但不做预测。",
        ),
        "open_exceptions": Text("open exceptions", "项未关闭例外"),
        "trend": Text("Trend", "趋势"),
        "trend_adverse": Text("worse two periods running", "连续两期恶化"),
        "rag_history": Text("Recent days", "最近几天"),
        "band_none": Text("no tolerance", "无容差"),
        "condition_text": Text("What must be done", "需完成的事项"),
        "condition_owner": Text("Owner (person id)", "负责人（人员编号）"),
        "condition_due": Text("Due date", "截止日期"),
        "condition_verification": Text(
            "Verification (criterion code or verifier:PERSON)",
            "验证方式（标准代码或 verifier:人员）",
        ),
        "submit": Text("Submit my vote", "提交投票"),
        "vote_recorded": Text("Your vote has been recorded.", "您的投票已记录。"),
        "link_used": Text(
            "This link has already been used. Each link votes once; here is the vote on record.",
            "此链接已使用。每个链接只能投票一次，以下为已记录的投票。",
        ),
        "recorded_vote": Text("Recorded vote", "已记录的投票"),
        "round_status": Text("Round status", "审批轮次状态"),
        "round_decision": Text("Round decision", "审批结果"),
        "round_open": Text("open", "进行中"),
        "round_resolved": Text("resolved", "已决定"),
        "round_cancelled": Text("cancelled", "已取消"),
        "decision_applying": Text(
            "The round is decided; the decision is being applied to the project.",
            "本轮审批已有结果，正在应用到项目。",
        ),
        "closed_round": Text(
            "This approval round is closed: votes are no longer taken.",
            "本轮审批已结束，不再接受投票。",
        ),
        "seat_closed": Text(
            "Your vote is no longer needed: the outcome was already certain.",
            "结果已确定，无需您再投票。",
        ),
        "not_your_turn": Text(
            "This gate is approved in sequence; it is not your turn yet. Waiting for:",
            "本阶段门按顺序审批，尚未轮到您。正在等待：",
        ),
        "evidence_moved": Text(
            "The project's evidence changed after this packet was prepared. If you submit, the gate is re-evaluated "
            "and you receive a fresh link; no vote is recorded on stale evidence.",
            "材料包生成后项目证据已变更。若提交，系统将重新评估阶段门并向您发送新链接；不会在过期证据上记录投票。",
        ),
        "stale_title": Text("The gate packet has changed", "阶段门材料包已变更"),
        "stale_body": Text(
            "The evidence behind this gate changed since the link was sent, so this link can no longer be used to "
            "vote: nobody votes on evidence they have not seen. A fresh link with the new packet is on its way.",
            "链接发出后阶段门证据已变更，此链接不能再用于投票：不得在未看过的证据上投票。"
            "包含新材料包的新链接即将发送给您。",
        ),
        "refused_title": Text("This approval link cannot be used", "此审批链接无法使用"),
        "forged_body": Text(
            "The link is not valid: it was altered, mistyped or not issued by this server.",
            "链接无效：可能被修改、输入有误，或并非本系统签发。",
        ),
        "expired_body": Text(
            "The link has expired. Ask the PMO office for a new one.",
            "链接已过期，请联系项目管理办公室重新发送。",
        ),
        "replayed_body": Text(
            "This link has already been used to vote; a link votes only once.",
            "此链接已用于投票；每个链接只能投票一次。",
        ),
        "csrf_body": Text(
            "The form expired or did not come from this page. Open the link again and resubmit.",
            "表单已过期或并非来自本页面。请重新打开链接后再提交。",
        ),
        "bad_request_title": Text("Bad request", "请求有误"),
        "reports": Text("Reports", "报告"),
        "risks": terms.TOP_RISKS,
        "report_period": Text(
            "Period (ISO week 2026-W48 or month 2026-11)",
            "报告期（ISO 周 2026-W48 或月份 2026-11）",
        ),
        "show": Text("Show", "显示"),
        "download": Text("Download", "下载"),
        "gate_analytics": Text("Gate analytics", "关口分析"),
        "analytics_note": Text(
            "Pass = go or conditional go; latency from round opening to decision; in SLA = decided by the round's due "
            "time; conditions on time = met or waived by their due date, of those closed or past due.",
            "通过 = 通过或有条件通过；时长为审批轮次开启到决策；SLA 内 = 在截止时间前决策；条件按时 = "
            "在截止日期前满足或豁免，分母为已关闭或已逾期的条件。",
        ),
        "decided_n": Text("Decided", "决策数"),
        "pass_rate": Text("Pass", "通过"),
        "recycle_rate": terms.RECYCLE,
        "kill_rate": terms.KILL,
        "hold_rate": terms.HOLD,
        "first_time_pass": Text("First-time pass", "一次通过"),
        "latency_median": Text("Latency median", "决策时长中位数"),
        "latency_p90": Text("Latency p90", "决策时长 p90"),
        "in_sla": Text("In SLA", "SLA 内"),
        "conditions_on_time": Text("Conditions on time", "条件按时关闭"),
        "reviews_auto_manual": Text("Reviews auto / by hand", "评审 自动 / 手动"),
        "cycle_time": Text("Cycle time per stage (days)", "各阶段周期（天）"),
        "median": Text("Median", "中位数"),
        "p90": Text("p90", "p90"),
        "portfolio_table": Text("Portfolio table", "项目组合表"),
        "any_status": Text("Any status", "全部状态"),
        "any_band": Text("Any band", "全部颜色"),
        "filter": Text("Filter", "筛选"),
        "rows_shown": Text("rows shown", "行已显示"),
        "report_rows_capped": Text(
            "The first {shown} of {total} projects are shown; every row is in the downloads:",
            "此处显示 {total} 个项目中的前 {shown} 个；完整数据请下载：",
        ),
        "report_xlsx_of_period": Text("this report as XLSX", "本报告（XLSX）"),
        "table_csv_today": Text("the portfolio table as it stands now, CSV", "当前项目组合表（CSV）"),
        "prioritisation": terms.PRIORITISATION,
        "prio_budget": Text("Budget available", "可用预算"),
        "prio_enter_budget": Text(
            "Enter a budget to propose the portfolio that fits it.",
            "输入预算，系统将给出预算内的最佳项目组合。",
        ),
        "prio_selected": terms.SELECTED,
        "prio_spent": Text("Cost of the selection", "入选项目成本"),
        "prio_unspent": Text("Unspent", "未分配"),
        "prio_total_benefit": Text("Expected benefit of the selection", "入选项目预期收益"),
        "prio_cost": terms.REMAINING_COST,
        "prio_benefit": terms.EXPECTED_BENEFIT,
        "prio_ratio": terms.BENEFIT_PER_COST,
        "prio_why": terms.WHY,
        "prio_note": Text(
            "Ranked by expected benefit per remaining cost (BAC less actual cost to date), then scorecard. The "
            "selection is exact (0/1 knapsack): the most expected benefit whose cost fits the budget and, with a "
            "demand plan, whose remaining hours fit each role's capacity in every month. Set a project's "
            "expected benefit with: phasegate project update KEY --expected-benefit N --reason ...",
            "按预期收益与剩余成本（完工预算减去实际成本）之比排序，其次按评分卡。组合选择为精确求解（0/1 背包）："
            "在预算内预期收益最高；若有需求计划，剩余工时在每个月均不超过各角色产能。"
            "设置预期收益：phasegate project update KEY --expected-benefit N --reason ...",
        ),
        "prio_capacity": Text("Capacity", "产能"),
        "prio_capacity_auto": Text("when a demand plan is recorded", "有需求计划时约束"),
        "prio_capacity_on": Text("always constrain", "始终约束"),
        "prio_capacity_off": Text("budget only", "仅按预算"),
        "maturity": terms.MATURITY,
        "maturity_quarter": Text("Quarter (e.g. 2026-Q4)", "季度（如 2026-Q4）"),
        "maturity_overall": Text("Overall level (the lowest scored dimension)", "总体等级（取已评分维度中最低者）"),
        "maturity_level": terms.LEVEL,
        "maturity_evidence": terms.EVIDENCE,
        "maturity_next": terms.NEXT_STEP,
        "maturity_trend": Text("Trend per quarter", "季度趋势"),
        "maturity_note": Text(
            "Computed from the record, not a questionnaire. Levels as in P3M3: 1 initial, 2 repeatable, 3 defined, 4 "
            "managed, 5 optimised; thresholds per dimension in docs/reports.md. '-': no evidence that quarter.",
            "根据实际记录计算，而非问卷。等级参照 P3M3：1 初始级、2 可重复级、3 已定义级、4 已管理级、5 优化级；"
            "各维度阈值见 docs/reports.md。“-”表示该季度无证据。",
        ),
        "of": Text("of", "共"),
        "not_found_title": Text("Not found", "未找到"),
        "not_found_body": Text("There is nothing at this address.", "此地址没有内容。"),
        "forbidden_title": Text("Not allowed", "不允许"),
        "conflict_title": Text("Not recorded", "未记录"),
        "invalid_title": Text("Please check the form", "请检查表单"),
        "detail_in_english": Text("Details", "详细信息（英文，可提供给 PMO）"),
        "too_large_title": Text("Request too large", "请求过大"),
        "too_large_body": Text(
            "The request was larger than this server accepts, so nothing was recorded.",
            "请求超出了服务器可接受的大小，未记录任何内容。",
        ),
        "error_title": Text("Something went wrong", "出错了"),
        "back": Text("Back to the portfolio", "返回项目组合"),
        "healthy": Text("ok", "正常"),
        "band_green": terms.GREEN,
        "band_amber": terms.AMBER,
        "band_red": terms.RED,
        "signin_title": Text("Sign in", "登录"),
        "signin_person": Text("Person id", "人员 ID"),
        "signin_password": Text("Password", "密码"),
        "signin_code": Text("One-time code (if enabled)", "一次性验证码（如已启用）"),
        "signin_submit": Text("Sign in", "登录"),
        "signin_sso": Text("Sign in with single sign-on", "使用单点登录"),
        "signin_or": Text("or", "或"),
        "signin_failed": Text(
            "Sign-in failed: the person id, password or one-time code is wrong, or this account cannot sign in.",
            "登录失败：人员 ID、密码或一次性验证码不正确，或此账户无法登录。",
        ),
        "signin_throttled": Text(
            "Too many failed attempts. Wait 15 minutes, then try again.",
            "失败次数过多。请等待 15 分钟后再试。",
        ),
        "signin_sso_failed": Text(
            "Single sign-on did not confirm who you are, or your identity is not linked to a person here. Ask the PMO.",
            "单点登录未能确认您的身份，或您的身份尚未关联到本系统中的人员。请联系项目管理办公室。",
        ),
        "signin_form_expired": Text(
            "The form had expired and was reloaded. Please sign in again.",
            "表单已过期并已重新加载。请重新登录。",
        ),
        "signed_in_as": Text("Signed in as", "当前用户"),
        "signout": Text("Sign out", "退出登录"),
        "signed_out": Text("You have signed out.", "您已退出登录。"),
        "signature_title": Text("Electronic signature (21 CFR Part 11)", "电子签名（21 CFR Part 11）"),
        "signature_help": Text(
            "This gate takes electronic signatures: enter your password (and your one-time code if enabled) to sign "
            "this vote.",
            "此阶段门要求电子签名：请输入您的密码（如已启用，还需一次性验证码）以签署本次投票。",
        ),
        "signature_refused": Text(
            "Your signature did not verify: the password or one-time code is wrong. Nothing was recorded.",
            "签名未通过验证：密码或一次性验证码不正确。未记录任何内容。",
        ),
        "band_unknown": Text("not reported", "未报告"),
        # What a use case's refusal means, by its error code (web.pages.refusal_page); missing: the English line.
        "refusal:round.closed": Text(
            "This approval round is closed: it was decided or cancelled, so votes are no longer taken.",
            "该审批轮次已结束（已决策或已取消），不再接受投票。",
        ),
        "refusal:vote.duplicate": Text("You have already voted in this round.", "您已在本轮次中投过票。"),
        "refusal:vote.not_approver": Text(
            "You do not hold a seat in this approval round.",
            "您不是本审批轮次的审批人。",
        ),
        "refusal:vote.not_your_turn": Text(
            "This gate takes votes in order, and it is not your turn yet.",
            "本阶段门按顺序投票，尚未轮到您。",
        ),
        "refusal:vote.evidence_mismatch": Text(
            "The evidence changed since this page was shown; open the link again to see what you sign.",
            "页面显示后证据已发生变化；请重新打开链接，查看您要签署的内容。",
        ),
        "refusal:vote.request_closed": Text(
            "Your request for changes was already answered; vote on the current evidence.",
            "您的修改请求已得到处理；请就当前证据投票。",
        ),
        "refusal:vote.condition_person_unknown": Text(
            "A condition names an owner or verifier who is not a known person.",
            "某项条件指定的负责人或核验人不是系统中的人员。",
        ),
        "refusal:security.refused": Text(
            "Refused by the gate's segregation-of-duties or delegation rules; the attempt was recorded.",
            "因阶段门的职责分离或授权规则被拒绝；此次尝试已记录在审计日志中。",
        ),
        "refusal:auth.role": Text("Your roles do not allow this act.", "您的角色不允许执行此操作。"),
        "refusal:auth.conflict_of_interest": Text(
            "Nobody judges their own project: as its manager you may not do this.",
            "任何人不得评判自己的项目：作为项目经理，您不能执行此操作。",
        ),
        "refusal:auth.disabled": Text(
            "This account is disabled and can no longer act.",
            "该账户已停用，不能再执行任何操作。",
        ),
        "refusal:auth.voter": Text("A vote is its voter's own act.", "投票只能由投票人本人进行。"),
        "refusal:signature.throttled": Text(
            "Too many wrong signatures in the last 15 minutes; wait, then sign again.",
            "过去 15 分钟内签名错误次数过多；请稍后再签署。",
        ),
        "refusal:request.too_large": Text(
            "The request was larger than this server accepts, so nothing was recorded.",
            "请求超出了服务器可接受的大小，未记录任何内容。",
        ),
        "refusal:round.not_found": Text("There is no such approval round.", "不存在该审批轮次。"),
    },
)


def pick_locale(request: Request, person_locale: str | None = None) -> str:
    """The language of this response (see the module docstring for the order)."""
    asked = request.query_params.get("lang")
    if asked in LOCALES:
        return asked
    remembered = request.cookies.get(COOKIE)
    if remembered in LOCALES:
        return remembered
    if person_locale in LOCALES:
        return person_locale
    accepted = request.headers.get("accept-language", "").lower()
    first = accepted.split(",")[0].strip()
    return "zh-CN" if first.startswith("zh") else "en"


def switched(request: Request) -> str | None:
    """The locale chosen by ``?lang=`` on this request, which the response then remembers in a cookie."""
    asked = request.query_params.get("lang")
    return asked if asked in LOCALES else None


def words(locale: str) -> Mapping[str, str]:
    return STRINGS.words(locale)


def explain(code: str | None, locale: str) -> str | None:
    """What refusal ``code`` means in ``locale``, or None when there are no words for it (the page then shows the
    use case's own English line)."""
    return STRINGS.get(f"refusal:{code}", locale) if code else None
