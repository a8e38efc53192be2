"""Schemathesis against the app's own OpenAPI document: zero 5xx, responses match their schemas.

Bounded: 10 examples per operation, no shrinking phase. Path ids are swapped for ids of a real
seeded workspace most of the time (random UUIDs alone would only ever reach the 404 branch). The
app under test is a separate instance (schemathesis drives it from its own event loop) whose
workflows go to task queues no worker polls: the API's job ends when a workflow has started.
"""

from __future__ import annotations

import random
import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from api.main import create_app
from infra.queues import Queues
from tests.api.conftest import Stack, api_test_config

USER = "schemathesis-user"


@pytest.fixture(scope="session")
def fuzz_ids(stack: Stack) -> dict[str, list[str]]:
    pools: dict[str, list[str]] = {}
    for _ in range(3):
        s = stack.seed_workspace(USER, shots=4)
        for name, value in {
            "workspace_id": s.workspace,
            "character_id": s.character,
            "scene_id": s.scenes[0],
            "work_item_id": s.shots[1],
            "track_id": s.track_b,
            "node_id": s.cells[1],
            "asset_id": s.assets[0],
            "task_id": s.task,
            "favorite_id": s.favorite,
            "snapshot_id": s.snapshot,
        }.items():
            pools.setdefault(name, []).append(value)
    return pools


@pytest.fixture(scope="session")
def api_schema(stack: Stack, fuzz_ids: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    target = stack.temporal.service_client.config.target_host
    app = create_app(
        stack.settings,
        database_url=stack.db_url,
        temporal_address=target,
        queues=Queues.prefixed(f"fuzz-{uuid.uuid4().hex[:6]}-"),  # nobody polls these
        storage=stack.storage,
        config=api_test_config(),
        background=False,
    )
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    # the live event stream never ends by design; it has its own tests (test_sse.py)
    return schema.exclude(path="/workspaces/{workspace_id}/events", method="GET")


MODES = ((GenerationMode.POSITIVE, 10), (GenerationMode.NEGATIVE, 5))


def test_api_never_answers_5xx(api_schema, stack: Stack, fuzz_ids: dict[str, list[str]]) -> None:  # type: ignore[no-untyped-def]
    """Every operation, positive and negative data; failures are collected and reported together.

    (Driven by hand rather than with schemathesis' pytest plugin, whose lazy-fixture mode does not
    run on pytest 9.)"""
    headers = {"Authorization": f"Bearer {stack.token(USER)}"}
    checks = [not_a_server_error, response_schema_conformance, content_type_conformance]
    failures: list[str] = []
    operations = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode, examples in MODES:

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=examples,
                deadline=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
                derandomize=True,
                database=None,
            )
            def run(case) -> None:  # type: ignore[no-untyped-def]
                rng = random.Random(repr(case.path_parameters))
                for name in list(case.path_parameters or {}):
                    if name in fuzz_ids and rng.random() < 0.8:
                        case.path_parameters[name] = rng.choice(fuzz_ids[name])
                case.call_and_validate(headers=headers, checks=checks)

            try:
                run()
            except Unsatisfiable:
                continue  # nothing to make invalid (e.g. no parameters and no body)
            except Exception as exc:
                failures.append(f"{operation.label} [{mode.value}]: {str(exc)[:1500]}")
    assert operations > 50
    assert not failures, "\n\n".join(failures)
