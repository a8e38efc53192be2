"""Run Action DSL actions through the agent's ActionRouter — the only way the API starts work.

Rule: a REST button builds the same ``schema.actions`` objects the agent emits and hands them to
the same router, so a button and a sentence do exactly the same thing (validation, permissions,
snapshots before batch changes, workflow ids). A REST call is an explicit user action, so it runs
confirmed unless the caller asks for a proposal (``confirmed=False``).
"""

from __future__ import annotations

import uuid

from starlette.concurrency import run_in_threadpool

from api import webhooks
from api.auth import Principal
from api.errors import ApiError
from api.presenters import turn_out
from api.schemas import TurnOut
from api.services import Services
from infra import diskguard
from schema.actions import AnyAction, Turn
from schema.db import unit_of_work

_FAILURE_STATUS = {
    "not_found": 404,
    "target_unresolved": 422,
    "validation_error": 422,
    "invalid_input": 422,
    "forbidden": 404,
    "permission_denied": 404,
}


def _status_for(code: str) -> int:
    if code in _FAILURE_STATUS:
        return _FAILURE_STATUS[code]
    if code.endswith("_not_found"):
        return 404
    if code.endswith(("_invalid", "_out_of_range", "_required")) or code.startswith("invalid"):
        return 422
    return 409


def require_disk_space(services: Services) -> None:
    """507 `disk_full` below the disk guard's threshold: no new generation starts."""
    settings = services.settings
    try:
        diskguard.require(settings.data_path, settings.min_free_disk_mb)
    except diskguard.LowDiskSpace as exc:
        raise ApiError(507, exc.code, str(exc)) from exc


async def run_actions(
    services: Services,
    caller: Principal,
    workspace_id: uuid.UUID,
    actions: list[AnyAction],
    *,
    intent: str,
    confirmed: bool = True,
    work_item_id: uuid.UUID | None = None,
    track: str | None = None,
    webhook_url: str | None = None,
    idempotency_key: str | None = None,
    versions: dict[str, str] | None = None,
) -> TurnOut:
    """Run `actions` in the workspace; raises ApiError when every action failed (and 412
    `version_mismatch` when a work item of `versions` changed since that version)."""
    if webhook_url and not services.config.webhook_secret:
        raise ApiError(
            422, "webhooks_not_configured", "webhook callbacks need DIRECTORDECK_WEBHOOK_SECRET on the server"
        )
    if webhook_url:
        await webhooks.check_webhook_target(services, webhook_url)
    require_disk_space(services)
    router = await services.action_router()  # 503 router_unavailable when the agent is not installed
    from services.execution import Caller
    from services.resolve import Focus

    turn = Turn(mode="execute", intent=intent[:200], actions=actions, message="")
    focus = Focus(work_item_id=str(work_item_id) if work_item_id else None, track=track)
    result = await router.run(
        Caller(user_id=caller.user_id, role=caller.role),
        str(workspace_id),
        turn,
        confirmed=confirmed,
        focus=focus if work_item_id or track else None,
        idempotency_key=idempotency_key,
        expected_versions=versions,
    )
    out = turn_out(result)
    failed = [r for r in out.results if r.status == "failed"]
    if out.results and len(failed) == len(out.results):
        error = failed[0].error or {}
        code = str(error.get("code") or "action_failed")
        status = error.get("http_status")
        raise ApiError(
            status if isinstance(status, int) and 400 <= status < 500 else _status_for(code),
            code,
            str(error.get("message") or f"{failed[0].type} failed"),
            details={"results": [r.model_dump(mode="json") for r in out.results]},
        )
    if webhook_url and out.workflow_ids:

        def _register() -> None:
            with unit_of_work(services.sessions) as session:
                webhooks.register(
                    session,
                    workspace_id=workspace_id,
                    user_id=caller.user_id,
                    workflow_ids=out.workflow_ids,
                    url=webhook_url,
                )

        await run_in_threadpool(_register)
    return out
