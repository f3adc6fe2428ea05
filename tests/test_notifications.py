"""Notifications: rendering in en / zh-CN, target validation and redaction, and outbox delivery.

Delivery tests run against real databases (SQLite file and PostgreSQL, via ``db_url``) and a real HTTP
receiver on 127.0.0.1 (tests/receivers.py). Time is passed to the dispatcher as a value, so retries are made
due by moving ``now`` forward, never by sleeping.
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from jinja2 import UndefinedError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from phasegate.gates.vocabulary.enums import OutboxStatus
from phasegate.gates.vocabulary.errors import InputError
from phasegate.models.tables import OutboxMessage
from phasegate.notifications.dispatch import DispatchReport, backoff_seconds, dispatch_due
from phasegate.notifications.render import KINDS, RenderedMessage, render
from phasegate.notifications.targets import redact_target, scrub_secrets, validate_target, with_idempotency_header
from tests.receivers import HttpReceiver, free_port

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

CRITERIA = [
    {"code": "doc.required_present", "passed": True, "message": "All required documents are registered"},
    {"code": "budget.cpi_floor", "passed": False, "message": "CPI 0.82 is below the floor 0.90"},
]

CONTEXTS: dict[str, dict[str, Any]] = {
    "approval_requested": {
        "project_key": "ERP-7",
        "project_name": "ERP rollout",
        "gate_id": "g2",
        "gate_name": "Gate 2: Plan approval",
        "recommendation": "conditional_go",
        "round_id": "0b6f3c4e-1111-4a2b-9c3d-000000000001",
        "approver_name": "Wang Fang",
        "vote_command": "phasegate vote 0b6f3c4e --as wang --decision go",
        "approval_url": "https://pmo.example.com/rounds/0b6f3c4e",
        "criteria": CRITERIA,
    },
    "decision_made": {
        "project_key": "ERP-7",
        "project_name": "ERP rollout",
        "gate_name": "Gate 2: Plan approval",
        "decision": "kill",
        "decided_by": ["wang", "li"],
        "reason": "Business case no longer holds",
        "new_stage": None,
        "project_status": "killed",
    },
    "gate_not_ready": {
        "project_key": "ERP-7",
        "project_name": "ERP rollout",
        "gate_name": "Gate 2: Plan approval",
        "criteria": CRITERIA,
    },
}

# Words a Chinese reader must see for each kind (natural wording, not machine leftovers).
CHINESE_WORDS = {
    "approval_requested": ["审批", "阶段门", "同意", "拒绝", "有条件通过", "不满足"],
    "decision_made": ["阶段门", "终止", "已终止", "决策人"],
    "gate_not_ready": ["阶段门", "未就绪", "不满足"],
}


# --- render -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [kind for kind in KINDS if kind in CONTEXTS])
def test_render_english_names_project_gate_and_failing_criteria(kind: str) -> None:
    message = render(kind, "en", CONTEXTS[kind])

    assert isinstance(message, RenderedMessage)
    assert "ERP rollout" in message.title
    assert "ERP-7" in message.title
    assert "Gate 2: Plan approval" in message.body_text
    assert not any("\u4e00" <= char <= "\u9fff" for char in message.body_markdown)
    if kind != "decision_made":
        assert "budget.cpi_floor" in message.body_text
        assert "FAIL" in message.body_text
    assert "**" in message.body_markdown
    assert "**" not in message.body_text


@pytest.mark.parametrize("kind", [kind for kind in KINDS if kind in CONTEXTS])
def test_render_simplified_chinese_uses_chinese_wording(kind: str) -> None:
    message = render(kind, "zh-CN", CONTEXTS[kind])

    assert "ERP rollout" in message.title
    for word in CHINESE_WORDS[kind]:
        assert word in message.title + message.body_text, word
    assert any("\u4e00" <= char <= "\u9fff" for char in message.title)


def test_render_approval_request_carries_vote_command_and_link() -> None:
    message = render("approval_requested", "en", CONTEXTS["approval_requested"])

    assert "`phasegate vote 0b6f3c4e --as wang --decision go`" in message.body_markdown
    assert "<https://pmo.example.com/rounds/0b6f3c4e>" in message.body_markdown
    assert "phasegate vote 0b6f3c4e --as wang --decision go" in message.body_text
    assert "https://pmo.example.com/rounds/0b6f3c4e" in message.body_text


def test_render_without_approval_url_omits_the_link_line() -> None:
    context = {**CONTEXTS["approval_requested"], "approval_url": None}

    message = render("approval_requested", "zh-CN", context)

    assert "打开链接" not in message.body_text
    assert "https://" not in message.body_markdown


def test_render_missing_context_key_raises_and_names_it() -> None:
    context = dict(CONTEXTS["decision_made"])
    del context["decided_by"]

    with pytest.raises(InputError, match="decided_by") as raised:
        render("decision_made", "en", context)
    assert isinstance(raised.value.__cause__, UndefinedError)


@pytest.mark.parametrize(
    ("kind", "locale", "field"), [("gate_closed", "en", "kind"), ("decision_made", "fr", "locale")]
)
def test_render_unknown_kind_or_locale_is_a_clear_error(kind: str, locale: str, field: str) -> None:
    with pytest.raises(InputError, match=f"{field} '{kind if field == 'kind' else locale}'"):
        render(kind, locale, CONTEXTS["decision_made"])


def test_render_keeps_user_text_literal_never_markup_or_template() -> None:
    context = {
        **CONTEXTS["gate_not_ready"],
        "project_name": "Pay [here](http://evil.example) *now* {{ 7*7 }}",
        "criteria": [{"code": "doc.x", "passed": False, "message": "<script>alert(1)</script>\n# heading"}],
    }

    message = render("gate_not_ready", "en", context)

    assert "](http://evil.example)" not in message.body_markdown.replace("\\]", "")
    assert "\\[here\\]" in message.body_markdown
    assert "\\<script\\>" in message.body_markdown
    assert "\n#" not in message.body_markdown
    assert "{{ 7*7 }}" in message.title
    assert "49" not in message.body_text
    assert "Pay [here](http://evil.example) *now* {{ 7*7 }}" in message.body_text
    assert "<script>alert(1)</script> # heading" in message.body_text


# --- targets ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["", "garbage", "json://", "nosuchservice://host/path", "http://", "mailto://"])
def test_validate_target_rejects_what_apprise_cannot_use(url: str) -> None:
    with pytest.raises(InputError, match="notify url"):
        validate_target(url)


@pytest.mark.parametrize(
    "url", ["json://127.0.0.1:8080/hook", "mailto://user:pw@example.com", "tgram://123456:ABCdef/987654"]
)
def test_validate_target_accepts_apprise_urls(url: str) -> None:
    validate_target(url)


def test_validate_target_error_does_not_echo_the_password() -> None:
    with pytest.raises(InputError) as raised:
        validate_target("nosuchservice://admin:Sup3rSecretPw@host/path")
    assert "Sup3rSecretPw" not in str(raised.value)


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("mailto://alice:Sup3rSecretPw@example.com", "Sup3rSecretPw"),
        ("json://bob:Sup3rSecretPw@127.0.0.1:9000/hook", "Sup3rSecretPw"),
        ("json://127.0.0.1:9000/hook?+X-Api-Token=tok_9f8e7d6c", "tok_9f8e7d6c"),
        ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ", "TIiajkdnlazkcOXrIdevi7FQ"),
        ("nosuchservice://carol:Sup3rSecretPw@host/p?token=abc123xyz", "Sup3rSecretPw"),
        ("nosuchservice://host/p?token=abc123xyz", "abc123xyz"),
    ],
)
def test_redact_target_hides_secrets(url: str, secret: str) -> None:
    shown = redact_target(url)

    assert secret not in shown
    assert shown.split("://", 1)[0] == url.split("://", 1)[0]


def test_redact_keeps_the_host_readable() -> None:
    assert "example.com" in redact_target("mailto://alice:Sup3rSecretPw@example.com")


def test_scrub_secrets_removes_url_secrets_from_free_text() -> None:
    url = "json://bob:Sup3rSecretPw@127.0.0.1:9000/hook?+X-Api-Token=tok_9f8e7d6c"

    text = scrub_secrets(f"failed posting to {url} with token tok_9f8e7d6c and pw Sup3rSecretPw", url)

    assert "Sup3rSecretPw" not in text
    assert "tok_9f8e7d6c" not in text


def test_idempotency_header_only_for_targets_that_take_headers() -> None:
    assert "+X-Idempotency-Key=a%3Ab%2Fc" in with_idempotency_header("json://h:1/p?x=1", "a:b/c")
    assert with_idempotency_header("mailto://u:p@example.com", "k") == "mailto://u:p@example.com?+X-Idempotency-Key=k"
    assert with_idempotency_header("slack://T1/A2/abc", "k") == "slack://T1/A2/abc"


def test_backoff_doubles_from_30_seconds_to_a_one_hour_cap_with_jitter() -> None:
    for attempts, nominal in [(1, 30.0), (2, 60.0), (3, 120.0), (8, 3600.0), (30, 3600.0)]:
        delays = [backoff_seconds(attempts) for _ in range(50)]
        assert all(nominal / 2 <= delay <= nominal for delay in delays)
        assert len(set(delays)) > 1


# --- dispatch -----------------------------------------------------------------------------------------


def _queue(
    sessions: sessionmaker[Session],
    target: str,
    *,
    count: int = 1,
    kind: str = "decision_made",
    locale: str = "en",
    context: dict[str, Any] | None = None,
    due: datetime = T0,
) -> list[str]:
    keys = [f"{kind}:{uuid.uuid4()}" for _ in range(count)]
    with sessions() as session, session.begin():
        session.add_all(
            OutboxMessage(
                idempotency_key=key,
                kind=kind,
                recipient_id=None,
                target=target,
                locale=locale,
                context=context if context is not None else CONTEXTS[kind],
                status=OutboxStatus.PENDING.value,
                next_attempt_at=due,
            )
            for key in keys
        )
    return keys


def _row(sessions: sessionmaker[Session], key: str) -> OutboxMessage:
    with sessions() as session:
        row = session.execute(select(OutboxMessage).where(OutboxMessage.idempotency_key == key)).scalar_one()
        session.expunge(row)
        return row


def test_dispatch_delivers_to_http_receiver_and_marks_sent(
    sessions: sessionmaker[Session], receiver: HttpReceiver
) -> None:
    (key,) = _queue(sessions, receiver.apprise_url("/hook"), kind="approval_requested", locale="zh-CN")

    report = dispatch_due(sessions, now=T0)

    assert report == DispatchReport(claimed=1, sent=1)
    (request,) = receiver.requests
    assert request.path == "/hook"
    assert request.header("X-Idempotency-Key") == key
    payload = request.json()
    assert "审批请求" in payload["title"]
    assert "阶段门" in payload["message"]
    assert key in payload["message"]
    row = _row(sessions, key)
    assert row.status == OutboxStatus.SENT
    assert row.sent_at == T0
    assert row.attempts == 1
    assert row.last_error is None
    assert row.lease_until is None


def test_dispatch_takes_only_due_rows(sessions: sessionmaker[Session], receiver: HttpReceiver) -> None:
    (later,) = _queue(sessions, receiver.apprise_url("/later"), due=T0 + timedelta(minutes=5))

    assert dispatch_due(sessions, now=T0) == DispatchReport()
    assert dispatch_due(sessions, now=T0 + timedelta(minutes=5)).sent == 1
    assert receiver.count_by_header("X-Idempotency-Key") == {later: 1}


def test_dispatch_refused_port_fails_with_backoff_then_dies(sessions: sessionmaker[Session]) -> None:
    target = f"json://admin:Sup3rSecretPw@127.0.0.1:{free_port()}/hook?+X-Api-Token=tok_9f8e7d6c"
    (key,) = _queue(sessions, target)

    first = dispatch_due(sessions, now=T0, max_attempts=3)

    assert first == DispatchReport(claimed=1, failed=1)
    row = _row(sessions, key)
    assert row.status == OutboxStatus.FAILED
    assert row.attempts == 1
    assert row.last_error is not None
    assert "connection error" in row.last_error.lower()
    assert "Sup3rSecretPw" not in row.last_error
    assert "tok_9f8e7d6c" not in row.last_error
    assert T0 + timedelta(seconds=15) <= row.next_attempt_at <= T0 + timedelta(seconds=30)
    assert row.lease_until is None

    assert dispatch_due(sessions, now=T0 + timedelta(seconds=14), max_attempts=3) == DispatchReport()

    second = dispatch_due(sessions, now=T0 + timedelta(minutes=1), max_attempts=3)
    assert second == DispatchReport(claimed=1, failed=1)
    row = _row(sessions, key)
    assert row.attempts == 2
    assert T0 + timedelta(minutes=1, seconds=30) <= row.next_attempt_at <= T0 + timedelta(minutes=2)

    third = dispatch_due(sessions, now=T0 + timedelta(hours=1), max_attempts=3)
    assert third == DispatchReport(claimed=1, dead=1)
    row = _row(sessions, key)
    assert row.status == OutboxStatus.DEAD
    assert row.attempts == 3
    assert row.last_error is not None

    assert dispatch_due(sessions, now=T0 + timedelta(days=1), max_attempts=3) == DispatchReport()


def test_dispatch_500_fails_then_retry_after_recovery_delivers_exactly_once(
    sessions: sessionmaker[Session], receiver: HttpReceiver
) -> None:
    (key,) = _queue(sessions, receiver.apprise_url("/hook"), kind="gate_not_ready")
    receiver.status = 500

    assert dispatch_due(sessions, now=T0) == DispatchReport(claimed=1, failed=1)
    row = _row(sessions, key)
    assert row.status == OutboxStatus.FAILED
    assert row.last_error is not None
    assert "500" in row.last_error

    receiver.status = 200
    retry_at = row.next_attempt_at
    assert dispatch_due(sessions, now=retry_at) == DispatchReport(claimed=1, sent=1)
    assert dispatch_due(sessions, now=retry_at + timedelta(hours=2)) == DispatchReport()

    assert receiver.count_by_header("X-Idempotency-Key", answered=500) == {key: 1}
    assert receiver.count_by_header("X-Idempotency-Key", answered=200) == {key: 1}
    row = _row(sessions, key)
    assert row.status == OutboxStatus.SENT
    assert row.attempts == 2
    assert row.last_error is None


def test_dispatch_receiver_that_went_away_and_came_back(sessions: sessionmaker[Session]) -> None:
    receiver = HttpReceiver().start()
    port = receiver.port
    receiver.stop()
    try:
        (key,) = _queue(sessions, f"json://127.0.0.1:{port}/hook")
        assert dispatch_due(sessions, now=T0).failed == 1

        receiver.start()
        assert receiver.port == port
        assert dispatch_due(sessions, now=T0 + timedelta(minutes=1)).sent == 1
        assert receiver.count_by_header("X-Idempotency-Key") == {key: 1}
    finally:
        receiver.stop()


def test_dispatch_skips_rows_under_a_live_lease(sessions: sessionmaker[Session], receiver: HttpReceiver) -> None:
    (key,) = _queue(sessions, receiver.apprise_url("/hook"))
    with sessions() as session, session.begin():
        row = session.execute(select(OutboxMessage).where(OutboxMessage.idempotency_key == key)).scalar_one()
        row.lease_until = T0 + timedelta(seconds=60)  # another dispatcher holds it

    assert dispatch_due(sessions, now=T0 + timedelta(seconds=59)) == DispatchReport()
    assert receiver.requests == []
    assert dispatch_due(sessions, now=T0 + timedelta(seconds=60)).sent == 1


def test_dispatch_slow_receiver_becomes_maybe_sent_and_is_not_resent(
    sessions: sessionmaker[Session], receiver: HttpReceiver
) -> None:
    (key,) = _queue(sessions, receiver.apprise_url("/slow"))
    receiver.delay = 3.0

    report = dispatch_due(sessions, now=T0, send_timeout_seconds=0.5, lease_seconds=30)

    assert report == DispatchReport(claimed=1, maybe_sent=1)
    row = _row(sessions, key)
    assert row.status == OutboxStatus.MAYBE_SENT
    assert row.last_error is not None
    assert "unknown" in row.last_error
    assert dispatch_due(sessions, now=T0 + timedelta(hours=2)) == DispatchReport()
    assert len(receiver.wait_for(1)) == 1


def test_dispatch_http_read_timeout_is_retried_with_the_same_idempotency_key(
    sessions: sessionmaker[Session], receiver: HttpReceiver
) -> None:
    # Apprise reports its own socket timeout as a plain failure: the row is retried, and the receiver can
    # drop the repeat because both requests carry the same key.
    (key,) = _queue(sessions, receiver.apprise_url("/slow") + "?rto=0.3")
    receiver.delay = 1.0

    assert dispatch_due(sessions, now=T0).failed == 1
    receiver.delay = 0.0
    assert dispatch_due(sessions, now=T0 + timedelta(minutes=1)).sent == 1

    assert [request.header("X-Idempotency-Key") for request in receiver.requests] == [key, key]
    assert _row(sessions, key).status == OutboxStatus.SENT


def test_dispatch_unrenderable_row_is_dead_at_once(sessions: sessionmaker[Session], receiver: HttpReceiver) -> None:
    broken = {key: value for key, value in CONTEXTS["decision_made"].items() if key != "reason"}
    (key,) = _queue(sessions, receiver.apprise_url("/hook"), context=broken)

    assert dispatch_due(sessions, now=T0) == DispatchReport(claimed=1, dead=1)
    row = _row(sessions, key)
    assert row.status == OutboxStatus.DEAD
    assert row.last_error is not None
    assert "reason" in row.last_error
    assert receiver.requests == []


def test_dispatch_rejects_lease_shorter_than_a_send(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(InputError, match="lease_seconds"):
        dispatch_due(sessions, now=T0, lease_seconds=10, send_timeout_seconds=20)


def test_parallel_dispatchers_send_each_row_exactly_once(
    sessions: sessionmaker[Session], receiver: HttpReceiver
) -> None:
    keys = _queue(sessions, receiver.apprise_url("/bulk"), count=200)
    reports: dict[str, list[DispatchReport]] = {"a": [], "b": []}
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run(worker: str) -> None:
        try:
            start.wait()
            while True:
                report = dispatch_due(sessions, now=T0, batch_size=15, worker_id=worker)
                reports[worker].append(report)
                if report.claimed == 0:
                    return
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(worker,)) for worker in reports]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert not any(thread.is_alive() for thread in threads)
    counts = receiver.count_by_header("X-Idempotency-Key")
    assert len(receiver.requests) == 200
    assert set(counts) == set(keys)
    assert set(counts.values()) == {1}
    assert sum(report.sent for batch in reports.values() for report in batch) == 200
    assert all(report.lease_lost == 0 and report.failed == 0 for batch in reports.values() for report in batch)
    with sessions() as session:
        statuses = session.execute(select(OutboxMessage.status)).scalars().all()
    assert statuses.count(OutboxStatus.SENT.value) == 200


@pytest.mark.parametrize(("locale", "fix"), [("en", "Fix: do x"), ("zh-CN", "处理建议：做x")])
def test_not_ready_lists_each_criterion_on_its_own_line_with_the_fix(locale: str, fix: str) -> None:
    context = {
        "project_key": "P",
        "project_name": "N",
        "gate_name": "G",
        "gate_name_zh": "关口",
        "criteria": [
            {
                "code": "a.b",
                "passed": False,
                "message": "m1",
                "message_zh": "中1",
                "remediation": "do x",
                "remediation_zh": "做x",
            },
            {
                "code": "c.d",
                "passed": True,
                "message": "m2",
                "message_zh": "中2",
                "remediation": "",
                "remediation_zh": "",
            },
        ],
    }
    lines = render("gate_not_ready", locale, context).body_markdown.splitlines()
    failing = [line for line in lines if "`a.b`" in line]
    passing = [line for line in lines if "`c.d`" in line]
    assert len(failing) == 1 and fix in failing[0]
    assert len(passing) == 1 and "Fix" not in passing[0] and "处理建议" not in passing[0]
    assert ("关口" in lines[0]) is (locale == "zh-CN")
