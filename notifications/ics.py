"""An RFC 5545 calendar invitation for a gate review meeting, attached to the approval request.

Why these choices:

- ``METHOD:PUBLISH`` with no ORGANIZER/ATTENDEE: the file puts the meeting in the approver's calendar
  without pretending to be an iTIP request that expects replies to a mailbox phasegate does not read.
- ``UID`` is derived from the approval round only, so a re-sent or re-scheduled invitation updates the
  same calendar entry instead of adding a second one (raise ``sequence`` when the time changes).
- All times are UTC (``...Z``): no VTIMEZONE block to get wrong, and every client shows local time.
- Text values are escaped (backslash, semicolon, comma, newline) and every content line is folded at 75
  octets without splitting a UTF-8 character, as section 3.1 asks; lines end with CRLF.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from phasegate.gates.vocabulary.errors import InputError
from phasegate.gates.vocabulary.text import Catalog, Text

PRODID = "-//phasegate//Gate review//EN"
MAX_LINE_OCTETS = 75
DEFAULT_DURATION_MINUTES = 60

# The invitation's words; placeholders are filled from the approval request (the Chinese line names the project
# without its key, as it always has).
WORDS = Catalog(
    "review invitation",
    {
        "summary": Text("Gate review: {name} ({key}), {gate}", "阶段门评审：{name}（{key}）{gate}"),
        "meeting": Text(
            "Review meeting for gate {gate} of project {name} ({key}).", "项目 {name} 阶段门 {gate} 评审会议。"
        ),
        "round": Text("Approval round: {round}", "审批轮次：{round}"),
        "link": Text("Approval page: ", "审批页面（同意或拒绝）："),
        "command": Text("Vote from the command line: ", "命令行投票："),
    },
)


def meeting_uid(round_id: str) -> str:
    """The calendar UID of the review meeting of one approval round (stable across re-sends)."""
    return f"gate-review-{round_id}@phasegate"


def review_meeting_event(
    *,
    round_id: str,
    starts_at: datetime,
    duration: timedelta,
    summary: str,
    description: str,
    stamped_at: datetime,
    approval_url: str | None = None,
    location: str | None = None,
    sequence: int = 0,
) -> str:
    """A VCALENDAR holding one VEVENT; ``stamped_at`` (DTSTAMP) is when the invitation was made."""
    if duration <= timedelta(0):
        raise InputError("review meeting: duration must be positive")
    if sequence < 0:
        raise InputError("review meeting: sequence must be >= 0")
    start = _utc(starts_at, "starts_at")
    text = description.rstrip()
    if approval_url and approval_url not in text:
        # The link must survive calendar clients that drop the URL property.
        text = f"{text}\n\n{approval_url}" if text else approval_url
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:{meeting_uid(round_id)}",
        f"DTSTAMP:{_stamp(_utc(stamped_at, 'stamped_at'))}",
        f"DTSTART:{_stamp(start)}",
        f"DTEND:{_stamp(start + duration)}",
        f"SEQUENCE:{sequence}",
        f"SUMMARY:{escape_text(summary)}",
        f"DESCRIPTION:{escape_text(text)}",
    ]
    if location:
        lines.append(f"LOCATION:{escape_text(location)}")
    if approval_url:
        lines.append(f"URL:{approval_url}")
    lines += ["STATUS:CONFIRMED", "TRANSP:OPAQUE", "END:VEVENT", "END:VCALENDAR"]
    return "".join(fold(line) + "\r\n" for line in lines)


def meeting_from_context(context: Mapping[str, Any], locale: str) -> str:
    """The invitation for an approval request's context (keys documented in ``notifications.render``)."""
    meeting = context["review_meeting"]
    if not isinstance(meeting, Mapping):
        raise InputError("review_meeting must be an object with starts_at, duration_minutes?, location?")
    if "requested_at" not in context:
        raise InputError("notification context for approval_requested: review_meeting needs requested_at (ISO)")
    starts_at = _parse(meeting.get("starts_at"), "review_meeting.starts_at")
    minutes = meeting.get("duration_minutes", DEFAULT_DURATION_MINUTES)
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 1 <= minutes <= 24 * 60:
        raise InputError("review_meeting.duration_minutes must be an integer from 1 to 1440")
    sequence = meeting.get("sequence", 0)
    if isinstance(sequence, bool) or not isinstance(sequence, int):
        raise InputError("review_meeting.sequence must be an integer >= 0")
    round_id = str(context["round_id"])
    gate = (context.get("gate_name_zh") if locale == "zh-CN" else None) or context["gate_name"]
    said = {"name": context["project_name"], "key": context["project_key"], "gate": gate, "round": round_id}
    summary = WORDS.text("summary", locale).format(**said)
    lines = [WORDS.text("meeting", locale).format(**said), WORDS.text("round", locale).format(**said)]
    url = context.get("approval_url")
    if url:
        lines.append(f"{WORDS.text('link', locale)}{url}")
    if context.get("vote_command"):
        lines.append(f"{WORDS.text('command', locale)}{context['vote_command']}")
    description = "\n".join(lines)
    return review_meeting_event(
        round_id=round_id,
        starts_at=starts_at,
        duration=timedelta(minutes=minutes),
        summary=summary,
        description=description,
        stamped_at=_parse(context["requested_at"], "requested_at"),
        approval_url=str(url) if url else None,
        location=str(meeting["location"]) if meeting.get("location") else None,
        sequence=sequence,
    )


def escape_text(value: str) -> str:
    """RFC 5545 TEXT escaping: backslash first, then ; and , and line breaks as ``\\n``."""
    escaped = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return escaped.replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n")


def fold(line: str) -> str:
    """Fold one content line into pieces of at most 75 octets joined by CRLF + space (RFC 5545 3.1)."""
    pieces: list[str] = []
    current = ""
    size = 0
    limit = MAX_LINE_OCTETS
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            pieces.append(current)
            current, size = "", 0
            limit = MAX_LINE_OCTETS - 1  # a continuation line starts with one space
        current += char
        size += width
    pieces.append(current)
    return "\r\n ".join(pieces)


def _utc(moment: datetime, field: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InputError(f"review meeting: {field} must be timezone-aware")
    return moment.astimezone(UTC)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")


def _parse(value: object, field: str) -> datetime:
    if isinstance(value, datetime):
        return _utc(value, field)
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{field} must be an ISO date-time with a UTC offset, got {value!r}") from None
    return _utc(parsed, field)
