"""Search attributes and links for the Temporal UI. (That a `WorkspaceId = '…'` query finds every
workflow of a pipeline run is proven on the pipeline run of tests/workflows/test_export_timeline.py.)"""

from __future__ import annotations

from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest

from infra.search_attributes import (
    ATTRIBUTES,
    WORKSPACE_ID,
    create_commands,
    dev_server_args,
    ensure_registered,
    start_options,
    ui_url,
)


def test_ui_link_lists_the_workspace_in_the_temporal_ui() -> None:
    link = ui_url("http://localhost:8233/", "default", "ws-1", "ExecutionStatus = 'Failed'")
    assert link == (
        "http://localhost:8233/namespaces/default/workflows?query="
        "WorkspaceId%20%3D%20%27ws-1%27%20AND%20ExecutionStatus%20%3D%20%27Failed%27"
    )


def test_start_options_carry_attributes_and_memo_unless_turned_off() -> None:
    assert start_options(False, "ws-1", "grid") == {}
    on = start_options(True, "ws-1", "grid", work_item_id="wi-1", user_id="alice", title="Fox", shot_number=2)
    assert on["search_attributes"].get(WORKSPACE_ID) == "ws-1"
    assert {p.key.name: p.value for p in on["search_attributes"]} == {
        "WorkspaceId": "ws-1",
        "TaskType": "grid",
        "WorkItemId": "wi-1",
        "UserId": "alice",
    }
    assert on["memo"] == {"workspace_title": "Fox", "shot_number": 2}


def test_production_step_names_every_attribute() -> None:
    commands = create_commands("prod", "temporal:7233")
    assert len(commands) == len(ATTRIBUTES) == 4
    assert all(
        c.startswith("temporal operator search-attribute create --namespace prod --address") for c in commands
    )
    assert dev_server_args().count("--search-attribute") == 4


async def test_the_embedded_server_has_them_and_registering_again_adds_none(temporal_env) -> None:
    client = temporal_env.client
    assert await ensure_registered(client, client.namespace) == []
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    assert set(ATTRIBUTES) <= set(listed.custom_attributes)


def test_directordeck_ui_prints_the_workspace_link(monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from infra.settings import get_settings
    from launch import cli

    monkeypatch.setenv("DIRECTORDECK_TEMPORAL_UI_URL", "https://temporal.example.com")
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "directordeck")
    get_settings.cache_clear()
    try:
        assert cli.main(["ui", "--workspace", "ws-9"]) == 0
    finally:
        get_settings.cache_clear()
    assert capsys.readouterr().out.strip() == (
        "https://temporal.example.com/namespaces/directordeck/workflows?query=WorkspaceId%20%3D%20%27ws-9%27"
    )
