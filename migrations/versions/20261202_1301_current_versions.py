"""ledger: explicit current-version pointers (clip, narration, cut, music) so undo restores them.

Until now "current" was "the newest ok node of that type": a rollback could restore the selected
image but not the clip, the narration, the cut or the music. These pointers are what compose and
export read; a snapshot records them and a rollback restores them.

- work_item.current_video_node_id / current_voice_node_id -> node(id, work_item_id);
- workspace.current_cut_node_id / current_music_node_id -> node(id, workspace_id);
each ON DELETE SET NULL on the pointer column alone (PostgreSQL 15+), added with ALTER TABLE (the
tables and `node` form a cycle, `use_alter=True` in the models).

Backfill: the pointer each row would have had under the old rule (the clip compose used: the
selected node if it is a video, else the newest ok video made from it, else with nothing selected
the newest ok video; the newest ok narration, cut and music), so nothing changes on upgrade.

Revision ID: 1301
Revises: 1201
Create Date: 2026-12-02 12:00:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '1301'
down_revision: str | None = '1201'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WORK_ITEM = (('current_video_node_id', 'work_item_id'), ('current_voice_node_id', 'work_item_id'))
_WORKSPACE = (('current_cut_node_id', 'workspace_id'), ('current_music_node_id', 'workspace_id'))

_BACKFILL = (
    """
    UPDATE work_item w SET current_video_node_id = (
        SELECT v.id FROM node v
        WHERE v.work_item_id = w.id AND v.type = 'video' AND v.status = 'ok' AND v.asset_id IS NOT NULL
          AND (w.selected_node_id IS NULL OR v.id = w.selected_node_id OR v.parent_id = w.selected_node_id)
        ORDER BY coalesce(v.id = w.selected_node_id, false) DESC, v.created_at DESC, v.id DESC
        LIMIT 1)
    """,
    """
    UPDATE work_item w SET current_voice_node_id = (
        SELECT v.id FROM node v
        WHERE v.work_item_id = w.id AND v.type = 'audio_voice' AND v.status = 'ok' AND v.asset_id IS NOT NULL
        ORDER BY v.created_at DESC, v.id DESC LIMIT 1)
    """,
    """
    UPDATE workspace s SET current_cut_node_id = (
        SELECT n.id FROM node n
        WHERE n.workspace_id = s.id AND n.type = 'compose' AND n.status = 'ok' AND n.asset_id IS NOT NULL
        ORDER BY n.created_at DESC, n.id DESC LIMIT 1)
    """,
    """
    UPDATE workspace s SET current_music_node_id = (
        SELECT n.id FROM node n
        WHERE n.workspace_id = s.id AND n.type = 'audio_music' AND n.status = 'ok' AND n.asset_id IS NOT NULL
        ORDER BY n.created_at DESC, n.id DESC LIMIT 1)
    """,
)


def upgrade() -> None:
    for table, pointers in (('work_item', _WORK_ITEM), ('workspace', _WORKSPACE)):
        for column, owner in pointers:
            op.add_column(table, sa.Column(column, sa.UUID(), nullable=True))
            op.create_foreign_key(
                op.f(f'fk_{table}_{column}_id_node'), table, 'node',
                [column, 'id'], ['id', owner],
                ondelete=f'SET NULL ({column})',
            )  # fmt: skip
    op.create_index(
        op.f('ix_work_item_current_video_node_id'), 'work_item', ['current_video_node_id'], unique=False
    )
    op.create_index(
        op.f('ix_work_item_current_voice_node_id'), 'work_item', ['current_voice_node_id'], unique=False
    )
    for statement in _BACKFILL:
        op.execute(statement)


def downgrade() -> None:
    op.drop_index(op.f('ix_work_item_current_voice_node_id'), table_name='work_item')
    op.drop_index(op.f('ix_work_item_current_video_node_id'), table_name='work_item')
    for table, pointers in (('workspace', _WORKSPACE), ('work_item', _WORK_ITEM)):
        for column, _owner in reversed(pointers):
            op.drop_constraint(op.f(f'fk_{table}_{column}_id_node'), table, type_='foreignkey')
            op.drop_column(table, column)
