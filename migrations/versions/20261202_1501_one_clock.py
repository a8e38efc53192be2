"""ledger: timestamps from one clock (clock_timestamp()) so a new row's updated_at >= created_at.

created_at defaults to clock_timestamp() (insertion order within a transaction); updated_at and
task.queued_at defaulted to now() (the transaction's start), so they came out earlier than
created_at on every new row. They now use the same clock.

Revision ID: 1501
Revises: 1301
Create Date: 2026-12-02 10:00:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '1501'
down_revision: str | None = '1301'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _tables() -> list[str]:
    bind = op.get_bind()
    rows = bind.exec_driver_sql(
        "select table_name from information_schema.columns "
        "where table_schema = current_schema() and column_name = 'updated_at' "
        "and table_name <> 'api_rate_bucket'"
    ).all()
    return [r[0] for r in rows]


def upgrade() -> None:
    for table in _tables():
        op.execute(f'alter table "{table}" alter column updated_at set default clock_timestamp()')
    op.execute("alter table task alter column queued_at set default clock_timestamp()")


def downgrade() -> None:
    for table in _tables():
        op.execute(f'alter table "{table}" alter column updated_at set default now()')
    op.execute("alter table task alter column queued_at set default now()")
