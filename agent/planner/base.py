"""The planner contract the agent graph calls, and how a planner is chosen.

Rules: a planner turns (sentence, planning context, validator feedback) into an *unvalidated*
turn dict — validation (and the repair loop) belongs to the graph, so every planner is held to
the same schema. The offline planner is the default; Gemini is used only when GOOGLE_API_KEY is
set and the optional ``gemini`` extra is installed; nothing here touches the ledger.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol, runtime_checkable

from agent.planner.offline import OfflinePlanner

log = logging.getLogger(__name__)


@runtime_checkable
class Planner(Protocol):
    name: str

    async def aplan(
        self,
        sentence: str,
        context: dict[str, Any],
        *,
        feedback: list[str] | None = None,
        previous: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A turn as a JSON dict (mode, intent, actions, message); may be invalid."""
        ...


class OfflineTurnPlanner:
    """The deterministic grammar planner (English and Chinese); its turns are always valid, so
    feedback never changes its answer."""

    name = "offline"

    def __init__(self) -> None:
        self._planner = OfflinePlanner()

    async def aplan(
        self,
        sentence: str,
        context: dict[str, Any],
        *,
        feedback: list[str] | None = None,
        previous: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        turn = self._planner.plan(sentence, context)
        return turn.model_dump(mode="json", by_alias=True, exclude_none=True)


def choose_planner(google_api_key: str | None, *, model: str | None = None) -> Planner:
    """Gemini when a key is configured and langchain-google-genai is installed, else offline."""
    if google_api_key:
        from agent.planner.gemini import GeminiUnavailable, gemini_planner

        try:
            return gemini_planner(google_api_key, model=model)
        except GeminiUnavailable as exc:
            log.warning(
                "GOOGLE_API_KEY is set but Gemini cannot be used (%s); using the offline planner", exc
            )
    return OfflineTurnPlanner()


__all__ = ["OfflineTurnPlanner", "Planner", "choose_planner"]
