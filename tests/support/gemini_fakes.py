"""Shared test helpers (moved out of test modules so tests never import each other)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from activities.providers.storyboard import OfflineStoryboarder


def fake(*replies: Any) -> FakeClient:
    return FakeClient(FakeModels(list(replies)))


def board_json(shots: int) -> str:
    """A schema-valid storyboard answer with `shots` shots (what a well-behaved model returns)."""
    return OfflineStoryboarder().generate(STORY, max(3, shots)).model_dump_json()


class FinishReason(enum.StrEnum):  # the SDK's FinishReason is a str Enum with these names
    STOP = "STOP"
    SAFETY = "SAFETY"
    MAX_TOKENS = "MAX_TOKENS"
    IMAGE_SAFETY = "IMAGE_SAFETY"


@dataclass
class Part:
    text: str | None = None
    inline_data: Any = None
    thought: bool | None = None


@dataclass
class Blob:
    mime_type: str
    data: bytes | str


@dataclass
class Content:
    parts: list[Part]
    role: str = "model"


@dataclass
class Candidate:
    content: Content | None
    finish_reason: FinishReason | None = FinishReason.STOP


@dataclass
class PromptFeedback:
    block_reason: str | None = None


@dataclass
class Usage:
    prompt_token_count: int = 0
    candidates_token_count: int = 0
    thoughts_token_count: int | None = None
    total_token_count: int = 0


@dataclass
class Response:
    candidates: list[Candidate] | None
    prompt_feedback: PromptFeedback | None = None
    usage_metadata: Usage | None = None


class FakeAPIError(Exception):
    """Shaped like google.genai.errors.APIError: code, status, message."""

    def __init__(self, code: int, status: str, message: str) -> None:
        super().__init__(f"{code} {status}. {message}")
        self.code, self.status, self.message = code, status, message


@dataclass
class FakeModels:
    replies: list[Any]
    calls: list[dict[str, Any]] = field(default_factory=list)

    def generate_content(self, *, model: str, contents: Any, config: Any = None) -> Any:
        self.calls.append({"model": model, "contents": contents, "config": config})
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if isinstance(reply, BaseException):
            raise reply
        return reply(self.calls[-1]) if callable(reply) else reply


@dataclass
class FakeClient:
    models: FakeModels


STORY = "A fox steals the moon and gives it back at dawn."


def text_response(text: str, reason: FinishReason = FinishReason.STOP) -> Response:
    return Response(
        candidates=[Candidate(Content([Part(text="thinking…", thought=True), Part(text=text)]), reason)],
        usage_metadata=Usage(
            prompt_token_count=120,
            candidates_token_count=900,
            thoughts_token_count=80,
            total_token_count=1100,
        ),
    )
