"""What generation costs, from an optional price table (`DIRECTORDECK_PRICE_TABLE`, a JSON file).

Rule: a cost is recorded only where a price is configured — never guessed. Token-priced models
(storyboards) are priced per million input/output tokens, image models per image, and work on our
own GPUs per measured device second; a task's cost is the sum of what its provider calls used.

    {
      "tokens": {"gemini-3-flash-preview": {"input": 0.30, "output": 2.50}},
      "images": {"gemini-2.5-flash-image": 0.039},
      "gpu_second": 0.0011
    }
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from schema.errors import BadInputError

__all__ = ["PriceTable", "TokenPrice", "load_price_table"]


class TokenPrice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: float = Field(ge=0, description="USD per million input tokens")
    output: float = Field(ge=0, description="USD per million output (and thinking) tokens")


class PriceTable(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tokens: dict[str, TokenPrice] = Field(default_factory=dict)
    images: dict[str, float] = Field(default_factory=dict, description="USD per generated image, by model id")
    gpu_second: float | None = Field(default=None, ge=0, description="USD per measured GPU second")

    def token_prices(self) -> dict[str, dict[str, float]] | None:
        """The shape the Gemini storyboarder takes (None: no token prices)."""
        return {m: p.model_dump() for m, p in self.tokens.items()} or None

    def image_prices(self) -> dict[str, float] | None:
        return dict(self.images) or None

    def gpu_cost(self, gpu_seconds: float | None) -> float | None:
        if gpu_seconds is None or self.gpu_second is None:
            return None
        return gpu_seconds * self.gpu_second

    def task_cost(
        self, gpu_seconds: float | None, usages: Iterable[Mapping[str, Any] | None] = ()
    ) -> float | None:
        """A task's cost: its provider calls' priced usage plus its priced GPU time; None when
        nothing it used has a price."""
        parts = [float(u["cost_usd"]) for u in usages if u and u.get("cost_usd") is not None]
        gpu = self.gpu_cost(gpu_seconds)
        if gpu is not None:
            parts.append(gpu)
        return round(sum(parts), 6) if parts else None


def load_price_table(path: Path | str | None) -> PriceTable:
    """The configured table, or an empty one (no prices) when none is configured."""
    if path is None:
        return PriceTable()
    source = Path(path).expanduser()
    try:
        return PriceTable.model_validate(json.loads(source.read_text(encoding="utf-8")))
    except OSError as exc:
        raise BadInputError(
            f"DIRECTORDECK_PRICE_TABLE {source} cannot be read: {exc}", code="price_table_invalid"
        ) from exc
    except (ValueError, ValidationError) as exc:
        raise BadInputError(
            f"DIRECTORDECK_PRICE_TABLE {source} is not a valid price table: {exc}", code="price_table_invalid"
        ) from exc
