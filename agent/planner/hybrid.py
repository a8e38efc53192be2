"""Hybrid planning: the offline grammar first, an LLM only when the grammar is unsure.

Rules:
- ``offline`` never calls an LLM; ``gemini`` always asks the LLM; ``auto`` asks it only when the
  offline turn's confidence is under :data:`ASK_LLM_BELOW` or the grammar could not read the
  sentence — never for a sentence the grammar refused (instruction override, commands, other
  users' data): a refusal is final;
- an LLM answer is validated against the Action DSL and repaired at most :data:`MAX_REPAIRS`
  times with the validator's errors; a timeout, a quota error (429), a refusal without a tool call,
  or output still invalid after the repairs falls back to the offline reading (or its question);
- every turn says which planner answered (``Turn.planner``) and why (``Turn.evidence``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from agent.planner.offline import EXECUTE_AT, READ_ONLY, OfflinePlanner
from schema.actions import Turn

log = logging.getLogger(__name__)

ASK_LLM_BELOW = 0.85
MAX_REPAIRS = 2
_FINAL_INTENTS = {"refused", "cancelled", "out_of_range"}


def _errors(exc: ValidationError) -> list[str]:
    out = []
    for e in exc.errors()[:5]:
        where = ".".join(str(x) for x in e["loc"])
        out.append(f"{where}: {e['msg']}" if where else e["msg"])
    return out


def _dump(turn: Turn) -> dict[str, Any]:
    return turn.model_dump(mode="json", by_alias=True, exclude_none=True)


class HybridPlanner:
    """Offline first; the LLM (a :class:`agent.planner.gemini.ChatModelPlanner`) when unsure."""

    def __init__(self, llm: Any | None, *, mode: str = "auto", timeout_s: float = 20.0) -> None:
        if mode not in ("offline", "gemini", "auto"):
            raise ValueError(f"unknown planner mode {mode!r}")
        self.llm = llm if mode != "offline" else None
        self.mode = mode
        self.timeout_s = timeout_s
        self.name = mode if self.llm is None or mode == "gemini" else f"auto({self.llm.name})"
        self._offline = OfflinePlanner()

    def needs_llm(self, offline: Turn) -> bool:
        if self.llm is None or offline.intent in _FINAL_INTENTS:
            return False
        if self.mode == "gemini":
            return True
        if not offline.actions:
            return offline.intent in {"unsupported", "clarify", "invalid"}
        return (offline.confidence if offline.confidence is not None else 1.0) < ASK_LLM_BELOW

    async def aplan(
        self,
        sentence: str,
        context: dict[str, Any],
        *,
        feedback: list[str] | None = None,
        previous: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        return _dump(await self.plan_turn(sentence, context))

    async def plan_turn(self, sentence: str, context: dict[str, Any]) -> Turn:
        offline = self._offline.plan(sentence, context)
        if not self.needs_llm(offline):
            return offline.model_copy(update={"planner": "offline"})
        why = (
            "gemini mode"
            if self.mode == "gemini"
            else f"offline confidence {offline.confidence if offline.confidence is not None else 0:.2f}"
        )
        try:
            turn = await asyncio.wait_for(self._llm_turn(sentence, context), timeout=self.timeout_s)
        except TimeoutError:
            return self._fallback(offline, f"{self.llm.name} timed out after {self.timeout_s:g} s")
        except Exception as exc:  # quota (429), network, auth: never "Something went wrong"
            log.warning("LLM planner failed (%s): %s", type(exc).__name__, exc)
            return self._fallback(offline, f"{self.llm.name} failed: {type(exc).__name__}: {str(exc)[:120]}")
        if turn is None:
            return self._fallback(offline, f"{self.llm.name} gave no valid turn after {MAX_REPAIRS} repairs")
        if not turn.actions and offline.actions:
            return self._fallback(offline, f"{self.llm.name} found no action; keeping the offline reading")
        unsure = turn.confidence is not None and turn.confidence < EXECUTE_AT
        if turn.decide_mode() == "propose" or (unsure and any(a.type not in READ_ONLY for a in turn.actions)):
            turn = turn.model_copy(update={"mode": "propose"})
        evidence = [f"planned by {self.llm.name} ({why})", *turn.evidence][:40]
        return turn.model_copy(update={"planner": self.llm.name, "evidence": evidence})

    async def _llm_turn(self, sentence: str, context: dict[str, Any]) -> Turn | None:
        assert self.llm is not None
        candidate = await self.llm.aplan(sentence, context)
        for attempt in range(MAX_REPAIRS + 1):
            try:
                return Turn.model_validate(candidate)
            except ValidationError as exc:
                if attempt == MAX_REPAIRS:
                    return None
                candidate = await self.llm.aplan(sentence, context, feedback=_errors(exc), previous=candidate)
        return None

    def _fallback(self, offline: Turn, reason: str) -> Turn:
        evidence = [f"{reason}: the offline planner answered", *offline.evidence][:40]
        return offline.model_copy(update={"planner": "offline", "evidence": evidence})


def build_planner(
    mode: str, google_api_key: str | None, *, timeout_s: float = 20.0, model: str | None = None
) -> Any:
    """The planner for a mode: ``offline``; ``gemini`` (needs a key and the gemini extra); ``auto``
    (Gemini when both are there, else offline only)."""
    llm = None
    if mode != "offline" and google_api_key:
        from agent.planner.gemini import GeminiUnavailable, gemini_planner

        try:
            llm = gemini_planner(google_api_key, model=model)
        except GeminiUnavailable as exc:
            if mode == "gemini":
                raise
            log.warning("GOOGLE_API_KEY is set but Gemini cannot be used (%s); planning offline", exc)
    elif mode == "gemini":
        from agent.planner.gemini import GeminiUnavailable

        raise GeminiUnavailable("the gemini planner needs GOOGLE_API_KEY")
    return HybridPlanner(llm, mode=mode if llm is not None else "offline", timeout_s=timeout_s)


def sync_plan_fn(mode: str) -> Callable[[str, dict[str, Any]], Turn]:
    """A blocking plan function for the CLI (eval, plan) using the configured key."""
    from agent.planner.gemini import GeminiUnavailable
    from infra.settings import get_settings

    settings = get_settings()
    try:
        planner = build_planner(mode, settings.google_api_key, timeout_s=settings.planner_timeout_s)
    except GeminiUnavailable as exc:
        raise ValueError(str(exc)) from exc

    def plan(sentence: str, context: dict[str, Any]) -> Turn:
        return asyncio.run(planner.plan_turn(sentence, context))

    return plan


__all__ = ["ASK_LLM_BELOW", "MAX_REPAIRS", "HybridPlanner", "build_planner", "sync_plan_fn"]
