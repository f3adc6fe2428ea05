"""Delivery as receivers see it: real SMTP (aiosmtpd) and HTTP servers on 127.0.0.1, a real outbox database.

Covers what the issue asks of the delivery side: email as HTML with a text part, the approval link readable
as text, attachments byte for byte; chat targets getting the short Markdown; org routing by tags (AND/OR)
with secrets from ``${NAME}`` environment placeholders that never reach the outbox, logs or ``notify list``;
per-target results when one target refuses, one answers 500 and one is too slow; and, once the dead target
is back, every queued notification delivered exactly once. Time moves by passing ``now``, never by sleeping.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from phasegate.gates.vocabulary.enums import OutboxStatus
from phasegate.gates.vocabulary.errors import ConflictError, InputError, NotFoundError
from phasegate.models.db import make_engine, make_session_factory
from phasegate.models.tables import OutboxMessage
from phasegate.notifications.dispatch import DispatchReport, dispatch_due, list_outbox, requeue
from phasegate.notifications.render import render
from phasegate.notifications.routing import OrgConfig, expand_targets, load_org_config, parse_org_config
from tests import actors
from tests.receivers import HttpReceiver, SmtpReceiver, free_port
from tests.test_notifications import CONTEXTS

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
APPROVAL_URL = CONTEXTS["approval_requested"]["approval_url"]
PACKET = "<!DOCTYPE html><html><body><h1>Gate packet 阶段门</h1><p>evidence sha256 ab12</p></body></html>\r\n"
MEETING = {"starts_at": "2026-03-05T14:00:00+08:00", "duration_minutes": 45, "location": "Room 3 / 会议室"}


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    with SmtpReceiver() as running:
        yield running


@pytest.fixture
def http() -> Iterator[HttpReceiver]:
    with HttpReceiver() as running:
        yield running


def _approval_context(**extra: Any) -> dict[str, Any]:
    return {
        **CONTEXTS["approval_requested"],
        "review_meeting": MEETING,
        "requested_at": "2026-03-02T09:00:00+00:00",
        "attachments": [
            {
                "name": "gate-packet-ERP-7-g2.html",
                "content_type": "text/html",
                "content_base64": base64.b64encode(PACKET.encode("utf-8")).decode("ascii"),
            }
        ],
        **extra,
    }


def _queue(
    sessions: sessionmaker[Session],
    targets: list[str],
    *,
    kind: str = "decision_made",
    locale: str = "en",
    context: dict[str, Any] | None = None,
) -> dict[str, str]:
    """One outbox row per target (as the services write them); returns idempotency key -> target."""
    keys = {f"{kind}:{uuid.uuid4()}": target for target in targets}
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
                next_attempt_at=T0,
            )
            for key, target in keys.items()
        )
    return keys


def _rows(sessions: sessionmaker[Session]) -> dict[str, OutboxMessage]:
    with sessions() as session:
        rows = session.execute(select(OutboxMessage)).scalars().all()
        for row in rows:
            session.expunge(row)
        return {row.idempotency_key: row for row in rows}


# --- email ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("locale", "words"), [("en", ["Approval requested", "Open"]), ("zh-CN", ["审批", "阶段门"])])
def test_email_is_html_with_text_part_link_as_text_and_attachments_byte_for_byte(
    sessions: sessionmaker[Session], smtp: SmtpReceiver, locale: str, words: list[str]
) -> None:
    context = _approval_context()
    (key,) = _queue(
        sessions, [smtp.apprise_url("wang@example.com")], kind="approval_requested", locale=locale, context=context
    )
    expected = render("approval_requested", locale, context)

    assert dispatch_due(sessions, now=T0) == DispatchReport(claimed=1, sent=1)

    (mail,) = smtp.messages
    message = mail.message
    assert mail.rcpt_tos == ("wang@example.com",)
    assert message["Subject"] == expected.title
    assert message["X-Idempotency-Key"] == key
    text, html = mail.part("text/plain"), mail.part("text/html")
    assert APPROVAL_URL in text  # a plain-text reader still sees the link
    assert f'href="{APPROVAL_URL}"' in html
    assert key in text and key in html
    for word in words:
        assert word in text, word
    assert "**" not in text
    files = mail.attachments()
    assert files["gate-packet-ERP-7-g2.html"] == ("text/html", PACKET.encode("utf-8"))
    invitation = {a.filename: a for a in expected.attachments}["gate-review.ics"]
    assert files["gate-review.ics"] == ("text/calendar", invitation.content)
    assert b"DTSTART:20260305T060000Z" in files["gate-review.ics"][1]
    assert _rows(sessions)[key].status == OutboxStatus.SENT


def test_email_without_meeting_or_files_is_multipart_alternative(
    sessions: sessionmaker[Session], smtp: SmtpReceiver
) -> None:
    _queue(sessions, [smtp.apprise_url("li@example.com")], kind="decision_made", locale="zh-CN")

    assert dispatch_due(sessions, now=T0).sent == 1

    (mail,) = smtp.messages
    assert mail.message.get_content_type() == "multipart/alternative"
    assert mail.attachments() == {}
    assert "终止" in mail.part("text/plain")


def test_chat_target_gets_the_short_markdown_and_no_attachments(
    sessions: sessionmaker[Session], http: HttpReceiver
) -> None:
    (key,) = _queue(sessions, [http.apprise_url("/chat")], kind="approval_requested", context=_approval_context())

    assert dispatch_due(sessions, now=T0).sent == 1

    (request,) = http.requests
    payload = request.json()
    assert f"<{APPROVAL_URL}>" in payload["message"]
    assert "<html" not in payload["message"]
    assert not payload.get("attachments")
    assert request.header("X-Idempotency-Key") == key


def test_malformed_attachment_dead_letters_the_email_with_the_reason(
    sessions: sessionmaker[Session], smtp: SmtpReceiver
) -> None:
    context = _approval_context(attachments=[{"name": "p.html", "content_type": "text/html", "content_base64": "@@"}])
    (key,) = _queue(sessions, [smtp.apprise_url("wang@example.com")], kind="approval_requested", context=context)

    assert dispatch_due(sessions, now=T0) == DispatchReport(claimed=1, dead=1)

    row = _rows(sessions)[key]
    assert row.last_error is not None
    assert "attachments[1].content_base64" in row.last_error
    assert smtp.messages == []


# --- routing ---------------------------------------------------------------------------------------------

ORG_YAML = """\
version: 1
urls:
  - json://127.0.0.1:{port}/pmo:
      - tag: pmo
  - json://127.0.0.1:{port}/finance-erp:
      - tag: finance, project:ERP-7
  - json://127.0.0.1:{port}/finance-crm:
      - tag: finance, project:CRM-2
  - json://127.0.0.1:{port}/sponsor:
      - tag: sponsor
        +X-Token: ${{HOOK_TOKEN}}
  - json://127.0.0.1:{port}/audit:
      - tag: always
"""


def _org(tmp_path: Path, port: int, monkeypatch: pytest.MonkeyPatch, token: str = "tok/s3cr3t@v?1") -> OrgConfig:
    monkeypatch.setenv("HOOK_TOKEN", token)
    path = tmp_path / "apprise.yaml"
    path.write_text(ORG_YAML.format(port=port), encoding="utf-8")
    return load_org_config(path)


def _paths(urls: list[str]) -> list[str]:
    return [url.split("?", 1)[0].rsplit("/", 1)[1] for url in urls]


def test_tags_or_and_and_select_org_targets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _org(tmp_path, 9, monkeypatch)

    assert _paths(expand_targets([], ["pmo"], config)) == ["pmo", "audit"]
    assert _paths(expand_targets([], ["pmo", "sponsor"], config)) == ["pmo", "sponsor", "audit"]
    assert _paths(expand_targets([], [("finance", "project:erp-7")], config)) == ["finance-erp", "audit"]
    assert _paths(expand_targets([], [("FINANCE", "Project:ERP-7"), "pmo"], config)) == [
        "pmo",
        "finance-erp",
        "audit",
    ]
    assert _paths(expand_targets([], ["finance"], config)) == ["finance-erp", "finance-crm", "audit"]
    assert expand_targets([], [("finance", "project:nope")], config) == [expand_targets([], ["always"], config)[0]]
    assert expand_targets(["mailto://a:b@example.com"], [], config) == ["mailto://a:b@example.com"]
    assert expand_targets(["json://x:1/p"], ["pmo"], None) == ["json://x:1/p"]


def test_person_and_tag_targets_are_deduplicated_person_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _org(tmp_path, 9, monkeypatch)
    pmo = expand_targets([], ["pmo"], config)[0]

    assert expand_targets(["json://x:1/me", pmo], ["pmo", "pmo"], config) == [
        "json://x:1/me",
        pmo,
        expand_targets([], ["always"], config)[0],
    ]


def test_org_targets_keep_the_placeholder_never_the_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = _org(tmp_path, 9, monkeypatch)

    (sponsor,) = [url for url in expand_targets([], ["sponsor"], config) if "/sponsor" in url]
    assert "${HOOK_TOKEN}" in sponsor
    assert "s3cr3t" not in "".join(target.url for target in config.targets)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: 1\nurls:\n  - json://127.0.0.1:9/ok\n  - nosuchservice://admin:Pw0rdSecret@h/x\n", "entry #2"),
        ("version: 1\nurls: []\n", "'urls' must be a non-empty list"),
        ("- just\n- a list\n", "Apprise YAML mapping"),
        ("version: 2\nurls:\n  - json://h/p\n", "version must be 1"),
        ("version: 1\nurls:\n  - json://h/p?+X=${not-a-name}\n", "placeholder"),
        ("version: 1\nurls: [json://h/p\n", "not valid YAML"),
    ],
)
def test_unusable_org_config_is_rejected_with_a_clear_message(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as raised:
        parse_org_config(text, source="org.yaml")
    assert "org.yaml" in str(raised.value)
    assert "Pw0rdSecret" not in str(raised.value)


def test_missing_org_config_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="PHASEGATE_NOTIFY_CONFIG"):
        load_org_config(tmp_path / "missing.yaml")


def test_tagged_delivery_fills_secrets_at_send_time_only(
    sessions: sessionmaker[Session], http: HttpReceiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _org(tmp_path, http.port, monkeypatch, token="tok/s3cr3t@v?1")
    targets = expand_targets([], ["sponsor", ("finance", "project:ERP-7")], config)
    keys = _queue(sessions, targets, kind="gate_not_ready")

    assert dispatch_due(sessions, now=T0).sent == 3

    by_path = {request.path: request for request in http.requests}
    assert set(by_path) == {"/sponsor", "/finance-erp", "/audit"}
    assert by_path["/sponsor"].header("X-Token") == "tok/s3cr3t@v?1"
    assert {request.header("X-Idempotency-Key") for request in http.requests} == set(keys)
    stored = " ".join(row.target + (row.last_error or "") for row in _rows(sessions).values())
    assert "s3cr3t" not in stored
    shown = json.dumps([entry.as_dict() for entry in list_outbox(sessions)])
    assert "s3cr3t" not in shown


def test_unset_secret_fails_naming_the_variable_then_sends_once_set(
    sessions: sessionmaker[Session], http: HttpReceiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _org(tmp_path, http.port, monkeypatch)
    (sponsor,) = [url for url in expand_targets([], ["sponsor"], config) if "/sponsor" in url]
    (key,) = _queue(sessions, [sponsor])
    monkeypatch.delenv("HOOK_TOKEN")

    assert dispatch_due(sessions, now=T0) == DispatchReport(claimed=1, failed=1)
    row = _rows(sessions)[key]
    assert row.last_error is not None and "HOOK_TOKEN" in row.last_error
    assert http.requests == []

    monkeypatch.setenv("HOOK_TOKEN", "later-value")
    assert dispatch_due(sessions, now=T0 + timedelta(hours=1)).sent == 1
    assert http.requests[0].header("X-Token") == "later-value"


# --- per-target results and recovery ---------------------------------------------------------------------


def test_each_target_records_its_own_result_and_the_dead_one_catches_up_once_back(
    sessions: sessionmaker[Session], smtp: SmtpReceiver
) -> None:
    down_port = free_port()
    with HttpReceiver() as healthy, HttpReceiver(status=500) as broken, HttpReceiver(delay=6.0) as slow:
        targets = {
            "ok": healthy.apprise_url("/ok"),
            "down": f"json://127.0.0.1:{down_port}/down",
            "500": broken.apprise_url("/err"),
            "slow": slow.apprise_url("/slow"),
            "mail": smtp.apprise_url("pmo@example.com"),
        }
        queued = [_queue(sessions, list(targets.values()), kind="gate_not_ready") for _ in range(3)]
        name_of = {
            key: name
            for batch in queued
            for key, target in batch.items()
            for name in targets
            if targets[name] == target
        }

        # The call deadline (3 s) is far above a healthy local send and far below the slow reply (6 s).
        first = dispatch_due(sessions, now=T0, send_timeout_seconds=3.0, lease_seconds=30)

        assert first == DispatchReport(claimed=15, sent=6, failed=6, maybe_sent=3)
        rows = _rows(sessions)
        status = {key: (name_of[key], row.status) for key, row in rows.items()}
        assert set(status.values()) == {
            ("ok", OutboxStatus.SENT),
            ("mail", OutboxStatus.SENT),
            ("down", OutboxStatus.FAILED),
            ("500", OutboxStatus.FAILED),
            ("slow", OutboxStatus.MAYBE_SENT),
        }
        errors = {name_of[key]: row.last_error or "" for key, row in rows.items()}
        assert "connection error" in errors["down"].lower()
        assert "500" in errors["500"]
        assert "unknown" in errors["slow"]
        assert errors["ok"] == errors["mail"] == ""

        back = HttpReceiver(port=down_port).start()
        broken.status = 200
        try:
            second = dispatch_due(sessions, now=T0 + timedelta(hours=1), send_timeout_seconds=3.0, lease_seconds=30)
            assert second == DispatchReport(claimed=6, sent=6)
            assert dispatch_due(sessions, now=T0 + timedelta(days=1)) == DispatchReport()

            wanted = {key for key, name in name_of.items() if name == "down"}
            assert back.count_by_header("X-Idempotency-Key") == dict.fromkeys(wanted, 1)
            wanted = {key for key, name in name_of.items() if name == "500"}
            assert broken.count_by_header("X-Idempotency-Key") == dict.fromkeys(wanted, 1)
        finally:
            back.stop()
        assert len(slow.wait_for(3)) == 3  # maybe-sent rows are not sent again on their own
        assert sorted(mail.message["X-Idempotency-Key"] for mail in smtp.messages) == sorted(
            key for key, name in name_of.items() if name == "mail"
        )
        final = _rows(sessions)
        assert all(row.status == OutboxStatus.SENT for key, row in final.items() if name_of[key] != "slow")


def test_requeue_gives_a_dead_row_a_fresh_budget_and_refuses_a_sent_one(
    sessions: sessionmaker[Session], http: HttpReceiver
) -> None:
    down_port = free_port()
    dead_key, sent_key = (
        *_queue(sessions, [f"json://127.0.0.1:{down_port}/d"]),
        *_queue(sessions, [http.apprise_url()]),
    )
    dispatch_due(sessions, now=T0, max_attempts=1)
    rows = _rows(sessions)
    assert rows[dead_key].status == OutboxStatus.DEAD
    http.clear()

    with pytest.raises(ConflictError, match="already sent"):
        requeue(sessions, ref=str(rows[sent_key].id), now=T0)
    with pytest.raises(NotFoundError, match="notify list"):
        requeue(sessions, ref="no-such-key", now=T0)
    with pytest.raises(InputError, match="--all-dead"):
        requeue(sessions, now=T0)

    with HttpReceiver(port=down_port) as back:
        assert requeue(sessions, ref=dead_key, now=T0 + timedelta(minutes=5)) == 1
        row = _rows(sessions)[dead_key]
        assert (row.status, row.attempts) == (OutboxStatus.PENDING, 0)
        assert dispatch_due(sessions, now=T0 + timedelta(minutes=5), max_attempts=1).sent == 1
        assert back.count_by_header("X-Idempotency-Key") == {dead_key: 1}
    assert requeue(sessions, all_dead=True, now=T0 + timedelta(minutes=6)) == 0


# --- the command line ------------------------------------------------------------------------------------

PHASEGATE = str(Path(sys.executable).with_name("phasegate"))


def _cli(url: str, *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([PHASEGATE, *args, "--db", url], capture_output=True, text=True, timeout=120)
    assert done.returncode == expect, f"{args}: {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr
    return done


def test_notify_list_and_retry_from_the_command_line(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    sessions = make_session_factory(engine)
    try:
        secret_target = f"json://admin:Sup3rSecretPw@127.0.0.1:{free_port()}/hook?+X-Api-Token=tok_9f8e7d6c"
        (dead_key,) = _queue(sessions, [secret_target])
        (pending_key,) = _queue(sessions, ["json://127.0.0.1:9/later"])
        with sessions() as session, session.begin():
            row = session.execute(select(OutboxMessage).where(OutboxMessage.idempotency_key == dead_key)).scalar_one()
            row.status, row.attempts = OutboxStatus.DEAD.value, 5
            row.last_error = "A Connection error occurred sending JSON notification to 127.0.0.1"
            later = session.execute(
                select(OutboxMessage).where(OutboxMessage.idempotency_key == pending_key)
            ).scalar_one()
            later.next_attempt_at = datetime(2999, 1, 1, tzinfo=UTC)
    finally:
        engine.dispose()

    listed = json.loads(_cli(sqlite_url, "notify", "list", "--json").stdout)
    assert {entry["idempotency_key"] for entry in listed} == {dead_key, pending_key}
    dead = json.loads(_cli(sqlite_url, "notify", "list", "--dead", "--json").stdout)
    assert [entry["idempotency_key"] for entry in dead] == [dead_key]
    assert dead[0]["status"] == "dead" and dead[0]["attempts"] == 5
    assert json.loads(_cli(sqlite_url, "notify", "list", "--failed", "--json").stdout) == []
    text = _cli(sqlite_url, "notify", "list").stdout
    assert "dead" in text and "Connection error" in text
    for output in (text, json.dumps(listed)):
        assert "Sup3rSecretPw" not in output and "tok_9f8e7d6c" not in output

    _cli(sqlite_url, "notify", "retry", expect=2)
    refused = _cli(sqlite_url, "notify", "retry", dead[0]["id"], expect=2)  # nobody is mapped to this login yet
    assert "not mapped to a person" in refused.stderr
    _cli(sqlite_url, *actors.bootstrap_admin_args())  # retrying is the PMO admin's act
    assert "no outbox message" in _cli(sqlite_url, "notify", "retry", "nope", expect=2).stderr
    done = json.loads(_cli(sqlite_url, "notify", "retry", dead[0]["id"], "--no-dispatch", "--json").stdout)
    assert done == {"queued": 1, "dispatch": None}
    again = json.loads(_cli(sqlite_url, "notify", "list", "--json").stdout)
    assert {entry["idempotency_key"]: entry["status"] for entry in again}[dead_key] == "pending"
    assert "queued 0" in _cli(sqlite_url, "notify", "retry", "--all-dead", "--no-dispatch").stdout
