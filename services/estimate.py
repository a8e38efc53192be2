"""What a turn will cost before it runs, in the units the ledger measures after: GPU seconds and USD.

Rules: each generating verb has a GPU-seconds figure per unit of work — a grid cell, a shot's
clip, a shot's narration, a music track, a cut — from ``DEFAULT_GPU_SECONDS`` merged with
``DIRECTORDECK_ESTIMATE_GPU_SECONDS`` (JSON); GPU time is priced at the price table's
``gpu_second`` when one is configured (the price the task rows are charged), else at
``DIRECTORDECK_GPU_SECOND_USD``; a storyboard is one LLM call, priced at
``DIRECTORDECK_LLM_CALL_USD`` when an LLM writes storyboards (Gemini), free when the offline
storyboarder does. The usage report prices measured GPU seconds and storyboard calls with these
same rates (:func:`usage_cost`), so a proposal's figure and the history's are comparable.
``cost_units`` stay the relative units of docs/actions.md (the cost limit is in them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from activities.pricing import load_price_table
from infra.settings import Settings
from schema.actions import AnyAction, Turn, cost_units, shot_count

# GPU seconds per unit of work on one mid-range data-centre GPU (SDXL-Turbo-class grids, an
# image-to-video model for clips, a neural voice, a music model); FFmpeg composing is CPU work
DEFAULT_GPU_SECONDS: dict[str, float] = {
    "gen.grid": 2.0,  # per cell
    "gen.video": 30.0,  # per shot
    "gen.voice": 1.0,  # per shot
    "gen.music": 8.0,  # per track
    "gen.compose": 0.0,  # per cut
    "gen.storyboard": 0.0,  # an LLM call, priced per call
}


@dataclass(frozen=True)
class Rates:
    """The figures an estimate multiplies (see the module rules)."""

    gpu_second_usd: float
    llm_call_usd: float
    llm_storyboards: bool  # an LLM writes storyboards (its calls are priced)
    gpu_seconds: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_GPU_SECONDS))

    @classmethod
    def from_settings(cls, settings: Settings) -> Rates:
        table = load_price_table(settings.price_table)
        wanted = settings.storyboard_provider
        return cls(
            gpu_second_usd=table.gpu_second if table.gpu_second is not None else settings.gpu_second_usd,
            llm_call_usd=settings.llm_call_usd,
            llm_storyboards=wanted == "gemini" or (wanted == "auto" and bool(settings.google_api_key)),
            gpu_seconds={**DEFAULT_GPU_SECONDS, **settings.estimate_gpu_seconds},
        )

    def as_dict(self) -> dict[str, Any]:
        return {"gpu_second_usd": self.gpu_second_usd, "llm_call_usd": self.llm_call_usd}


def work_units(action: AnyAction, total_shots: int | None) -> int:
    """How many units of work a generating action asks for (0 for every other verb)."""
    args: Any = action.args
    n = shot_count(getattr(args, "shots", None) or [], total_shots)
    if action.type == "gen.grid":
        return int(args.size) * n
    if action.type in ("gen.video", "gen.voice"):
        return n
    if action.type in ("gen.music", "gen.compose", "gen.storyboard"):
        return 1
    return 0


def _storyboards(turn: Turn) -> int:
    """Storyboards the turn starts: gen.storyboard, or project.create with a story and no
    gen.storyboard after it."""
    n = 0
    for i, action in enumerate(turn.actions):
        if action.type == "gen.storyboard":
            n += 1
        elif action.type == "project.create" and getattr(action.args, "story", ""):
            n += not any(a.type == "gen.storyboard" for a in turn.actions[i + 1 :])
    return n


def estimate(turn: Turn, total_shots: int, rates: Rates) -> dict[str, Any]:
    """The turn's estimate: relative units, GPU seconds, LLM calls and USD (with the rates used)."""
    total = total_shots or None
    gpu = sum(rates.gpu_seconds.get(a.type, 0.0) * work_units(a, total) for a in turn.actions)
    calls = _storyboards(turn) if rates.llm_storyboards else 0
    return {
        "cost_units": sum(cost_units(a, total) for a in turn.actions),
        "gpu_seconds": round(gpu, 1),
        "llm_calls": calls,
        "cost_usd": round(gpu * rates.gpu_second_usd + calls * rates.llm_call_usd, 4),
        **rates.as_dict(),
    }


def usage_cost(gpu_seconds: float, storyboard_tasks: int, rates: Rates) -> float:
    """What measured usage costs at the estimate's rates (the same unit as :func:`estimate`)."""
    calls = storyboard_tasks if rates.llm_storyboards else 0
    return round(gpu_seconds * rates.gpu_second_usd + calls * rates.llm_call_usd, 4)


__all__ = ["DEFAULT_GPU_SECONDS", "Rates", "estimate", "usage_cost", "work_units"]
