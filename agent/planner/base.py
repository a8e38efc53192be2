"""The planner contract the agent graph calls, and how a planner is chosen.

Rules: a planner turns (sentence, planning context, validator feedback) into an *unvalidated*
turn dict — validation (and the repair loop) belongs to the graph, so every planner is held to
the same schema. The offline planner answers first; Gemini (GOOGLE_API_KEY set and the optional
``gemini`` extra installed) is asked only when the offline planner is unsure, and its failure
falls back to the offline reading (:mod:`agent.planner.hybrid`); nothing here touches the ledger.
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
        return turn.model_copy(update={"planner": "offline"}).model_dump(
            mode="json", by_alias=True, exclude_none=True
        )


def choose_planner(
    google_api_key: str | None, *, model: str | None = None, mode: str = "auto", timeout_s: float = 20.0
) -> Planner:
    """``auto`` (default): offline first, Gemini only when the offline planner is unsure and a key
    and the gemini extra are there; ``offline``; ``gemini`` (falls back to ``auto``'s offline
    planner when Gemini cannot be built, with a warning)."""
    from agent.planner.gemini import GeminiUnavailable
    from agent.planner.hybrid import HybridPlanner, build_planner

    try:
        planner = build_planner(mode, google_api_key, timeout_s=timeout_s, model=model)
    except GeminiUnavailable as exc:
        log.warning("the gemini planner cannot be used (%s); using the offline planner", exc)
        return OfflineTurnPlanner()
    if isinstance(planner, HybridPlanner) and planner.llm is None:
        return OfflineTurnPlanner()
    return planner


__all__ = ["OfflineTurnPlanner", "Planner", "choose_planner"]
