"""The planner feedback loop against a contract fake of the Langfuse client (no network): a turn
becomes a trace whose id is derived from the turn id, and confirm / decline / undo become scores
on that same trace, upserted by a derived score id."""

from __future__ import annotations

import hashlib
from contextlib import contextmanager
from typing import Any

from agent.feedback import TurnFeedback, langfuse_feedback
from infra.settings import Settings


class FakeSpan:
    def __init__(self, log: list[tuple[str, dict[str, Any]]]) -> None:
        self.log = log

    def update(self, **kw: Any) -> None:
        self.log.append(("span.update", kw))

    def update_trace(self, **kw: Any) -> None:
        self.log.append(("span.update_trace", kw))


class FakeLangfuse:
    """The Langfuse v3 client methods the recorder uses, with their keyword contracts."""

    def __init__(self) -> None:
        self.log: list[tuple[str, dict[str, Any]]] = []

    def create_trace_id(self, *, seed: str | None = None) -> str:
        return hashlib.sha256((seed or "").encode()).hexdigest()[:32]  # 32 lowercase hex chars

    @contextmanager
    def start_as_current_span(
        self, *, name: str, trace_context: dict[str, str] | None = None, input: Any = None
    ):
        self.log.append(("start_span", {"name": name, "trace_context": trace_context, "input": input}))
        yield FakeSpan(self.log)

    def create_score(
        self,
        *,
        name: str,
        value: float,
        trace_id: str,
        score_id: str | None = None,
        data_type: str | None = None,
        comment: str | None = None,
    ) -> None:
        self.log.append(("score", {"name": name, "value": value, "trace_id": trace_id, "score_id": score_id}))


REPLY = {
    "status": "awaiting_confirmation",
    "intent": "shot.update",
    "actions": [{"type": "shot.update", "args": {"shots": "all", "patch": {"weather": "rain"}}}],
    "message": "Updating all shots: rain.",
    "planner": "offline",
    "confidence": 1.0,
    "evidence": ["shots ← your answer to my question"],
}


def test_a_turn_is_a_trace_and_its_confirmation_a_score_on_the_same_trace() -> None:
    fake = FakeLangfuse()
    feedback = TurnFeedback(fake)
    feedback.on_reply("conv/1/3", "turn", "all of them", REPLY)
    feedback.on_reply("conv/1/3", "confirm", "confirm", {"status": "done", "results": []})
    feedback.on_reply("conv/1/3", "confirm", "confirm", {"status": "done", "results": []})  # a retry
    trace_id = fake.create_trace_id(seed="conv/1/3")
    kinds = [k for k, _ in fake.log]
    assert kinds == ["start_span", "span.update", "span.update_trace", "score", "score"]
    assert fake.log[0][1]["trace_context"] == {"trace_id": trace_id}
    assert fake.log[2][1]["metadata"]["planner"] == "offline"
    scores = [kw for k, kw in fake.log if k == "score"]
    assert {s["trace_id"] for s in scores} == {trace_id}
    assert {s["score_id"] for s in scores} == {f"{trace_id}-confirmed"}  # upserted, not added twice
    assert scores[0]["value"] == 1.0


def test_decline_and_undo_are_scores() -> None:
    fake = FakeLangfuse()
    feedback = TurnFeedback(fake)
    feedback.on_reply("conv/1/4", "confirm", "cancel", {"status": "declined"})
    undo = {"type": "version.rollback", "status": "done", "data": {"summary": "rolled back …"}}
    feedback.on_reply("conv/1/5", "turn", "undo", {"status": "done", "results": [undo]})
    names = [(kw["name"], kw["value"]) for k, kw in fake.log if k == "score"]
    assert names == [("declined", 0.0), ("undo", 0.0)]


def test_a_broken_client_never_breaks_the_turn() -> None:
    class Broken(FakeLangfuse):
        def create_trace_id(self, *, seed: str | None = None) -> str:
            raise ConnectionError("langfuse is down")

    TurnFeedback(Broken()).on_reply("conv/1/6", "turn", "hi", REPLY)  # logs, does not raise


def test_without_keys_there_is_no_recorder() -> None:
    assert langfuse_feedback(Settings()) is None
