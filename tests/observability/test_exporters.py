"""Exporters by settings: console (one JSON line per span), OTLP/HTTP, Langfuse (LLM spans only)."""

from __future__ import annotations

import base64
import importlib.util
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import SpanKind

from infra import telemetry
from infra.settings import Settings


class Collector(ThreadingHTTPServer):
    """A stand-in OTLP/HTTP receiver on loopback that keeps what it was sent."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def span_names(self) -> list[str]:
        names = []
        for _, _, body in self.requests:
            req = ExportTraceServiceRequest.FromString(body)
            for rs in req.resource_spans:
                for ss in rs.scope_spans:
                    names += [s.name for s in ss.spans]
        return names


@pytest.fixture
def collector() -> Iterator[Collector]:
    server = Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def emit(provider: TracerProvider) -> None:
    tr = provider.get_tracer("test")
    with tr.start_as_current_span("RunActivity:storyboard", kind=SpanKind.SERVER):
        with tr.start_as_current_span("llm.storyboard", attributes={telemetry.KIND_ATTR: "llm"}):
            pass
        with tr.start_as_current_span("images.render_grid", attributes={telemetry.KIND_ATTR: "provider"}):
            pass
    # an agent step: an activity of a conversation workflow
    with tr.start_as_current_span("RunActivity:plan", attributes={"temporalWorkflowID": "conversation-42"}):
        pass
    provider.force_flush(5000)


def test_console_exporter_writes_one_json_object_per_span_to_stderr(capsys) -> None:
    provider = telemetry._build_provider(Settings(otel_exporter="console"), "demo")
    emit(provider)
    provider.shutdown()
    out, err = capsys.readouterr()
    assert out == ""  # stdout stays clean for `--json` commands
    spans = [json.loads(line) for line in err.splitlines()]
    names = [s["name"] for s in spans]
    assert names == ["llm.storyboard", "images.render_grid", "RunActivity:storyboard", "RunActivity:plan"]
    assert len({s["context"]["trace_id"] for s in spans[:3]}) == 1
    assert spans[0]["resource"]["attributes"]["service.name"] == "directordeck-demo"


def test_otlp_http_exporter_posts_to_the_configured_endpoint(collector: Collector) -> None:
    settings = Settings(
        otel_exporter="otlp", OTEL_EXPORTER_OTLP_ENDPOINT=collector.url, OTEL_SERVICE_NAME="dd"
    )
    provider = telemetry._build_provider(settings, "worker")
    emit(provider)
    provider.shutdown()
    assert {path for path, _, _ in collector.requests} == {"/v1/traces"}
    assert sorted(collector.span_names()) == [
        "RunActivity:plan",
        "RunActivity:storyboard",
        "images.render_grid",
        "llm.storyboard",
    ]


def test_langfuse_receives_only_llm_and_agent_spans_when_keys_are_set(collector: Collector) -> None:
    settings = Settings(
        LANGFUSE_PUBLIC_KEY="pk-lf-test", LANGFUSE_SECRET_KEY="sk-lf-test", LANGFUSE_HOST=collector.url
    )
    provider = telemetry._build_provider(settings, "agent")  # otel_exporter=none: Langfuse only
    emit(provider)
    provider.shutdown()
    assert len(collector.requests) == 1
    path, headers, _ = collector.requests[0]
    assert path == "/api/public/otel/v1/traces"
    assert headers["authorization"] == "Basic " + base64.b64encode(b"pk-lf-test:sk-lf-test").decode()
    assert collector.span_names() == ["llm.storyboard", "RunActivity:plan"]  # LLM calls + agent steps


def test_without_langfuse_keys_nothing_langfuse_is_set_up(collector: Collector) -> None:
    settings = Settings(LANGFUSE_HOST=collector.url)
    assert not telemetry.langfuse_enabled(settings)
    assert telemetry.langfuse_callbacks(settings) == []
    provider = telemetry._build_provider(settings, "agent")
    emit(provider)
    provider.shutdown()
    assert collector.requests == []
    if importlib.util.find_spec("langfuse") is None:
        # keys but no `langfuse` package: no LangChain callback (the OTel route above still works)
        keyed = Settings(LANGFUSE_PUBLIC_KEY="pk", LANGFUSE_SECRET_KEY="sk", LANGFUSE_HOST=collector.url)
        assert telemetry.langfuse_callbacks(keyed) == []
