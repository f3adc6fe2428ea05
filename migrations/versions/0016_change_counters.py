"""A change counter that moves only when something the portfolio pages read changes (issue #17's dashboard p99).

Why: the web process keeps pages built from the whole portfolio per committed state (``usecases.memo``), keyed by
``models.change_stamp``. Keyed by SQLite's ``data_version`` or PostgreSQL's snapshot, the key moved with every
commit: a sign-in touching its session, an API token's hourly use mark, an audited refusal, a notification sent,
and on PostgreSQL any commit to any database of the server. Each move cost one rebuild of the 10,000-project
view (seconds). Now triggers on every table but those few bump ``change_counters`` in the writing transaction,
so the stamp (the sum of the slots) moves exactly when such a transaction commits, whoever wrote it (the app, a
worker, ``psql``).

- PostgreSQL: a deferred constraint trigger per table (it runs at commit, so the counter row is locked only
  for the commit's own duration, after every other lock the transaction takes: no deadlock with row locks),
  once per transaction (a transaction-local setting), into the slot ``pg_backend_pid() % 1024``: two
  concurrent writers share a row only by chance, and then one waits for the other's commit to finish. A
  TRUNCATE is caught by a statement trigger.
- SQLite: a trigger per table and kind of write into slot 0 (writers take turns anyway, ``BEGIN IMMEDIATE``).
- Not watched: ``audit_log``, ``outbox``, ``web_sessions``, ``web_credentials``, ``external_identities``, and
  ``api_tokens.last_used_at``. No memoised page reads them. A table added later gets its triggers in its own
  migration (tests/test_change_stamp.py fails for a table with none).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 05:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SLOTS = 1024
WATCHED = (
    "people",
    "template_versions",
    "projects",
    "documents",
    "cost_entries",
    "project_roles",
    "baselines",
    "baseline_periods",
    "stage_budgets",
    "evm_reports",
    "risks",
    "milestones",
    "scores",
    "gate_reviews",
    "approval_rounds",
    "votes",
    "delegations",
    "conditions",
    "notification_steps",
    "lessons",
    "lesson_uses",
    "lessons_due",
    "decisions",
    "used_approval_links",
    "report_runs",
    "tolerances",
    "tolerance_exceptions",
    "rag_snapshots",
    "resource_profiles",
    "resource_capacity",
    "resource_demand",
    "project_priorities",
)
"""Every table at 0015 but the unwatched ones; ``api_tokens`` is watched apart from ``last_used_at``."""
TOKEN_COLUMNS = ("id", "token_hash", "person_id", "role", "created_at", "revoked_at")

PG_FUNCTION = f"""
CREATE FUNCTION phasegate_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('phasegate.changed', true) IS DISTINCT FROM 'yes' THEN
        INSERT INTO change_counters (slot, changes) VALUES (pg_backend_pid() % {SLOTS}, 1)
        ON CONFLICT (slot) DO UPDATE SET changes = change_counters.changes + 1;
        PERFORM set_config('phasegate.changed', 'yes', true);
    END IF;
    RETURN NULL;
END
$$
"""
SQLITE_BUMP = (
    "INSERT INTO change_counters (slot, changes) VALUES (0, 1) ON CONFLICT (slot) DO UPDATE SET changes = changes + 1"
)


def _pg_watch(table: str, columns: Sequence[str] | None = None) -> None:
    events = "INSERT OR DELETE OR UPDATE" if columns is None else f"INSERT OR DELETE OR UPDATE OF {', '.join(columns)}"
    op.execute(
        f"CREATE CONSTRAINT TRIGGER changed_{table} AFTER {events} ON {table} "
        "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION phasegate_changed()"
    )
    op.execute(
        f"CREATE TRIGGER truncated_{table} AFTER TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION phasegate_changed()"
    )


def _sqlite_watch(table: str, columns: Sequence[str] | None = None) -> None:
    update = "UPDATE" if columns is None else f"UPDATE OF {', '.join(columns)}"
    for kind, event in (("insert", "INSERT"), ("update", update), ("delete", "DELETE")):
        op.execute(f"CREATE TRIGGER changed_{table}_{kind} AFTER {event} ON {table} BEGIN {SQLITE_BUMP}; END")


def upgrade() -> None:
    op.create_table(
        "change_counters",
        sa.Column("slot", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("changes", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("slot", name=op.f("pk_change_counters")),
    )
    op.execute("INSERT INTO change_counters (slot, changes) VALUES (0, 0)")
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute(PG_FUNCTION)
    watch = _pg_watch if postgres else _sqlite_watch
    for table in WATCHED:
        watch(table)
    watch("api_tokens", TOKEN_COLUMNS)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in (*WATCHED, "api_tokens"):
        if postgres:
            op.execute(f"DROP TRIGGER changed_{table} ON {table}")
            op.execute(f"DROP TRIGGER truncated_{table} ON {table}")
        else:
            for kind in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER changed_{table}_{kind}")
    if postgres:
        op.execute("DROP FUNCTION phasegate_changed()")
    op.drop_table("change_counters")
