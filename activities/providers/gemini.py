"""Gemini providers: storyboard (structured output) and grid images, via the Google GenAI SDK.

Rules:
- The SDK (`google-genai`, the `gemini` extra) is imported lazily, only when no client is
  injected; missing → `ProviderUnavailableError` telling to `pip install '.[gemini]'`.
- Client-side retries are OFF (`http_options.retry_options.attempts = 1`): Temporal's
  RetryPolicy owns retries. Errors are classified once, here:
  429 / RESOURCE_EXHAUSTED → retryable `TransientProviderError(code="gemini_quota")`;
  5xx, timeouts, connection errors → retryable `gemini_unavailable`;
  a safety block (prompt feedback or a SAFETY-class finish reason) → non-retryable
  `BadInputError(code="safety_blocked")`; 401/403 → `gemini_auth`; other 4xx → `gemini_bad_request`.
- The storyboard is requested as JSON against the `Storyboard` schema and validated with the same
  pydantic model as every other provider; invalid output is retryable (`llm_output_invalid`).
- The client is injectable (`client=`): anything with `.models.generate_content(model=...,
  contents=..., config=...)` returning the GenAI response shape (candidates → content → parts,
  finish_reason, prompt_feedback, usage_metadata). Configs are passed as plain dicts, which the
  SDK accepts, so fakes need no SDK types.
"""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from activities.providers.cards import GRID_SIZES, GridRequest, RenderedImage, cell_cameras
from schema.errors import (
    BadInputError,
    CancelledByUser,
    DirectorDeckError,
    ProviderUnavailableError,
    TransientProviderError,
)
from schema.storyboard import (
    CAMERA_ANGLES,
    CAMERA_MOVEMENTS,
    MAX_SHOT_SECONDS,
    MIN_SHOT_SECONDS,
    SHOT_SIZES,
    Storyboard,
    validate_story_request,
)

__all__ = [
    "DEFAULT_IMAGE_MODEL",
    "DEFAULT_STORYBOARD_MODEL",
    "GeminiGridProvider",
    "GeminiStoryboarder",
    "classify_error",
    "make_client",
    "storyboard_json_schema",
]

log = logging.getLogger(__name__)

DEFAULT_STORYBOARD_MODEL = "gemini-3-flash-preview"
DEFAULT_IMAGE_MODEL = "gemini-2.5-flash-image"
GEMINI_EXTRA_HINT = "pip install '.[gemini]'"
SAFETY_FINISH_REASONS = frozenset(
    {
        "SAFETY",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "MODEL_ARMOR",
    }
)
_RETRYABLE_STATUS = frozenset({"UNAVAILABLE", "DEADLINE_EXCEEDED", "INTERNAL", "ABORTED"})
_ASPECTS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")


# ------------------------------------------------------------------------------------------------
# client and errors
# ------------------------------------------------------------------------------------------------


def make_client(api_key: str | None, *, timeout_s: float = 120.0) -> Any:
    """A `google.genai.Client` with client-side retries off (Temporal retries the activity)."""
    if not api_key:
        raise ProviderUnavailableError(
            "Gemini needs GOOGLE_API_KEY; it is not set. Use the offline providers meanwhile.",
            code="gemini_key_missing",
        )
    try:
        from google import genai
    except ImportError as exc:
        raise ProviderUnavailableError(
            f"The Google GenAI SDK is not installed; {GEMINI_EXTRA_HINT} to use Gemini.",
            code="gemini_extra_missing",
        ) from exc
    return genai.Client(
        api_key=api_key,
        http_options={"retry_options": {"attempts": 1}, "timeout": int(timeout_s * 1000)},
    )


def _enum_name(value: Any) -> str:
    """'SAFETY' from FinishReason.SAFETY, 'SAFETY', or None → ''."""
    if value is None:
        return ""
    name = getattr(value, "name", None) or getattr(value, "value", None) or str(value)
    return str(name).rsplit(".", 1)[-1].upper()


def classify_error(exc: BaseException, *, what: str) -> DirectorDeckError | None:
    """Map an SDK/HTTP exception to a coded DirectorDeck error (None: leave it as it is)."""
    if isinstance(exc, DirectorDeckError):
        return exc
    code = getattr(exc, "code", None)
    status = str(getattr(exc, "status", "") or "").upper()
    message = str(getattr(exc, "message", None) or exc)[:500]
    if code == 429 or status == "RESOURCE_EXHAUSTED":
        return TransientProviderError(f"Gemini quota exhausted during {what}: {message}", code="gemini_quota")
    if code in (401, 403) or status in ("UNAUTHENTICATED", "PERMISSION_DENIED"):
        return ProviderUnavailableError(
            f"Gemini refused the API key during {what} ({code} {status}): {message}", code="gemini_auth"
        )
    if code == 404 or status == "NOT_FOUND":
        return ProviderUnavailableError(f"Gemini model not found for {what}: {message}", code="gemini_model")
    if (isinstance(code, int) and (code >= 500 or code == 408)) or status in _RETRYABLE_STATUS:
        return TransientProviderError(
            f"Gemini unavailable during {what} ({code} {status}): {message}", code="gemini_unavailable"
        )
    if isinstance(code, int) and 400 <= code < 500:
        return BadInputError(
            f"Gemini rejected the {what} request ({code} {status}): {message}", code="gemini_bad_request"
        )
    module = type(exc).__module__ or ""
    if module.startswith(("httpx", "httpcore", "aiohttp", "requests")) or isinstance(
        exc, TimeoutError | ConnectionError
    ):
        return TransientProviderError(
            f"Network error talking to Gemini during {what}: {type(exc).__name__}: {message}",
            code="gemini_unavailable",
        )
    return None


def _call(client: Any, *, what: str, **kwargs: Any) -> Any:
    try:
        return client.models.generate_content(**kwargs)
    except Exception as exc:
        mapped = classify_error(exc, what=what)
        if mapped is None or mapped is exc:
            raise
        raise mapped from exc


def _get(obj: Any, name: str, default: Any = None) -> Any:
    """Attribute or key access: SDK objects and plain dict responses both work."""
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def _check_blocked(response: Any, *, what: str) -> Any:
    """The first candidate, or a coded error for prompt blocks / safety stops / empty answers."""
    feedback = _get(response, "prompt_feedback")
    block = _enum_name(_get(feedback, "block_reason")) if feedback is not None else ""
    if block and block != "BLOCKED_REASON_UNSPECIFIED":
        raise BadInputError(
            f"Gemini blocked the {what} prompt for safety ({block}); rephrase the request.",
            code="safety_blocked",
        )
    candidates = _get(response, "candidates") or []
    if not candidates:
        raise TransientProviderError(f"Gemini returned no candidate for the {what}.", code="gemini_empty")
    cand = candidates[0]
    reason = _enum_name(_get(cand, "finish_reason"))
    if reason in SAFETY_FINISH_REASONS:
        raise BadInputError(
            f"Gemini stopped the {what} for safety ({reason}); rephrase the request.", code="safety_blocked"
        )
    if reason == "MAX_TOKENS":
        raise TransientProviderError(
            f"Gemini's {what} was cut off (MAX_TOKENS).", code="llm_output_truncated"
        )
    if reason == "RECITATION":
        raise TransientProviderError(f"Gemini stopped the {what} for recitation.", code="gemini_recitation")
    return cand


def _parts(cand: Any) -> list[Any]:
    content = _get(cand, "content")
    return list(_get(content, "parts") or []) if content is not None else []


def _usage(response: Any, model: str, prices: Mapping[str, Mapping[str, float]] | None) -> dict[str, Any]:
    meta = _get(response, "usage_metadata")
    usage: dict[str, Any] = {
        "model": model,
        "prompt_tokens": int(_get(meta, "prompt_token_count", 0) or 0) if meta is not None else 0,
        "output_tokens": int(_get(meta, "candidates_token_count", 0) or 0) if meta is not None else 0,
        "thinking_tokens": int(_get(meta, "thoughts_token_count", 0) or 0) if meta is not None else 0,
        "total_tokens": int(_get(meta, "total_token_count", 0) or 0) if meta is not None else 0,
    }
    price = (prices or {}).get(model)
    if price:  # USD per million tokens; thinking tokens are billed as output
        usage["cost_usd"] = round(
            usage["prompt_tokens"] * float(price.get("input", 0.0)) / 1e6
            + (usage["output_tokens"] + usage["thinking_tokens"]) * float(price.get("output", 0.0)) / 1e6,
            6,
        )
    return usage


# ------------------------------------------------------------------------------------------------
# storyboard
# ------------------------------------------------------------------------------------------------


def _inline_refs(schema: Any, defs: Mapping[str, Any]) -> Any:
    if isinstance(schema, dict):
        if "$ref" in schema:
            return _inline_refs(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
        return {
            k: _inline_refs(v, defs)
            for k, v in schema.items()
            if k != "$defs" and not (k == "title" and isinstance(v, str))  # keep a `title` property
        }
    if isinstance(schema, list):
        return [_inline_refs(v, defs) for v in schema]
    return schema


def storyboard_json_schema() -> dict[str, Any]:
    """`Storyboard`'s JSON Schema with $refs inlined (what `response_json_schema` is given)."""
    raw = Storyboard.model_json_schema()
    return _inline_refs(raw, raw.get("$defs", {}))


_STORYBOARD_INSTRUCTIONS = f"""You are a film storyboard artist. Turn the user's story into a storyboard.
Rules:
- Exactly {{shot_count}} shots in total, grouped into 1-5 scenes in story order.
- Every shot: a concrete `visual` description (what the camera sees, for an image model), a
  `camera` with size in {list(SHOT_SIZES)}, angle in {list(CAMERA_ANGLES)}, movement in
  {list(CAMERA_MOVEMENTS)}; `duration_s` between {MIN_SHOT_SECONDS} and {MAX_SHOT_SECONDS};
  `narration` is one short spoken line for the voice-over.
- Write in the story's language (`language`: "zh" for Chinese, else "en").
- Vary framing between consecutive shots. {{style_rule}}
Answer with the JSON object only."""


class GeminiStoryboarder:
    """Storyboard via Gemini structured output, validated against `schema.storyboard.Storyboard`."""

    name = "gemini"

    def __init__(
        self,
        api_key: str | None = None,
        *,
        model: str = DEFAULT_STORYBOARD_MODEL,
        client: Any = None,
        temperature: float = 0.7,
        max_output_tokens: int = 16384,
        timeout_s: float = 120.0,
        prices: Mapping[str, Mapping[str, float]] | None = None,
    ) -> None:
        self.model = model
        self.temperature = temperature
        self.max_output_tokens = max_output_tokens
        self.prices = prices
        self.client = client if client is not None else make_client(api_key, timeout_s=timeout_s)
        self.last_usage: dict[str, Any] | None = None

    def generate(self, story: str, shot_count: int, style: str | None = None) -> Storyboard:
        board, _usage_info = self.generate_with_usage(story, shot_count, style)
        return board

    def generate_with_usage(
        self, story: str, shot_count: int, style: str | None = None
    ) -> tuple[Storyboard, dict[str, Any]]:
        """The validated storyboard plus token usage (and cost when a price table is set)."""
        text = validate_story_request(story, shot_count)
        style_rule = f'Visual style for every shot: "{style}"; set `style` to it.' if style else ""
        config = {
            "system_instruction": _STORYBOARD_INSTRUCTIONS.format(
                shot_count=shot_count, style_rule=style_rule
            ),
            "response_mime_type": "application/json",
            "response_json_schema": storyboard_json_schema(),
            "temperature": self.temperature,
            "max_output_tokens": self.max_output_tokens,
            "candidate_count": 1,
        }
        response = _call(self.client, what="storyboard", model=self.model, contents=text, config=config)
        cand = _check_blocked(response, what="storyboard")
        raw = "".join(
            str(_get(p, "text") or "") for p in _parts(cand) if _get(p, "text") and not _get(p, "thought")
        )
        usage = _usage(response, self.model, self.prices)
        self.last_usage = usage
        board = self._validate(raw, shot_count, style)
        return board, usage

    @staticmethod
    def _validate(raw: str, shot_count: int, style: str | None) -> Storyboard:
        raw = raw.strip()
        if raw.startswith("```"):  # tolerate a fenced answer
            raw = raw.strip("`")
            raw = raw[raw.find("{") :] if "{" in raw else raw
        try:
            data = json.loads(raw)
            if style and not data.get("style"):
                data["style"] = style
            board = Storyboard.model_validate(data)
        except (ValueError, ValidationError, AttributeError) as exc:
            raise TransientProviderError(
                f"Gemini's storyboard did not match the schema: {str(exc)[:400]}", code="llm_output_invalid"
            ) from exc
        total = len(board.shots)
        if total > shot_count:  # trim surplus shots from the end, dropping emptied scenes
            surplus = total - shot_count
            scenes = [s.model_copy(deep=True) for s in board.scenes]
            while surplus and scenes:
                last = scenes[-1]
                cut = min(surplus, len(last.shots))
                last.shots = last.shots[: len(last.shots) - cut]
                surplus -= cut
                if not last.shots:
                    scenes.pop()
            board = Storyboard.model_validate(
                {**board.model_dump(), "scenes": [s.model_dump() for s in scenes]}
            )
        elif total < shot_count:
            raise TransientProviderError(
                f"Gemini returned {total} shots, {shot_count} were asked for.", code="llm_output_invalid"
            )
        return board


# ------------------------------------------------------------------------------------------------
# grid images
# ------------------------------------------------------------------------------------------------


def _closest_aspect(width: int, height: int) -> str:
    target = width / height

    def ratio(a: str) -> float:
        w, h = a.split(":")
        return int(w) / int(h)

    return min(_ASPECTS, key=lambda a: abs(ratio(a) - target))


class GeminiGridProvider:
    """Grid images with a Gemini image model: one request per cell, same contract as the cards."""

    name = "gemini"

    def __init__(
        self,
        api_key: str | None = None,
        *,
        model: str = DEFAULT_IMAGE_MODEL,
        client: Any = None,
        timeout_s: float = 120.0,
        prices_per_image: Mapping[str, float] | None = None,
    ) -> None:
        self.model = model
        self.prices_per_image = prices_per_image
        self.client = client if client is not None else make_client(api_key, timeout_s=timeout_s)

    def cache_identity(self) -> dict[str, Any]:
        # a hosted model has no local weights; its id names the version (seeds are best effort)
        return {"provider": self.name, "model_id": self.model, "weights_hash": "hosted", "params": {}}

    def render_grid(
        self,
        req: GridRequest,
        on_progress: Callable[[float], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> list[RenderedImage]:
        from activities.providers.cards import decode_image
        from activities.providers.diffusers_grid import _cover, cell_prompt

        if req.size not in GRID_SIZES:
            raise BadInputError(f"Grid size must be 1, 4 or 9, got {req.size}.", code="grid_size_invalid")
        init: bytes | None = req.parent_png
        if init is None and req.reference_pngs:
            init = req.reference_pngs[0]
        if init is not None:
            decode_image(init, "parent" if req.parent_png is not None else "reference #1")  # fail fast
        aspect = _closest_aspect(req.width, req.height)
        out: list[RenderedImage] = []
        for i, cam in enumerate(cell_cameras(req.camera, req.size, req.seed), start=1):
            if cancelled is not None and cancelled():
                raise CancelledByUser(f"Grid for shot {req.shot_number} cancelled after {i - 1} cells.")
            seed = req.seed + i - 1
            prompt = cell_prompt(req, cam)
            parts: list[dict[str, Any]] = [{"text": prompt}]
            if init is not None:
                parts.insert(0, {"inline_data": {"mime_type": "image/png", "data": init}})
                parts[1]["text"] = f"Re-imagine this frame as: {prompt}"
            response = _call(
                self.client,
                what="grid image",
                model=self.model,
                contents=[{"role": "user", "parts": parts}],
                config={
                    "response_modalities": ["IMAGE"],
                    "image_config": {"aspect_ratio": aspect},
                    "seed": seed,
                    "candidate_count": 1,
                },
            )
            cand = _check_blocked(response, what="grid image")
            data = None
            for part in _parts(cand):
                inline = _get(part, "inline_data")
                mime = str(_get(inline, "mime_type", "") or "") if inline is not None else ""
                if inline is not None and mime.startswith("image/"):
                    data = _get(inline, "data")
                    break
            if data is None:
                reason = _enum_name(_get(cand, "finish_reason"))
                raise TransientProviderError(
                    f"Gemini returned no image for cell {i} (finish reason {reason or 'none'}).",
                    code="gemini_no_image",
                )
            if isinstance(data, str):  # JSON transport: base64 text
                data = base64.b64decode(data)
            img = _cover(decode_image(bytes(data), f"Gemini cell {i}"), req.width, req.height)
            buf = io.BytesIO()
            img.save(buf, format="PNG")
            usage = _usage(response, self.model, None)
            if self.prices_per_image and self.model in self.prices_per_image:
                usage["cost_usd"] = float(self.prices_per_image[self.model])
            params: dict[str, Any] = {
                "renderer": self.name,
                "kind": "generated_image",
                "model_id": self.model,
                "mode": "img2img" if init is not None else "txt2img",
                "prompt": prompt,
                "seed": seed,
                "seed_reproducible": False,  # hosted models treat seeds as best effort
                "aspect_ratio": aspect,
                "shot_number": req.shot_number,
                "grid_size": req.size,
                "cell": i,
                "camera": cam.model_dump(),
                "base_camera": req.camera.model_dump(),
                "style": req.style,
                "from_parent": req.parent_png is not None,
                "references": len(req.reference_pngs),
                "usage": usage,
            }
            out.append(RenderedImage(buf.getvalue(), req.width, req.height, seed, i, params))
            if on_progress is not None:
                on_progress(i / req.size)
        return out
