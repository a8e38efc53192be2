"""ledger: task status `partial` — finished with some parts failed (a pipeline whose shots failed).

Revision ID: 1502
Revises: 1501
Create Date: 2026-12-02 10:10:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '1502'
down_revision: str | None = '1501'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("alter type task_status add value if not exists 'partial'")


def downgrade() -> None:
    # PostgreSQL cannot drop an enum value: partial rows become failed (their error says why), and
    # the type is rebuilt without the value.
    op.execute("update task set status = 'failed' where status = 'partial'")
    op.execute("alter type task_status rename to task_status_old")
    op.execute("create type task_status as enum ('queued', 'running', 'succeeded', 'failed', 'canceled')")
    op.execute("alter table task alter column status drop default")
    op.execute("alter table task alter column status type task_status using status::text::task_status")
    op.execute("alter table task alter column status set default 'queued'")
    op.execute("drop type task_status_old")
