"""asset thumbnails: WebP 256 and 512 px (a poster frame for clips), made once when the file is stored.

`thumbnails` maps the long side in px to the stored thumbnail: {"256": {"key", "sha256"},
"512": {...}}; `thumbnail_key` keeps pointing at the 512 px one for older readers.

Revision ID: 1201
Revises: 0004
Create Date: 2026-12-02 02:00:00.000000+00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '1201'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        'asset',
        sa.Column(
            'thumbnails',
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
    )


def downgrade() -> None:
    op.drop_column('asset', 'thumbnails')
