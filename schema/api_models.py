"""Tables owned by the API process (not part of the domain ledger): idempotency keys, webhooks and
the rate limit's token buckets.

Rule: same declarative Base as schema.models (one metadata, one migration history); no enum types
(status columns are text with CHECK constraints) so the ledger's enum set stays as it is; foreign
keys are declared by table name, so this module does not import schema.models.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Double, ForeignKey, Index, Integer, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from schema.base import Base, created_at, uuid_pk


class IdempotencyKey(Base):
    """One `Idempotency-Key` of one user: the request's fingerprint and, once done, its response.

    `status_code` NULL means the first request with this key is still running."""

    __tablename__ = "api_idempotency_key"
    __table_args__ = (
        Index("ix_api_idempotency_key_created_at", "created_at"),
        CheckConstraint("length(key) BETWEEN 1 AND 255", name="key_length"),
    )

    user_id: Mapped[str] = mapped_column(Text, primary_key=True)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    method: Mapped[str] = mapped_column(Text)
    path: Mapped[str] = mapped_column(Text)
    body_hash: Mapped[str] = mapped_column(Text)
    status_code: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[dict[str, Any] | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), nullable=False)


class Webhook(Base):
    """A signed callback to `url` when the task of `workflow_id` ends (delivered by the API's poller)."""

    __tablename__ = "api_webhook"
    __table_args__ = (
        UniqueConstraint("workflow_id", "url"),
        CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status_valid"),
        CheckConstraint("attempts >= 0", name="attempts_non_negative"),
        Index("ix_api_webhook_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_api_webhook_workspace_id", "workspace_id"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    # Ownership edge: a workspace's callbacks go with it.
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(Text)
    workflow_id: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=func.now())
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = created_at()


class RateBucket(Base):
    """One token bucket of the API rate limit, shared by every API replica (schema.repositories.rate_limits).

    `key` is the bucket's name and the user id; `tokens` is the level at `updated_at` (the database
    clock): the refill since then is computed when a token is taken, so an idle bucket is never written."""

    __tablename__ = "api_rate_bucket"
    __table_args__ = (CheckConstraint("tokens >= 0", name="tokens_non_negative"),)

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    tokens: Mapped[float] = mapped_column(Double)
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), nullable=False)


__all__ = ["IdempotencyKey", "RateBucket", "Webhook"]
