"""The API as `directordeck up` serves it: /metrics with request and ledger series, X-Trace-Id on
answers, a request's trace continuing into the workflows it starts."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
from opentelemetry.trace import SpanKind

from api.auth import mint_dev_token
from infra.settings import Settings


async def test_api_serves_metrics_and_traces_requests(
    temporal_env, fresh_db_url: str, tmp_path: Path, spans
) -> None:
    from api.main import create_app

    settings = Settings(data_dir=tmp_path)
    app = create_app(
        settings, database_url=fresh_db_url, temporal_client=temporal_env.client, background=False
    )
    token = mint_dev_token("alice", settings=settings)
    incoming = uuid.uuid4().hex
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as http,
    ):
        answer = await http.get(
            "/workspaces",
            headers={
                "Authorization": f"Bearer {token}",
                "X-Request-ID": "req-wired-1",
                "traceparent": f"00-{incoming}-{'cd' * 8}-01",
            },
        )
        assert answer.status_code == 200, answer.text
        assert answer.headers["x-trace-id"] == incoming
        assert answer.headers["x-request-id"] == "req-wired-1"
        assert (
            await http.get("/workspaces/not-a-uuid", headers={"Authorization": f"Bearer {token}"})
        ).status_code
        assert (await http.get("/metrics")).status_code == 401  # operators only
        assert (await http.get("/metrics", headers={"Authorization": f"Bearer {token}"})).status_code == 403
        admin = mint_dev_token("root", "admin", settings=settings)
        scrape = await http.get("/metrics", headers={"Authorization": f"Bearer {admin}"})
    assert scrape.status_code == 200
    text = scrape.text
    assert 'directordeck_http_requests_total{method="GET",route="/workspaces",status="200"}' in text
    assert "directordeck_ledger_metrics_up 1.0" in text
    assert "directordeck_http_request_duration_seconds_bucket" in text
    # the server span (FastAPI's own, or ours on older FastAPI) continues the caller's trace
    server = [
        s
        for s in spans.get_finished_spans()
        if s.kind == SpanKind.SERVER and s.parent is not None and s.parent.span_id == int("cd" * 8, 16)
    ]
    assert len(server) == 1 and format(server[0].context.trace_id, "032x") == incoming
    assert server[0].attributes.get("directordeck.request_id") == "req-wired-1"
