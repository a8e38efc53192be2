"""api: idempotency keys and task-completion webhooks (schema.api_models).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 18:00:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('api_idempotency_key',
    sa.Column('user_id', sa.Text(), nullable=False),
    sa.Column('key', sa.Text(), nullable=False),
    sa.Column('method', sa.Text(), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.Column('body_hash', sa.Text(), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('response', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('length(key) BETWEEN 1 AND 255', name=op.f('ck_api_idempotency_key_key_length')),
    sa.PrimaryKeyConstraint('user_id', 'key', name=op.f('pk_api_idempotency_key'))
    )
    op.create_index('ix_api_idempotency_key_created_at', 'api_idempotency_key', ['created_at'], unique=False)
    op.create_table('api_webhook',
    sa.Column('id', sa.UUID(), server_default=sa.text('gen_random_uuid()'), nullable=False),
    sa.Column('workspace_id', sa.UUID(), nullable=False),
    sa.Column('user_id', sa.Text(), nullable=False),
    sa.Column('workflow_id', sa.Text(), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('status', sa.Text(), server_default='pending', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('clock_timestamp()'), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'delivered', 'failed')", name=op.f('ck_api_webhook_status_valid')),
    sa.CheckConstraint('attempts >= 0', name=op.f('ck_api_webhook_attempts_non_negative')),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], name=op.f('fk_api_webhook_workspace_id_workspace'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_webhook')),
    sa.UniqueConstraint('workflow_id', 'url', name=op.f('uq_api_webhook_workflow_id_url'))
    )
    op.create_index('ix_api_webhook_status_next_attempt_at', 'api_webhook', ['status', 'next_attempt_at'], unique=False)
    op.create_index('ix_api_webhook_workspace_id', 'api_webhook', ['workspace_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_api_webhook_workspace_id', table_name='api_webhook')
    op.drop_index('ix_api_webhook_status_next_attempt_at', table_name='api_webhook')
    op.drop_table('api_webhook')
    op.drop_index('ix_api_idempotency_key_created_at', table_name='api_idempotency_key')
    op.drop_table('api_idempotency_key')
