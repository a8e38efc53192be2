"""api: token buckets of the rate limit in the database, shared by every API replica (schema.api_models).

No index on updated_at: every limited request rewrites it (HOT updates stay possible), and the
hourly purge of idle buckets scans a table of one row per active user.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 22:00:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('api_rate_bucket',
    sa.Column('key', sa.Text(), nullable=False),
    sa.Column('tokens', sa.Double(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('tokens >= 0', name=op.f('ck_api_rate_bucket_tokens_non_negative')),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_api_rate_bucket'))
    )


def downgrade() -> None:
    op.drop_table('api_rate_bucket')
