"""Temporal search attributes and memos: how a workspace's workflows are found in the Temporal UI.

Rules:
- four Keyword attributes, `WorkspaceId`, `WorkItemId`, `TaskType`, `UserId` (``ATTRIBUTES``):
  the embedded dev server registers them at start (``dev_server_args``); a production cluster gets
  them once from ``directordeck search-attributes`` (or ``temporal operator
  search-attribute create``, printed by ``create_commands``);
- every workflow a client starts carries them as typed search attributes and a memo
  (``workspace_title``, ``shot_number``) — ``start_options``; child workflows get their parent's
  workspace and user with their own task type, work item and shot (``workflows.common.child_options``);
- ``DIRECTORDECK_TEMPORAL_SEARCH_ATTRIBUTES=false`` leaves them off everywhere (a cluster where
  they cannot be registered): nothing then sets them, so nothing can be rejected for them;
- ``ui_url`` is the Temporal UI list of one workspace's workflows (the `WorkspaceId = '…'` query).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

WORKSPACE_ID = SearchAttributeKey.for_keyword("WorkspaceId")
WORK_ITEM_ID = SearchAttributeKey.for_keyword("WorkItemId")
TASK_TYPE = SearchAttributeKey.for_keyword("TaskType")
USER_ID = SearchAttributeKey.for_keyword("UserId")
KEYS = (WORKSPACE_ID, WORK_ITEM_ID, TASK_TYPE, USER_ID)
ATTRIBUTES: dict[str, str] = {key.name: "Keyword" for key in KEYS}
MEMO_TITLE = "workspace_title"
MEMO_SHOT = "shot_number"


def dev_server_args() -> list[str]:
    """`temporal server start-dev` flags that register every attribute."""
    args: list[str] = []
    for name, kind in ATTRIBUTES.items():
        args += ["--search-attribute", f"{name}={kind}"]
    return args


def create_commands(namespace: str, address: str | None = None) -> list[str]:
    """The `temporal operator` commands that register the attributes on a cluster."""
    where = f" --address {address}" if address else ""
    return [
        f"temporal operator search-attribute create --namespace {namespace}{where} "
        f"--name {name} --type {kind}"
        for name, kind in ATTRIBUTES.items()
    ]


def search_attributes(
    workspace_id: str,
    task_type: str,
    *,
    work_item_id: str | None = None,
    user_id: str | None = None,
) -> TypedSearchAttributes:
    pairs: list[SearchAttributePair[Any]] = [
        SearchAttributePair(WORKSPACE_ID, str(workspace_id)),
        SearchAttributePair(TASK_TYPE, task_type),
    ]
    if work_item_id:
        pairs.append(SearchAttributePair(WORK_ITEM_ID, str(work_item_id)))
    if user_id:
        pairs.append(SearchAttributePair(USER_ID, user_id))
    return TypedSearchAttributes(pairs)


def memo(title: str | None, shot_number: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if title:
        out[MEMO_TITLE] = title
    if shot_number is not None:
        out[MEMO_SHOT] = shot_number
    return out


def start_options(
    enabled: bool,
    workspace_id: str,
    task_type: str,
    *,
    work_item_id: str | None = None,
    user_id: str | None = None,
    title: str | None = None,
    shot_number: int | None = None,
) -> dict[str, Any]:
    """`search_attributes` and `memo` keyword arguments for `Client.start_workflow` (empty when off)."""
    if not enabled:
        return {}
    return {
        "search_attributes": search_attributes(
            workspace_id, task_type, work_item_id=work_item_id, user_id=user_id
        ),
        "memo": memo(title, shot_number),
    }


def workspace_query(workspace_id: str, extra: str | None = None) -> str:
    query = f"WorkspaceId = '{workspace_id}'"
    return f"{query} AND {extra}" if extra else query


def ui_url(ui_base: str, namespace: str, workspace_id: str, extra: str | None = None) -> str:
    """The Temporal UI's workflow list filtered to one workspace (and `extra`, e.g.
    `ExecutionStatus = 'Failed'`)."""
    query = quote(workspace_query(workspace_id, extra), safe="")
    return f"{ui_base.rstrip('/')}/namespaces/{quote(namespace, safe='')}/workflows?query={query}"


async def ensure_registered(client: Any, namespace: str) -> list[str]:
    """Register the missing attributes on the cluster `client` talks to (operator API; a self-hosted
    cluster or the dev server). Returns the names it added."""
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import (
        AddSearchAttributesRequest,
        ListSearchAttributesRequest,
    )

    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    have = set(listed.custom_attributes) | set(listed.system_attributes)
    missing = {name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for name in ATTRIBUTES if name not in have}
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=namespace, search_attributes=missing)
        )
    return sorted(missing)
