"""node_ref: index (to_node_id, created_at, id) for keyset pages of "who references this node".

Replaces ix_node_ref_to_node_id (its leading column serves the same lookups and the foreign
key checks): a page of `nodes.referenced_by_page` is then one ordered index range scan that stops
after `limit + 1` entries, instead of reading and sorting every reference to the node.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 20:00:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        'ix_node_ref_to_node_id_created_at_id', 'node_ref', ['to_node_id', 'created_at', 'id'], unique=False
    )
    op.drop_index('ix_node_ref_to_node_id', table_name='node_ref')


def downgrade() -> None:
    op.create_index('ix_node_ref_to_node_id', 'node_ref', ['to_node_id'], unique=False)
    op.drop_index('ix_node_ref_to_node_id_created_at_id', table_name='node_ref')
