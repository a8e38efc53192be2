"""The planner's feedback loop: each agent turn as a Langfuse trace, the user's answer as scores.

Rules: only when LANGFUSE_PUBLIC_KEY/SECRET_KEY are set and the ``langfuse`` extra is installed
(imported only then); the trace id is derived from the turn id (``create_trace_id(seed=turn_id)``)
so a later confirm, decline or undo scores the same trace without storing anything; score ids are
derived too, so a retried activity upserts instead of adding a second score; a failing recorder
never fails a turn. The LLM generation itself (tokens, cost) is traced by the LangChain callback
handler of :func:`infra.telemetry.langfuse_callbacks`.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Any

from infra.settings import Settings
from infra.telemetry import langfuse_enabled

log = logging.getLogger(__name__)

SCORES = {"confirmed": 1.0, "declined": 0.0, "undo": 0.0}


class TurnFeedback:
    """Records turns and scores through a Langfuse client (``langfuse.Langfuse`` ≥ 3)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def trace_id(self, turn_id: str) -> str:
        return str(self.client.create_trace_id(seed=turn_id))

    def record_turn(self, turn_id: str, text: str, reply: dict[str, Any]) -> None:
        metadata = {
            "turn_id": turn_id,
            "status": reply.get("status"),
            "planner": reply.get("planner"),
            "confidence": reply.get("confidence"),
            "evidence": reply.get("evidence") or [],
            "asked": bool(reply.get("question")),
        }
        output = {
            "intent": reply.get("intent"),
            "actions": reply.get("actions") or [],
            "message": reply.get("message"),
        }
        with self.client.start_as_current_span(
            name="agent.turn", trace_context={"trace_id": self.trace_id(turn_id)}, input={"text": text}
        ) as span:
            span.update(output=output, metadata=metadata)
            span.update_trace(name="agent.turn", input={"text": text}, output=output, metadata=metadata)

    def score(self, turn_id: str, name: str, comment: str | None = None) -> None:
        self.client.create_score(
            trace_id=self.trace_id(turn_id),
            score_id=f"{self.trace_id(turn_id)}-{name}",
            name=name,
            value=SCORES[name],
            data_type="NUMERIC",
            comment=comment,
        )

    def on_reply(self, turn_id: str, phase: str, text: str, reply: dict[str, Any]) -> None:
        """Everything one recorded reply tells: the turn, and the user's confirm / decline / undo."""
        try:
            if phase == "turn":
                self.record_turn(turn_id, text, reply)
            status = reply.get("status")
            if phase == "confirm" and status in ("done", "partial"):
                self.score(turn_id, "confirmed")
            if status == "declined":
                self.score(turn_id, "declined", comment=text or None)
            undone = [
                r
                for r in reply.get("results") or []
                if r.get("type") == "version.rollback" and r.get("status") == "done"
            ]
            if undone:
                note = (undone[0].get("data") or {}).get("summary")
                self.score(turn_id, "undo", comment=note)
        except Exception as exc:  # the feedback loop must never break a conversation
            log.warning("langfuse feedback not recorded for %s: %s", turn_id, exc)


def langfuse_feedback(settings: Settings) -> TurnFeedback | None:
    """A recorder when Langfuse keys are set and the package is installed; else None."""
    if not langfuse_enabled(settings) or importlib.util.find_spec("langfuse") is None:
        return None
    try:
        from langfuse import Langfuse

        return TurnFeedback(
            Langfuse(
                public_key=settings.langfuse_public_key,
                secret_key=settings.langfuse_secret_key,
                host=settings.langfuse_host or None,
            )
        )
    except Exception as exc:
        log.warning("langfuse unavailable: %s", exc)
        return None


__all__ = ["SCORES", "TurnFeedback", "langfuse_feedback"]
