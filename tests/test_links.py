"""Signed approval links: what a forged, altered, expired or misdirected link meets."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest
from itsdangerous import URLSafeSerializer

from phasegate.gates.vocabulary.errors import InputError, PermissionDeniedError
from phasegate.notifications.links import (
    EXPIRED,
    FORGED,
    MALFORMED,
    SALT,
    STALE_EVIDENCE,
    WRONG_APPROVER,
    WRONG_ROUND,
    ApprovalClaim,
    approval_token,
    approval_url,
    read_approval_token,
)

pytestmark = pytest.mark.unit  # pure: no database, no Prefect, no browser (make test-fast)

SECRET = "k" * 16 + "0123456789abcdef"  # 32 bytes
OTHER_SECRET = "another-deployment-secret-of-32+bytes"
ROUND = str(uuid.UUID("0b6f3c4e-1111-4a2b-9c3d-000000000001"))
EVIDENCE = "a" * 64
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
EXPIRES = T0 + timedelta(days=7)


def _token(**changes: object) -> str:
    fields: dict[str, object] = {
        "round_id": ROUND,
        "approver_id": "wang",
        "evidence_hash": EVIDENCE,
        "expires_at": EXPIRES,
    }
    fields.update(changes)
    return approval_token(SECRET, **fields)  # type: ignore[arg-type]


def _denied(token: str, *, secret: str = SECRET, now: datetime = T0) -> PermissionDeniedError:
    with pytest.raises(PermissionDeniedError) as raised:
        read_approval_token(secret, token, now=now)
    return raised.value


def test_round_trip_returns_the_claim_it_was_made_with() -> None:
    claim = read_approval_token(SECRET, _token(), now=T0)

    assert claim == ApprovalClaim(round_id=ROUND, approver_id="wang", evidence_hash=EVIDENCE, expires_at=EXPIRES)


def test_token_is_url_safe_and_differs_per_approver() -> None:
    token = _token()

    assert all(char.isalnum() or char in "-_." for char in token)
    assert token != _token(approver_id="li")


@pytest.mark.parametrize("position", [0, 10, -1, -10])
def test_any_changed_character_is_forged(position: int) -> None:
    token = _token()
    index = position % len(token)
    replacement = "A" if token[index] != "A" else "B"
    tampered = token[:index] + replacement + token[index + 1 :]

    assert _denied(tampered).code == FORGED


def test_altered_round_id_with_the_original_signature_is_forged() -> None:
    token = _token()
    payload_part, signature = token.rsplit(".", 1)
    codec = URLSafeSerializer(SECRET, salt=SALT)  # only its payload encoding is used: no signing
    payload = codec.load_payload(payload_part.encode())
    assert payload["r"] == ROUND
    payload["r"] = str(uuid.uuid4())
    altered = codec.dump_payload(payload).decode()

    error = _denied(f"{altered}.{signature}")

    assert error.code == FORGED
    assert "forged or altered" in error.message


def test_wrong_secret_is_forged() -> None:
    assert _denied(_token(), secret=OTHER_SECRET).code == FORGED


def test_signature_from_another_salt_is_forged() -> None:
    other_use = URLSafeSerializer(SECRET, salt="password-reset").dumps({"r": ROUND, "a": "wang", "h": EVIDENCE, "e": 0})

    assert _denied(other_use).code == FORGED


def test_expired_at_and_after_the_expiry_but_valid_just_before() -> None:
    token = _token()

    assert read_approval_token(SECRET, token, now=EXPIRES - timedelta(seconds=1)).round_id == ROUND
    assert _denied(token, now=EXPIRES).code == EXPIRED
    error = _denied(token, now=EXPIRES + timedelta(days=30))
    assert error.code == EXPIRED
    assert "2026-03-09" in error.message


def test_expiry_compares_instants_not_wall_clock_offsets() -> None:
    beijing = timezone(timedelta(hours=8))
    token = _token(expires_at=datetime(2026, 3, 9, 17, 0, tzinfo=beijing))  # 09:00 UTC

    assert read_approval_token(SECRET, token, now=datetime(2026, 3, 9, 8, 59, tzinfo=UTC)).approver_id == "wang"
    assert _denied(token, now=datetime(2026, 3, 9, 9, 0, tzinfo=UTC)).code == EXPIRED


def test_garbage_is_refused_not_crashed() -> None:
    for token in ["", "not-a-token", "a.b.c", "%%%.###"]:
        assert _denied(token).code in {FORGED, MALFORMED}


def test_signed_payload_of_the_wrong_shape_is_malformed() -> None:
    serializer = URLSafeSerializer(SECRET, salt=SALT, signer_kwargs={"digest_method": hashlib.sha256})
    wrong_shape = serializer.dumps({"r": ROUND, "a": "wang", "h": EVIDENCE, "e": "tomorrow"})

    assert _denied(wrong_shape).code == MALFORMED


def test_claim_require_refuses_another_round_approver_or_changed_evidence() -> None:
    claim = read_approval_token(SECRET, _token(), now=T0)
    claim.require(round_id=uuid.UUID(ROUND), approver_id="wang", evidence_hash=EVIDENCE)

    cases = [
        ({"round_id": str(uuid.uuid4()), "approver_id": "wang", "evidence_hash": EVIDENCE}, WRONG_ROUND),
        ({"round_id": ROUND, "approver_id": "li", "evidence_hash": EVIDENCE}, WRONG_APPROVER),
        ({"round_id": ROUND, "approver_id": "wang", "evidence_hash": "b" * 64}, STALE_EVIDENCE),
    ]
    for expected, code in cases:
        with pytest.raises(PermissionDeniedError) as raised:
            claim.require(**expected)
        assert raised.value.code == code


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"expires_at": datetime(2026, 3, 9, 9, 0)}, "expires_at"),
        ({"evidence_hash": "not-a-hash"}, "evidence_hash"),
        ({"approver_id": " "}, "approver_id"),
        ({"round_id": ""}, "round_id"),
    ],
)
def test_bad_inputs_to_sign_are_input_errors(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InputError, match=field):
        _token(**changes)


def test_short_secret_is_refused_on_both_sides() -> None:
    with pytest.raises(InputError, match="32 bytes"):
        approval_token("short", round_id=ROUND, approver_id="wang", evidence_hash=EVIDENCE, expires_at=EXPIRES)
    with pytest.raises(InputError, match="32 bytes"):
        read_approval_token("short", _token(), now=T0)


def test_naive_now_is_an_input_error() -> None:
    with pytest.raises(InputError, match="now"):
        read_approval_token(SECRET, _token(), now=datetime(2026, 3, 2, 9, 0))


def test_approval_url_joins_base_and_token() -> None:
    token = _token()

    assert approval_url("https://pmo.example.com/", token) == f"https://pmo.example.com/approve/{token}"
    assert approval_url("http://127.0.0.1:8000/phasegate", token) == f"http://127.0.0.1:8000/phasegate/approve/{token}"


@pytest.mark.parametrize("base", ["", "pmo.example.com", "ftp://pmo.example.com", "https://pmo.example.com/?x=1"])
def test_approval_url_rejects_bases_that_are_not_http_urls(base: str) -> None:
    with pytest.raises(InputError, match="public_url"):
        approval_url(base, _token())


def test_approval_url_rejects_a_token_that_would_change_the_path() -> None:
    with pytest.raises(InputError, match="token"):
        approval_url("https://pmo.example.com", "../admin")
