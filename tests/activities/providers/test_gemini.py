"""Gemini providers against a fake client that follows the Google GenAI response contract.

The fake returns what `client.models.generate_content` returns: a response with `candidates`
(each with `content.parts`, `finish_reason`), `prompt_feedback.block_reason` and
`usage_metadata`; failures are raised like the SDK's `APIError` (`code`, `status`, `message`).
No network and no SDK are needed; where `google-genai` is installed, extra tests check the
configs and responses against its real types.
"""

from __future__ import annotations

import base64
import io
import json
import sys
from typing import Any

import pytest

from activities.providers.cards import GridRequest
from activities.providers.gemini import (
    GeminiGridProvider,
    GeminiStoryboarder,
    classify_error,
    make_client,
    storyboard_json_schema,
)
from schema.errors import BadInputError, CancelledByUser, ProviderUnavailableError, TransientProviderError
from schema.storyboard import Camera, Storyboard
from tests.support.gemini_fakes import (
    STORY,
    Blob,
    Candidate,
    Content,
    FakeAPIError,
    FinishReason,
    Part,
    PromptFeedback,
    Response,
    Usage,
    board_json,
    fake,
    text_response,
)

# ------------------------------------------------------------------------------------------------
# storyboard
# ------------------------------------------------------------------------------------------------


def test_gemini_storyboard_with_fake_following_genai_contract() -> None:
    client = fake(text_response(board_json(4)))
    prices = {"gemini-3-flash-preview": {"input": 0.5, "output": 3.0}}
    gemini = GeminiStoryboarder(client=client, prices=prices)
    board, usage = gemini.generate_with_usage(STORY, 4, "ink wash")

    assert isinstance(board, Storyboard) and len(board.shots) == 4 and board.style == "ink wash"
    call = client.models.calls[0]
    assert call["model"] == "gemini-3-flash-preview" and call["contents"] == STORY
    cfg = call["config"]
    assert cfg["response_mime_type"] == "application/json" and cfg["candidate_count"] == 1
    assert "$ref" not in json.dumps(cfg["response_json_schema"])
    assert "Exactly 4 shots" in cfg["system_instruction"] and "ink wash" in cfg["system_instruction"]
    assert usage == {
        "model": "gemini-3-flash-preview",
        "prompt_tokens": 120,
        "output_tokens": 900,
        "thinking_tokens": 80,
        "total_tokens": 1100,
        "cost_usd": pytest.approx(120 * 0.5 / 1e6 + 980 * 3.0 / 1e6),
    }
    assert gemini.generate(STORY, 4).title == board.title  # the Protocol method


def test_gemini_storyboard_safety_block_is_non_retryable_with_fake_following_genai_contract() -> None:
    stopped = fake(Response(candidates=[Candidate(Content([]), FinishReason.SAFETY)]))
    with pytest.raises(BadInputError) as err:
        GeminiStoryboarder(client=stopped).generate(STORY, 4)
    assert err.value.code == "safety_blocked" and err.value.retryable is False

    prompt_blocked = fake(Response(candidates=[], prompt_feedback=PromptFeedback(block_reason="SAFETY")))
    with pytest.raises(BadInputError) as err:
        GeminiStoryboarder(client=prompt_blocked).generate(STORY, 4)
    assert err.value.code == "safety_blocked"


@pytest.mark.parametrize(
    ("error", "code", "retryable"),
    [
        (FakeAPIError(429, "RESOURCE_EXHAUSTED", "Quota exceeded"), "gemini_quota", True),
        (FakeAPIError(503, "UNAVAILABLE", "overloaded"), "gemini_unavailable", True),
        (FakeAPIError(403, "PERMISSION_DENIED", "bad key"), "gemini_auth", False),
        (FakeAPIError(400, "INVALID_ARGUMENT", "bad schema"), "gemini_bad_request", False),
        (TimeoutError("read timed out"), "gemini_unavailable", True),
    ],
)
def test_gemini_errors_with_fake_following_genai_contract(
    error: Exception, code: str, retryable: bool
) -> None:
    client = fake(error)
    with pytest.raises((TransientProviderError, BadInputError, ProviderUnavailableError)) as err:
        GeminiStoryboarder(client=client).generate(STORY, 4)
    assert err.value.code == code and err.value.retryable is retryable  # type: ignore[union-attr]
    assert len(client.models.calls) == 1  # exactly one attempt: Temporal owns retries


def test_gemini_storyboard_output_checks_with_fake_following_genai_contract() -> None:
    with pytest.raises(TransientProviderError) as err:
        GeminiStoryboarder(client=fake(text_response('{"title": "x", "scenes": []}'))).generate(STORY, 4)
    assert err.value.code == "llm_output_invalid"
    with pytest.raises(TransientProviderError) as err:
        GeminiStoryboarder(client=fake(text_response(board_json(3)))).generate(STORY, 4)
    assert err.value.code == "llm_output_invalid"
    with pytest.raises(TransientProviderError) as err:
        GeminiStoryboarder(client=fake(text_response("{", FinishReason.MAX_TOKENS))).generate(STORY, 4)
    assert err.value.code == "llm_output_truncated"
    # surplus shots are trimmed from the end; a fenced answer is tolerated
    board = GeminiStoryboarder(client=fake(text_response("```json\n" + board_json(6) + "\n```"))).generate(
        STORY, 4
    )
    assert len(board.shots) == 4
    with pytest.raises(BadInputError) as bad:  # the request is checked before any call
        GeminiStoryboarder(client=fake(text_response("{}"))).generate("", 4)
    assert bad.value.code == "story_empty"


def test_make_client_needs_key_and_sdk(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ProviderUnavailableError) as err:
        make_client(None)
    assert err.value.code == "gemini_key_missing"
    monkeypatch.setitem(sys.modules, "google.genai", None)
    monkeypatch.setitem(sys.modules, "google", None)
    with pytest.raises(ProviderUnavailableError) as err:
        GeminiStoryboarder(api_key="k")
    assert err.value.code == "gemini_extra_missing" and "pip install '.[gemini]'" in err.value.message


# ------------------------------------------------------------------------------------------------
# grid images
# ------------------------------------------------------------------------------------------------


def _png(color: tuple[int, int, int], size: tuple[int, int] = (96, 54)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def image_response(call: dict[str, Any]) -> Response:
    seed = call["config"]["seed"]
    return Response(
        candidates=[
            Candidate(
                Content(
                    [
                        Part(text="Here you go"),
                        Part(inline_data=Blob("image/png", _png((seed % 255, 80, 40)))),
                    ]
                )
            )
        ],
        usage_metadata=Usage(prompt_token_count=30, candidates_token_count=1290, total_token_count=1320),
    )


def _grid(**kw: Any) -> GridRequest:
    fields: dict[str, Any] = {"shot_number": 2, "visual": "a fox on a roof", "size": 4, "width": 160,
                              "height": 90, "seed": 20}  # fmt: skip
    return GridRequest(camera=Camera(), **{**fields, **kw})


def test_gemini_grid_images_with_fake_following_genai_contract() -> None:
    client = fake(image_response)
    progress: list[float] = []
    images = GeminiGridProvider(
        client=client, prices_per_image={"gemini-2.5-flash-image": 0.039}
    ).render_grid(_grid(), progress.append)
    assert [i.seed for i in images] == [20, 21, 22, 23] and progress == [0.25, 0.5, 0.75, 1.0]
    assert all((i.width, i.height) == (160, 90) and i.png.startswith(b"\x89PNG") for i in images)
    cfg = client.models.calls[0]["config"]
    assert cfg["response_modalities"] == ["IMAGE"] and cfg["image_config"] == {"aspect_ratio": "16:9"}
    assert images[0].params["usage"]["cost_usd"] == 0.039 and images[0].params["mode"] == "txt2img"
    assert len({i.params["prompt"] for i in images}) == 4


def test_gemini_grid_img2img_safety_and_cancel_with_fake_following_genai_contract() -> None:
    parent = _png((10, 200, 10))
    client = fake(image_response)
    images = GeminiGridProvider(client=client).render_grid(_grid(parent_png=parent))
    parts = client.models.calls[0]["contents"][0]["parts"]
    assert parts[0]["inline_data"]["data"] == parent and parts[1]["text"].startswith("Re-imagine")
    assert images[0].params["mode"] == "img2img"

    as_text = base64.b64encode(_png((1, 2, 3))).decode()
    b64 = fake(Response(candidates=[Candidate(Content([Part(inline_data=Blob("image/png", as_text))]))]))
    assert len(GeminiGridProvider(client=b64).render_grid(_grid(size=1))) == 1  # JSON transport: base64

    blocked = fake(Response(candidates=[Candidate(Content([]), FinishReason.IMAGE_SAFETY)]))
    with pytest.raises(BadInputError) as err:
        GeminiGridProvider(client=blocked).render_grid(_grid())
    assert err.value.code == "safety_blocked"

    text_only = fake(Response(candidates=[Candidate(Content([Part(text="I can't draw that")]))]))
    with pytest.raises(TransientProviderError) as terr:
        GeminiGridProvider(client=text_only).render_grid(_grid())
    assert terr.value.code == "gemini_no_image"

    counting = fake(image_response)
    with pytest.raises(CancelledByUser):
        GeminiGridProvider(client=counting).render_grid(
            _grid(), cancelled=lambda: len(counting.models.calls) >= 2
        )
    assert len(counting.models.calls) == 2


# ------------------------------------------------------------------------------------------------
# against the real SDK types, where google-genai is installed
# ------------------------------------------------------------------------------------------------


def test_configs_and_responses_match_the_real_genai_types() -> None:
    types = pytest.importorskip("google.genai.types")
    errors = pytest.importorskip("google.genai.errors")

    answer = {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": board_json(4)}]}, "finish_reason": "STOP"}
        ],
        "usage_metadata": {"prompt_token_count": 5, "candidates_token_count": 7, "total_token_count": 12},
    }
    client = fake(lambda call: types.GenerateContentResponse.model_validate(answer))
    GeminiStoryboarder(client=client).generate(STORY, 4)
    types.GenerateContentConfig.model_validate(client.models.calls[0]["config"])

    safety = types.GenerateContentResponse.model_validate(
        {"candidates": [{"content": {"parts": []}, "finish_reason": "SAFETY"}]}
    )
    with pytest.raises(BadInputError):
        GeminiStoryboarder(client=fake(safety)).generate(STORY, 4)

    quota = errors.ClientError(
        429, {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "quota"}}
    )
    mapped = classify_error(quota, what="storyboard")
    assert isinstance(mapped, TransientProviderError) and mapped.code == "gemini_quota"

    images = fake(image_response)
    GeminiGridProvider(client=images).render_grid(_grid(size=1, parent_png=_png((5, 5, 5))))
    types.GenerateContentConfig.model_validate(images.models.calls[0]["config"])
    types.Content.model_validate(images.models.calls[0]["contents"][0])

    real = make_client("test-key")  # constructing a client makes no request
    assert real._api_client._http_options.retry_options.attempts == 1


def test_storyboard_schema_is_self_contained() -> None:
    schema = storyboard_json_schema()
    assert set(schema["properties"]) >= {"title", "scenes", "language"}
    shot = schema["properties"]["scenes"]["items"]["properties"]["shots"]["items"]
    assert shot["properties"]["camera"]["properties"]["size"]["enum"][0] == "extreme_wide"
