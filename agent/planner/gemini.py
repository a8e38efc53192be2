"""LLM planner: any LangChain chat model with tool calling, Gemini 3 Flash by default.

Rules: the model is bound to ONE tool, ``submit_turn`` (the Action DSL envelope), with
``tool_choice`` forcing it, and the turn is read from ``AIMessage.tool_calls[0]["args"]`` — the
Gemini function-calling contract; a reply without a tool call becomes a no-action turn carrying
the model's text. A repair round replays the rejected call and answers it with a ToolMessage that
quotes the validator's errors (function call → function response). ``langchain-google-genai`` is
the optional ``gemini`` extra: it is imported only inside :func:`gemini_planner`.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage

from agent.prompts import context_block, repair_message, system_prompt
from schema.actions import ACTION_TYPES

GEMINI_MODEL = "gemini-3-flash-preview"
TOOL_NAME = "submit_turn"

SUBMIT_TURN_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": TOOL_NAME,
        "description": "Submit the one turn (actions and reply) that answers the user's message.",
        "parameters": {
            "type": "object",
            "properties": {
                "mode": {"type": "string", "enum": ["execute", "propose"]},
                "intent": {"type": "string", "description": "A few words: what the user asked."},
                "actions": {
                    "type": "array",
                    "description": "Actions from the catalogue, in order; empty when nothing applies.",
                    "items": {
                        "type": "object",
                        "properties": {
                            "type": {"type": "string", "enum": list(ACTION_TYPES)},
                            "args": {
                                "type": "object",
                                "description": "Arguments exactly as the catalogue lists them.",
                                "additionalProperties": True,
                            },
                            "reason": {"type": "string"},
                        },
                        "required": ["type", "args"],
                    },
                },
                "message": {"type": "string", "description": "Short reply in the user's language."},
            },
            "required": ["mode", "intent", "actions", "message"],
        },
    },
}


class GeminiUnavailable(RuntimeError):
    """The gemini extra is not installed (or the model cannot be built)."""


def _normalise(args: dict[str, Any]) -> dict[str, Any]:
    """Accept ``args`` given as a JSON string (some providers stringify nested objects)."""
    turn = dict(args)
    actions = []
    for raw in turn.get("actions") or []:
        action = dict(raw) if isinstance(raw, dict) else {"type": str(raw), "args": {}}
        if isinstance(action.get("args"), str):
            with contextlib.suppress(json.JSONDecodeError):  # else the validator reports it
                action["args"] = json.loads(str(action["args"]))
        actions.append(action)
    turn["actions"] = actions
    return turn


class ChatModelPlanner:
    """Plans with a tool-calling chat model (Gemini in production, a fake model in tests)."""

    def __init__(self, model: BaseChatModel, *, name: str = "llm") -> None:
        self.name = name
        self._model = model.bind_tools([SUBMIT_TURN_TOOL], tool_choice=TOOL_NAME)

    def messages(
        self,
        sentence: str,
        context: dict[str, Any],
        feedback: list[str] | None = None,
        previous: dict[str, Any] | None = None,
    ) -> list[BaseMessage]:
        msgs: list[BaseMessage] = [
            SystemMessage(system_prompt() + "\n" + context_block(context)),
            HumanMessage(sentence),
        ]
        if feedback and previous is not None:
            call_id = "repair-" + str(len(feedback))
            msgs.append(AIMessage("", tool_calls=[{"name": TOOL_NAME, "args": previous, "id": call_id}]))
            msgs.append(ToolMessage(repair_message(feedback), tool_call_id=call_id, name=TOOL_NAME))
        return msgs

    async def aplan(
        self,
        sentence: str,
        context: dict[str, Any],
        *,
        feedback: list[str] | None = None,
        previous: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        from infra.settings import get_settings
        from infra.telemetry import langfuse_callbacks, provider_span

        with provider_span("llm.plan", kind="llm", model=self.name, repair=bool(feedback)):
            reply = await self._model.ainvoke(
                self.messages(sentence, context, feedback, previous),
                config={"callbacks": langfuse_callbacks(get_settings())},
            )
        calls = [c for c in getattr(reply, "tool_calls", None) or [] if c.get("name") == TOOL_NAME]
        invalid = [c for c in getattr(reply, "invalid_tool_calls", None) or [] if c.get("name") == TOOL_NAME]
        if not calls and invalid:
            # the function call's arguments were not valid JSON: hand the validator something it
            # rejects with a reason, so the repair round quotes it back to the model
            return {"malformed_arguments": str(invalid[0].get("args") or "")[:2000]}
        if not calls:
            text = reply.content if isinstance(reply.content, str) else json.dumps(reply.content)
            return {
                "mode": "execute",
                "intent": "unsupported",
                "actions": [],
                "message": (text or "I can't do that yet.")[:2000],
            }
        return _normalise(calls[0]["args"])


def gemini_planner(api_key: str, *, model: str | None = None, temperature: float = 0.0) -> ChatModelPlanner:
    """Gemini 3 Flash through langchain-google-genai (the optional ``gemini`` extra)."""
    try:
        from langchain_google_genai import ChatGoogleGenerativeAI
    except ImportError as exc:
        raise GeminiUnavailable("install the gemini extra: pip install 'directordeck[gemini]'") from exc
    chat = ChatGoogleGenerativeAI(
        model=model or GEMINI_MODEL, api_key=api_key, temperature=temperature, max_retries=2
    )
    return ChatModelPlanner(chat, name=f"gemini:{model or GEMINI_MODEL}")


__all__ = ["GEMINI_MODEL", "SUBMIT_TURN_TOOL", "ChatModelPlanner", "GeminiUnavailable", "gemini_planner"]
