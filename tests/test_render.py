"""Notification rendering for every kind in both locales: chat Markdown, plain text, email HTML, attachments.

The approval link is a real signed link (notifications.links) so the tests see the characters it really has.
The .ics attachment is read back by the ``icalendar`` package and by a strict line-level check of RFC 5545's
folding and escaping rules.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from icalendar import Calendar

from phasegate.gates.vocabulary.errors import InputError
from phasegate.notifications.ics import escape_text, fold, meeting_uid, review_meeting_event
from phasegate.notifications.links import approval_token, approval_url
from phasegate.notifications.render import (
    KINDS,
    LOCALES,
    TEMPLATE_DIR,
    RenderedMessage,
    format_when,
    render,
    resolve_locale,
)

pytestmark = pytest.mark.unit  # pure: no database, no Prefect, no browser (make test-fast)

SECRET = "test-secret-for-approval-links-0123456789"
ROUND = "0b6f3c4e-1111-4a2b-9c3d-000000000001"
EVIDENCE = "e" * 64
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
URL = approval_url(
    "https://pmo.example.com",
    approval_token(SECRET, round_id=ROUND, approver_id="wang", evidence_hash=EVIDENCE, expires_at=T0 + timedelta(7)),
)
VOTE = f"phasegate vote {ROUND} --as wang --decision go"

CRITERIA: list[dict[str, Any]] = [
    {
        "code": "doc.required_present",
        "passed": True,
        "message": "All required documents are registered",
        "message_zh": "所有必需文件均已登记",
    },
    {
        "code": "budget.cpi_floor",
        "passed": False,
        "measured": "0.82",
        "threshold": ">= 0.90",
        "message": "CPI 0.82 is below the floor 0.90",
        "message_zh": "成本绩效指数 0.82 低于下限 0.90",
        "remediation": "Submit a recovery plan with the updated EAC",
        "remediation_zh": "提交包含最新完工估算的纠偏计划",
    },
    {
        "code": "doc.charter_approved",
        "passed": False,
        "evidence_missing": True,
        "message": "Project charter is not registered",
        "message_zh": "项目章程未登记",
        "remediation": "Register the project charter and have the sponsor approve it",
        "remediation_zh": "登记项目章程并由发起人批准",
    },
]

PROJECT = {"project_key": "ERP-7", "project_name": "ERP rollout"}
GATE = {"gate_name": "Gate 2: Plan approval", "gate_name_zh": "关口2：计划审批"}
WAITING = {"round_id": ROUND, "approver_name": "Wang Fang", "vote_command": VOTE, "approval_url": URL}
CONDITION = {
    "condition": "Sign the vendor contract",
    "condition_zh": "签署供应商合同",
    "owner": "Li Na",
    "due_on": "2026-04-15",
    "verification": "Signed contract registered as a document",
}

CONTEXTS: dict[str, dict[str, Any]] = {
    "portfolio_report": {
        "period": "2026-W48",
        "period_start": "2026-11-23",
        "period_end": "2026-11-29",
        "projects": 12,
        "active": 9,
        "rag": {"green": 5, "amber": 2, "red": 1, "unknown": 1},
        "decisions": 3,
        "open_conditions": 4,
        "report_url": "https://pmo.example.com/reports?period=2026-W48",
    },
    "approval_requested": {
        **PROJECT,
        **GATE,
        **WAITING,
        "gate_id": "g2",
        "recommendation": "conditional_go",
        "criteria": CRITERIA,
        "due_at": "2026-03-09T09:00:00+00:00",
    },
    "reminder": {**PROJECT, **GATE, **WAITING, "due_at": "2026-03-09T09:00:00+00:00", "overdue": False},
    "escalation": {
        **PROJECT,
        **GATE,
        **WAITING,
        "due_at": "2026-03-09T09:00:00+00:00",
        "overdue": True,
        "escalation_level": 2,
        "recipient_name": "Zhao Lei",
    },
    "lesson_due": {**PROJECT, **GATE, "lesson_command": "phasegate lesson add ERP --gate g3 --what ..."},
    "capacity_available": {
        **PROJECT,
        "next_stage": "Scoping",
        "next_stage_zh": "范围界定",
        "demand_hours": "240.00",
        "rank": 1,
        "resume_command": "phasegate project resume ERP --reason ...",
    },
    "round_cancelled": {
        **PROJECT,
        **GATE,
        "round_id": "0b7f2c1e-6a43-4d52-9c1e-3f0a8f2b9d10",
        "reason": "The business case was withdrawn",
    },
    "decision_made": {
        **PROJECT,
        **GATE,
        "decision": "recycle",
        "decided_by": ["wang", "li"],
        "reason": "Schedule baseline is missing",
        "new_stage": None,
        "project_status": "active",
    },
    "gate_not_ready": {**PROJECT, **GATE, "criteria": CRITERIA},
    "gate_evidence_warning": {
        **PROJECT,
        **GATE,
        "gate_date": "2026-03-12",
        "working_days_left": 3,
        "criteria": CRITERIA,
    },
    "tolerance_exception": {
        **PROJECT,
        "exception_id": "0b7f2c1e-6a43-4d52-9c1e-3f0a8f2b9d10",
        "dimension": "cost",
        "scope": "*",
        "level": "project_board",
        "owner": "Wang Fang",
        "baseline": "450000.00",
        "forecast": "540000.00",
        "allowance": "45000.00",
        "deviation": "90000.00",
        "currency": "CNY",
        "decide_command": "phasegate exceptions decide 0b7f2c1e --decision accept --reason ...",
    },
    "condition_due": {**PROJECT, **GATE, **CONDITION},
    "condition_missed": {**PROJECT, **GATE, **CONDITION, "proposal": "hold"},
    "weekly_digest": {
        "person_name": "Wang Fang",
        "items": [
            {
                **PROJECT,
                **GATE,
                "round_id": ROUND,
                "waiting_days": 3,
                "due_at": "2026-03-09T09:00:00+00:00",
                "approval_url": URL,
            },
            {
                "project_key": "CRM-2",
                "project_name": "CRM refresh",
                "gate_name": "Gate 3: Go to development",
                "round_id": "11111111-2222-4333-8444-555555555555",
                "waiting_days": 1,
                "due_at": "2026-03-04T09:00:00+00:00",
                "approval_url": None,
            },
        ],
        "conditions": [{**PROJECT, **CONDITION}],
    },
}

# Words a Chinese reader must see for each kind (natural PMO wording, not machine leftovers).
CHINESE_WORDS: dict[str, list[str]] = {
    "approval_requested": ["审批", "阶段门", "同意", "拒绝", "有条件通过", "不满足", "缺少证据", "关口2：计划审批"],
    "reminder": ["催办", "阶段门", "同意", "拒绝"],
    "lesson_due": ["经验教训", "终止", "阶段门"],
    "capacity_available": ["产能", "暂缓队列第 1 位", "范围界定", "恢复"],
    "escalation": ["升级", "第 2 级", "已超期", "Wang Fang"],
    "decision_made": ["阶段门", "返工", "决策人", "进行中"],
    "round_cancelled": ["撤销", "阶段门", "原因"],
    "portfolio_report": ["项目组合报告", "附件", "进行中 9", "红黄绿", "本期决策", "未关闭条件"],
    "gate_not_ready": ["阶段门", "未就绪", "不满足", "处理建议", "提交包含最新完工估算的纠偏计划", "实测 0.82"],
    "condition_due": ["有条件通过", "签署供应商合同", "负责人", "截止日期", "验证方式"],
    "condition_missed": ["逾期", "暂停", "系统建议", "由阶段门评审人决定"],
    "gate_evidence_warning": ["阶段门", "工作日", "尚缺", "处理建议", "提交包含最新完工估算的纠偏计划"],
    "tolerance_exception": ["例外", "成本", "容差", "项目委员会", "重新设定基准", "提前收尾"],
    "weekly_digest": ["待您审批", "您负责的条件", "已等待 3 天", "签署供应商合同"],
}
LINKED_KINDS = ("approval_requested", "reminder", "escalation", "weekly_digest")
CASES = [(kind, locale) for kind in KINDS for locale in LOCALES]


def _has_chinese(text: str) -> bool:
    return any("\u4e00" <= char <= "\u9fff" for char in text)


class _StrictHtml(HTMLParser):
    """Fails on a closing tag that does not close the innermost open element (void elements aside)."""

    VOID = frozenset({"meta", "br", "hr", "img", "link", "input", "col", "wbr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text: list[str] = []
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self.VOID:
            self.stack.append(tag)
        self.hrefs += [value or "" for name, value in attrs if name == "href"]

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1] if self.stack else None}>"
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse_html(html: str) -> _StrictHtml:
    parser = _StrictHtml()
    parser.feed(html)
    parser.close()
    assert parser.stack == [], f"unclosed: {parser.stack}"
    return parser


# --- every kind, both locales ----------------------------------------------------------------------------


def test_every_kind_has_markdown_and_html_templates_in_every_locale() -> None:
    for kind in KINDS:
        for locale in LOCALES:
            for fmt in ("md", "html"):
                assert (TEMPLATE_DIR / f"{kind}.{locale}.{fmt}.j2").is_file(), f"{kind}.{locale}.{fmt}.j2"


@pytest.mark.parametrize(("kind", "locale"), CASES)
def test_every_kind_renders_text_markdown_and_html(kind: str, locale: str) -> None:
    message = render(kind, locale, CONTEXTS[kind])

    assert isinstance(message, RenderedMessage)
    assert message.title and "\n" not in message.title
    assert message.body_markdown.strip() and message.body_text.strip()
    assert "**" in message.body_markdown and "**" not in message.body_text
    parsed = _parse_html(message.body_html)
    assert message.body_html.startswith("<!DOCTYPE html>")
    assert f'<html lang="{locale}">' in message.body_html
    assert f"<title>{message.title}</title>" in message.body_html.replace("&#39;", "'")
    seen = " ".join(parsed.text)
    name = {"weekly_digest": "Wang Fang", "portfolio_report": "2026-W48"}.get(kind, "ERP rollout")
    assert name in message.title and name in message.body_text and name in seen


@pytest.mark.parametrize("kind", KINDS)
def test_english_has_no_chinese(kind: str) -> None:
    message = render(kind, "en", CONTEXTS[kind])

    assert not _has_chinese(message.title + message.body_markdown + message.body_html)


@pytest.mark.parametrize("kind", KINDS)
def test_simplified_chinese_uses_pmo_wording_in_every_part(kind: str) -> None:
    message = render(kind, "zh-CN", CONTEXTS[kind])

    assert _has_chinese(message.title)
    seen_html = " ".join(_parse_html(message.body_html).text)
    for word in CHINESE_WORDS[kind]:
        assert word in message.title + message.body_text, word
    for word in CHINESE_WORDS[kind][:2]:
        assert word in message.title + seen_html, word


@pytest.mark.parametrize(("kind", "locale"), [(k, loc) for k in LINKED_KINDS for loc in LOCALES])
def test_approval_link_is_visible_text_in_every_format(kind: str, locale: str) -> None:
    message = render(kind, locale, CONTEXTS[kind])
    parsed = _parse_html(message.body_html)

    assert URL in message.body_text
    assert f"<{URL}>" in message.body_markdown
    assert URL in parsed.hrefs
    assert URL in "".join(parsed.text)  # the visible text, not only the href
    assert f'<a href="{URL}">{URL}</a>' in message.body_html


def test_link_with_query_characters_is_escaped_in_html_but_intact_when_read() -> None:
    odd = "https://pmo.example.com/approve/x?a=1&b=<2>"
    message = render("reminder", "en", {**CONTEXTS["reminder"], "approval_url": odd})

    assert "&amp;b=" in message.body_html and "<2>" not in message.body_html
    assert odd not in _parse_html(message.body_html).hrefs  # '<' ends the URL: not a link at all
    safe = "https://pmo.example.com/approve/x?a=1&b=2"
    parsed = _parse_html(render("reminder", "en", {**CONTEXTS["reminder"], "approval_url": safe}).body_html)
    assert safe in parsed.hrefs and safe in "".join(parsed.text)


def test_a_non_http_link_is_shown_as_text_never_as_an_anchor() -> None:
    message = render("reminder", "en", {**CONTEXTS["reminder"], "approval_url": "javascript:alert(1)"})

    assert "href" not in message.body_html
    assert "javascript:alert(1)" in message.body_text


@pytest.mark.parametrize(("kind", "locale"), CASES)
def test_html_autoescapes_user_text(kind: str, locale: str) -> None:
    hostile = '<script>alert("x")</script> & {{ 7*7 }}'
    context = {**CONTEXTS[kind]}
    if kind == "weekly_digest":
        context["person_name"] = hostile
        context["items"] = [{**context["items"][0], "project_name": hostile}]
    elif kind == "portfolio_report":
        context["period"] = hostile  # the report names no project: its period is the text it shows
    else:
        context["project_name"] = hostile

    message = render(kind, locale, context)

    assert "<script>" not in message.body_html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; {{ 7*7 }}" in message.body_html
    assert hostile in " ".join(_parse_html(message.body_html).text)
    assert hostile in message.body_text
    assert "49" not in message.body_text


def test_criterion_text_is_escaped_in_the_html_table() -> None:
    criteria = [{"code": "doc.x", "passed": False, "message": "<img src=x onerror=alert(1)>", "remediation": "<b>"}]
    message = render("gate_not_ready", "en", {**CONTEXTS["gate_not_ready"], "criteria": criteria})

    assert "<img" not in message.body_html and "<b>" not in message.body_html
    assert "&lt;img src=x onerror=alert(1)&gt;" in message.body_html


# --- what each kind says ---------------------------------------------------------------------------------


def test_gate_not_ready_says_what_is_missing_and_how_to_fix_it() -> None:
    message = render("gate_not_ready", "en", CONTEXTS["gate_not_ready"])
    text = message.body_text

    missing = text.index("What is missing")
    met = text.index("Already met")
    assert missing < text.index("budget.cpi_floor") < met
    assert missing < text.index("doc.charter_approved") < met
    assert met < text.index("doc.required_present")
    assert "MISSING doc.charter_approved" in text
    assert "measured 0.82, threshold >= 0.90" in text
    assert "threshold >= 0.90). Fix: Submit a recovery plan with the updated EAC" in text
    html_text = " ".join(_parse_html(message.body_html).text)
    for value in ("0.82", ">= 0.90", "Register the project charter and have the sponsor approve it", "MISSING"):
        assert value in html_text


def test_reminder_wording_follows_overdue() -> None:
    due = render("reminder", "en", {**CONTEXTS["reminder"], "overdue": False})
    late = render("reminder", "en", {**CONTEXTS["reminder"], "overdue": True})
    late_zh = render("reminder", "zh-CN", {**CONTEXTS["reminder"], "overdue": True})

    assert "due by 2026-03-09 09:00 UTC" in due.body_text and "overdue" not in due.body_text
    assert late.title.startswith("Overdue approval") and "is now overdue" in late.body_text
    assert "已超期" in late_zh.title


def test_reminder_names_the_delegator_when_asked_on_behalf() -> None:
    context = {**CONTEXTS["reminder"], "on_behalf_of": "Chen Jie (sponsor)"}

    assert "on behalf of Chen Jie (sponsor)" in render("reminder", "en", context).body_text
    assert "代 Chen Jie (sponsor) 审批" in render("reminder", "zh-CN", context).body_text


def test_escalation_names_level_and_the_approver_who_has_not_decided() -> None:
    message = render("escalation", "en", CONTEXTS["escalation"])

    assert message.title.startswith("Escalation (level 2)")
    assert "Hello Zhao Lei" in message.body_text
    assert "requested from Wang Fang" in message.body_text


@pytest.mark.parametrize("level", [0, -1, "2", True])
def test_escalation_level_must_be_a_positive_integer(level: object) -> None:
    with pytest.raises(InputError, match="escalation_level"):
        render("escalation", "en", {**CONTEXTS["escalation"], "escalation_level": level})


@pytest.mark.parametrize(("proposal", "en_word", "zh_word"), [("hold", "Hold", "暂停"), ("kill", "Kill", "终止")])
def test_condition_missed_shows_the_proposal(proposal: str, en_word: str, zh_word: str) -> None:
    context = {**CONTEXTS["condition_missed"], "proposal": proposal}

    assert f"Proposal: {en_word}" in render("condition_missed", "en", context).body_text
    assert f"系统建议：{zh_word}" in render("condition_missed", "zh-CN", context).body_text


def test_condition_missed_refuses_other_proposals() -> None:
    with pytest.raises(InputError, match="condition_missed: proposal: Input should be 'hold' or 'kill'"):
        render("condition_missed", "en", {**CONTEXTS["condition_missed"], "proposal": "go"})


def test_weekly_digest_lists_every_item_and_handles_an_empty_week() -> None:
    message = render("weekly_digest", "en", CONTEXTS["weekly_digest"])

    assert "2 approvals and 1 condition waiting" in message.title
    assert "CRM refresh (CRM-2), Gate 3: Go to development: waiting 1 day," in message.body_text
    assert "waiting 3 days" in message.body_text
    assert "Sign the vendor contract" in message.body_text

    empty = render("weekly_digest", "zh-CN", {"person_name": "Wang Fang", "items": [], "conditions": []})
    assert "暂无待您审批的事项" in empty.body_text and "暂无未完成的条件" in empty.body_text
    assert "<table" not in empty.body_html


def test_decision_recycle_tells_the_team_to_rework() -> None:
    assert "返工" in render("decision_made", "zh-CN", CONTEXTS["decision_made"]).title
    assert "request this gate's review again" in render("decision_made", "en", CONTEXTS["decision_made"]).body_text


def test_the_existing_approval_request_keys_still_render() -> None:
    """The keys gates.services writes today (no due_at, approval_url None) keep working."""
    context = {**CONTEXTS["approval_requested"], "approval_url": None}
    del context["due_at"]

    message = render("approval_requested", "zh-CN", context)

    assert "打开链接" not in message.body_text and "https://" not in message.body_html
    assert VOTE in message.body_text and VOTE in message.body_html


# --- errors ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "missing"),
    [
        ("reminder", "due_at"),
        ("weekly_digest", "items"),
        ("escalation", "escalation_level"),
        ("condition_due", "verification"),
    ],
)
def test_missing_context_key_is_an_input_error_naming_it(kind: str, missing: str) -> None:
    context = dict(CONTEXTS[kind])
    del context[missing]

    with pytest.raises(InputError, match=missing):
        render(kind, "en", context)


@pytest.mark.parametrize(("kind", "locale", "field"), [("gate_closed", "en", "kind"), ("reminder", "fr", "locale")])
def test_unknown_kind_or_locale_is_an_input_error(kind: str, locale: str, field: str) -> None:
    with pytest.raises(InputError, match=f"{field} '"):
        render(kind, locale, CONTEXTS["reminder"])


@pytest.mark.parametrize(
    ("stored", "locale"),
    [("zh-CN", "zh-CN"), ("zh_CN", "zh-CN"), ("zh", "zh-CN"), ("zh-Hans", "zh-CN"), ("en-GB", "en"), (None, "en")],
)
def test_resolve_locale_maps_stored_preferences(stored: str | None, locale: str) -> None:
    assert resolve_locale(stored) == locale


def test_format_when_shows_utc_minutes_and_leaves_dates_and_oddities_alone() -> None:
    assert format_when("2026-03-09T17:00:00+08:00") == "2026-03-09 09:00 UTC"
    assert format_when("2026-03-09T09:00:00Z") == "2026-03-09 09:00 UTC"
    assert format_when("2026-04-15") == "2026-04-15"
    assert format_when(date(2026, 4, 15)) == "2026-04-15"
    assert format_when("next Tuesday") == "next Tuesday"


# --- attachments: gate packet and .ics -------------------------------------------------------------------

PACKET = {
    "project_key": "ERP-7",
    "gate_id": "g2",
    "recommendation": "conditional_go",
    "criteria": CRITERIA,
    "required_deliverables": [{"id": "charter", "present": True, "approved": True, "version": 3, "sha256": "c" * 64}],
    "evidence_hash": EVIDENCE,
}
MEETING = {"starts_at": "2026-03-05T14:00:00+08:00", "duration_minutes": 90, "location": "Room 5; Building A, 3F"}


def test_approval_request_attaches_packet_and_invitation_when_a_meeting_is_set() -> None:
    context = {**CONTEXTS["approval_requested"], "packet": PACKET, "review_meeting": MEETING, "requested_at": T0}

    message = render("approval_requested", "zh-CN", context)

    names = [attachment.filename for attachment in message.attachments]
    assert names == ["gate-packet-ERP-7-g2.html", "gate-review.ics"]
    packet, invitation = message.attachments
    assert packet.media_type.startswith("text/html") and "c" * 64 in packet.content.decode()
    assert "阶段门评审材料包" in packet.content.decode()
    assert invitation.media_type.startswith("text/calendar")
    event = Calendar.from_ical(invitation.content).walk("VEVENT")[0]
    assert str(event["UID"]) == meeting_uid(ROUND)
    assert event.decoded("DTSTART") == datetime(2026, 3, 5, 6, 0, tzinfo=UTC)
    assert event.decoded("DTEND") == datetime(2026, 3, 5, 7, 30, tzinfo=UTC)
    assert str(event["LOCATION"]) == "Room 5; Building A, 3F"
    assert URL in str(event["DESCRIPTION"]) and str(event["SUMMARY"]).startswith("阶段门评审")


def test_no_attachments_without_packet_or_meeting_or_for_other_kinds() -> None:
    assert render("approval_requested", "en", CONTEXTS["approval_requested"]).attachments == ()
    context = {**CONTEXTS["reminder"], "packet": PACKET}
    assert render("reminder", "en", context).attachments == ()


def test_meeting_without_requested_at_is_an_input_error() -> None:
    with pytest.raises(InputError, match="requested_at"):
        render("approval_requested", "en", {**CONTEXTS["approval_requested"], "review_meeting": MEETING})


def test_meeting_with_a_naive_start_is_an_input_error() -> None:
    context = {
        **CONTEXTS["approval_requested"],
        "review_meeting": {"starts_at": "2026-03-05T14:00"},
        "requested_at": T0,
    }
    with pytest.raises(InputError, match="timezone-aware"):
        render("approval_requested", "en", context)


def _strict_ics_lines(data: str) -> list[str]:
    """Physical lines checked against RFC 5545 3.1; returns the unfolded content lines."""
    assert data.endswith("\r\n")
    assert "\n" not in data.replace("\r\n", "")  # bare LF is not allowed
    physical = data[:-2].split("\r\n")
    for line in physical:
        assert len(line.encode("utf-8")) <= 75, line
    unfolded: list[str] = []
    for line in physical:
        if line.startswith(" "):
            unfolded[-1] += line[1:]
        else:
            unfolded.append(line)
    for line in unfolded:
        assert re.match(r"^[A-Z-]+[;:]", line), line
    return unfolded


def test_ics_folds_long_chinese_lines_without_splitting_characters_and_escapes_text() -> None:
    summary = "阶段门评审：" + "企业资源计划系统上线" * 8
    description = 'Line one; with, commas \\ and a backslash\nLine two "quoted"'
    data = review_meeting_event(
        round_id=ROUND,
        starts_at=datetime(2026, 3, 5, 6, 0, tzinfo=UTC),
        duration=timedelta(hours=1),
        summary=summary,
        description=description,
        stamped_at=T0,
        approval_url=URL,
    )

    lines = _strict_ics_lines(data)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    assert "DTSTART:20260305T060000Z" in lines and "DTSTAMP:20260302T090000Z" in lines
    assert f"UID:{meeting_uid(ROUND)}" in lines
    assert 'DESCRIPTION:Line one\\; with\\, commas \\\\ and a backslash\\nLine two "quoted"' in "\n".join(lines)
    event = Calendar.from_ical(data.encode()).walk("VEVENT")[0]
    assert str(event["SUMMARY"]) == summary
    assert str(event["DESCRIPTION"]) == f"{description}\n\n{URL}"
    assert str(event["URL"]) == URL


def test_ics_uid_is_stable_per_round_and_differs_between_rounds() -> None:
    def event(round_id: str, hour: int) -> str:
        return review_meeting_event(
            round_id=round_id,
            starts_at=datetime(2026, 3, 5, hour, 0, tzinfo=UTC),
            duration=timedelta(hours=1),
            summary="Gate review",
            description="",
            stamped_at=T0,
        )

    uid = re.compile(r"^UID:(.*)$", re.MULTILINE)
    assert uid.findall(event(ROUND, 6)) == uid.findall(event(ROUND, 8))
    assert uid.findall(event(ROUND, 6)) != uid.findall(event("another-round", 6))


def test_fold_and_escape_edges() -> None:
    assert fold("X" * 75) == "X" * 75
    assert fold("X" * 76) == "X" * 75 + "\r\n X"
    folded = fold("S:" + "阶" * 40)
    assert all(len(part.encode()) <= 75 for part in folded.split("\r\n"))
    assert "".join(part.removeprefix(" ") for part in folded.split("\r\n")) == "S:" + "阶" * 40
    assert escape_text("a\r\nb\rc") == "a\\nb\\nc"


@pytest.mark.parametrize(
    "changes",
    [{"duration": timedelta(0)}, {"starts_at": datetime(2026, 3, 5, 6, 0)}, {"sequence": -1}],
)
def test_ics_refuses_bad_event_values(changes: dict[str, Any]) -> None:
    values: dict[str, Any] = {
        "round_id": ROUND,
        "starts_at": datetime(2026, 3, 5, 6, 0, tzinfo=UTC),
        "duration": timedelta(hours=1),
        "summary": "Gate review",
        "description": "",
        "stamped_at": T0,
    }
    with pytest.raises(InputError):
        review_meeting_event(**{**values, **changes})
