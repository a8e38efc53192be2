"""Tracing: one OpenTelemetry trace per user request, API → agent → workflow → activity → provider.

Rules:
- `setup_tracing(settings, service)` installs the process's SDK TracerProvider once (later calls
  return the same provider). A provider is installed even with `otel_exporter=none`, so trace ids
  still propagate through Temporal headers and land on task/node rows and log lines; the exporter
  setting only decides where finished spans go (nowhere, stderr as one JSON line per span, or
  OTLP over HTTP — gRPC when `OTEL_EXPORTER_OTLP_PROTOCOL=grpc` and its exporter is installed).
- Temporal spans come from `temporalio.contrib.opentelemetry.TracingInterceptor` registered on the
  Client (workers built on that client inherit it). It is replay-safe: workflow-side spans are
  created only while the workflow is not replaying, so a cache eviction, a worker restart or a
  `Replayer` run never emits a span twice.
- Provider calls (LLM, diffusion, FFmpeg, TTS) run under `provider_span(name, **attrs)`, a child of
  the activity span; its duration also feeds the `directordeck_provider_call_seconds` histogram.
- Langfuse gets the LLM/agent spans only (spans marked `kind="llm"` or `kind="agent"`, and the
  workflow/activity spans of agent conversations), through its OpenTelemetry endpoint, when
  LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY are set; without keys nothing Langfuse-related is
  imported or sent. With the `langfuse` package installed, LangChain
  runs can also attach `langfuse_callbacks()` (then the OTel route is skipped: no duplicates).
"""

from __future__ import annotations

import base64
import contextlib
import contextvars
import importlib.util
import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.propagate import extract, inject
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.trace import SpanKind, Status, StatusCode

from infra.settings import Settings

__all__ = [
    "LLM_KINDS",
    "TracingMiddleware",
    "current_span_id",
    "current_trace_id",
    "current_traceparent",
    "in_context",
    "inject_headers",
    "langfuse_callbacks",
    "langfuse_enabled",
    "provider_span",
    "setup_tracing",
    "tracer",
    "tracing_interceptor",
]

log = logging.getLogger(__name__)

TRACER_NAME = "directordeck"
LLM_KINDS = frozenset({"llm", "agent"})  # provider_span kinds that Langfuse receives
# agent steps: every workflow/activity span of a conversation (agent.conversation) goes too
AGENT_WORKFLOW_PREFIXES = ("conversation-",)
KIND_ATTR = "directordeck.kind"
DEFAULT_LANGFUSE_HOST = "https://cloud.langfuse.com"

T = TypeVar("T")

_lock = threading.Lock()
_provider: TracerProvider | None = None


# --- setup ----------------------------------------------------------------------------------


def setup_tracing(
    settings: Settings, service: str, *, exporters: Sequence[SpanExporter] = ()
) -> TracerProvider | None:
    """Install (once per process) and return the TracerProvider; `exporters` are extra exporters
    attached with a synchronous processor (tests pass an in-memory one; a second call may add more).
    """
    global _provider
    with _lock:
        if _provider is None:
            _provider = _build_provider(settings, service)
            trace.set_tracer_provider(_provider)
            current = trace.get_tracer_provider()
            if current is not _provider:  # someone else installed a provider first: use theirs
                log.warning("a TracerProvider was already installed; DirectorDeck spans go there")
                if isinstance(current, TracerProvider):
                    _provider = current
        for exporter in exporters:
            _provider.add_span_processor(SimpleSpanProcessor(exporter))
        return _provider


def _build_provider(settings: Settings, service: str) -> TracerProvider:
    name = settings.otel_service_name if not service else f"{settings.otel_service_name}-{service}"
    provider = TracerProvider(
        resource=Resource.create({"service.name": name, "service.namespace": settings.otel_service_name})
    )
    kind = settings.otel_exporter
    if kind == "console":
        provider.add_span_processor(SimpleSpanProcessor(_console_exporter()))
    elif kind == "otlp":
        provider.add_span_processor(BatchSpanProcessor(_otlp_exporter(settings)))
    if langfuse_enabled(settings) and importlib.util.find_spec("langfuse") is None:
        provider.add_span_processor(_OnlyKinds(BatchSpanProcessor(_langfuse_exporter(settings)), LLM_KINDS))
    return provider


def _console_exporter() -> SpanExporter:
    """One compact JSON object per span on stderr (stdout stays clean for `--json` commands)."""

    def one_line(span: ReadableSpan) -> str:
        return json.dumps(json.loads(span.to_json()), separators=(",", ":")) + "\n"

    return ConsoleSpanExporter(out=sys.stderr, formatter=one_line)


def _otlp_endpoint(base: str | None, path: str) -> str | None:
    if not base:
        return None  # the exporter's own default (OTEL_EXPORTER_OTLP_*_ENDPOINT or localhost)
    base = base.rstrip("/")
    return base if base.endswith(path) else base + path


def _otlp_exporter(settings: Settings) -> SpanExporter:
    protocol = str(getattr(settings, "otel_exporter_otlp_protocol", None) or "http/protobuf").lower()
    endpoint = settings.otel_exporter_otlp_endpoint
    if protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
                OTLPSpanExporter as GrpcExporter,
            )
        except ImportError as exc:
            from infra.errors import StackError

            raise StackError(
                "OTLP over gRPC needs the opentelemetry-exporter-otlp-proto-grpc package",
                fix="pip install opentelemetry-exporter-otlp-proto-grpc, or use OTLP over HTTP",
            ) from exc
        return GrpcExporter(endpoint=endpoint) if endpoint else GrpcExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    url = _otlp_endpoint(endpoint, "/v1/traces")
    return OTLPSpanExporter(endpoint=url) if url else OTLPSpanExporter()


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


def tracing_interceptor() -> Any:
    """The Temporal interceptor for Client.connect(interceptors=[...]); workers inherit it.

    Workflow spans are emitted only when the workflow is not replaying (no duplicates on replay)
    and only under a client span, so every workflow span has a parent in the caller's trace.
    """
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return TracingInterceptor(tracer())


# --- trace ids ------------------------------------------------------------------------------


def current_trace_id() -> str | None:
    """The current trace id as 32 hex digits (what task.trace_id / node.trace_id store)."""
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None


def current_span_id() -> str | None:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.span_id, "016x") if ctx.is_valid else None


def current_traceparent() -> str | None:
    """The W3C `traceparent` of the current span (to hand to another process or a webhook)."""
    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier.get("traceparent")


def inject_headers(headers: dict[str, str] | None = None) -> dict[str, str]:
    """Add `traceparent` (and baggage) for the current span to outgoing HTTP headers."""
    headers = dict(headers or {})
    inject(headers)
    return headers


def in_context(fn: Callable[..., T]) -> Callable[..., T]:
    """Bind `fn` to the caller's context (span, log ids) for running in another thread:
    `loop.run_in_executor(None, in_context(work), ...)` — the executor does not copy contextvars."""
    ctx = contextvars.copy_context()

    def run(*args: Any, **kwargs: Any) -> T:
        return ctx.run(fn, *args, **kwargs)

    return run


# --- provider spans -------------------------------------------------------------------------


def _attr(value: Any) -> Any:
    if isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, list | tuple) and all(isinstance(v, str | bool | int | float) for v in value):
        return list(value)
    return str(value)


@contextlib.contextmanager
def provider_span(name: str, *, kind: str = "provider", **attrs: Any) -> Iterator[Span]:
    """A span around one provider call (`kind`: provider | llm | agent | media | tts ...).

    LLM calls: pass kind="llm", model=..., and the span carries the gen_ai.* attributes Langfuse
    reads. The call's duration is recorded in `directordeck_provider_call_seconds{call,outcome}`.
    """
    from infra import metrics

    attributes = {KIND_ATTR: kind, **{k: _attr(v) for k, v in attrs.items() if v is not None}}
    if kind in LLM_KINDS:
        attributes["langfuse.observation.type"] = "generation" if kind == "llm" else "span"
        if "model" in attrs and attrs["model"] is not None:
            attributes["gen_ai.request.model"] = str(attrs["model"])
        if "system" in attrs and attrs["system"] is not None:
            attributes["gen_ai.system"] = str(attrs["system"])
    outcome = "ok"
    started = time.perf_counter()
    with tracer().start_as_current_span(
        name,
        kind=SpanKind.CLIENT,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield span  # type: ignore[misc]
        except BaseException as exc:
            outcome = "canceled" if _is_cancel(exc) else "error"
            if outcome == "error":
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"[:500]))
            else:
                span.set_attribute("directordeck.canceled", True)
            raise
        finally:
            metrics.PROVIDER_SECONDS.labels(call=name, outcome=outcome).observe(time.perf_counter() - started)


def _is_cancel(exc: BaseException) -> bool:
    import asyncio

    return isinstance(exc, asyncio.CancelledError) or type(exc).__name__ in (
        "CancelledByUser",
        "CancelledError",
    )


# --- Langfuse -------------------------------------------------------------------------------


def langfuse_enabled(settings: Settings) -> bool:
    return bool(settings.langfuse_public_key and settings.langfuse_secret_key)


def _langfuse_exporter(settings: Settings) -> SpanExporter:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    host = (settings.langfuse_host or DEFAULT_LANGFUSE_HOST).rstrip("/")
    token = base64.b64encode(
        f"{settings.langfuse_public_key}:{settings.langfuse_secret_key}".encode()
    ).decode()
    return OTLPSpanExporter(
        endpoint=f"{host}/api/public/otel/v1/traces", headers={"Authorization": f"Basic {token}"}
    )


def langfuse_callbacks(settings: Settings) -> list[Any]:
    """LangChain callbacks that send LLM calls and agent steps to Langfuse: [] unless keys are set
    and the `langfuse` package is installed (imported only then)."""
    if not langfuse_enabled(settings) or importlib.util.find_spec("langfuse") is None:
        return []
    try:
        try:
            from langfuse.langchain import CallbackHandler  # langfuse >= 3
        except ImportError:
            from langfuse.callback import CallbackHandler  # type: ignore[no-redef]  # langfuse 2
        import os

        # the Langfuse client reads its keys from the environment
        os.environ.setdefault("LANGFUSE_PUBLIC_KEY", settings.langfuse_public_key or "")
        os.environ.setdefault("LANGFUSE_SECRET_KEY", settings.langfuse_secret_key or "")
        if settings.langfuse_host:
            os.environ.setdefault("LANGFUSE_HOST", settings.langfuse_host)
        return [CallbackHandler()]
    except Exception as exc:  # a broken optional integration must never break planning
        log.warning("langfuse callback unavailable: %s", exc)
        return []


class _OnlyKinds(SpanProcessor):
    """Forward to `inner` only LLM/agent spans: directordeck.kind in `kinds`, or a Temporal span
    (workflow, activity) of an agent conversation."""

    def __init__(
        self,
        inner: SpanProcessor,
        kinds: frozenset[str],
        workflows: tuple[str, ...] = AGENT_WORKFLOW_PREFIXES,
    ) -> None:
        self.inner = inner
        self.kinds = kinds
        self.workflows = workflows

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        return None

    def on_end(self, span: ReadableSpan) -> None:
        attrs = span.attributes or {}
        workflow_id = str(attrs.get("temporalWorkflowID", ""))
        if attrs.get(KIND_ATTR) in self.kinds or workflow_id.startswith(self.workflows):
            self.inner.on_end(span)

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


# --- API requests ---------------------------------------------------------------------------


class TracingMiddleware:
    """Pure-ASGI, per HTTP request: binds the request id into log lines and OTel baggage (so the
    workflows a request starts log it too), echoes the trace id as `X-Trace-Id`, and makes sure a
    SERVER span exists. FastAPI ≥ 0.16x opens that span itself (native OpenTelemetry, named by the
    route template) once a tracer provider is installed — then this middleware reuses it; on older
    FastAPI/Starlette it opens one (continuing an incoming `traceparent`). Add it so that it runs
    inside the request-id middleware (`add_middleware` it before that one)."""

    def __init__(self, app: Any, *, exclude: Sequence[str] = ("/metrics", "/health")) -> None:
        self.app = app
        self.exclude = tuple(exclude)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path", "") in self.exclude:
            await self.app(scope, receive, send)
            return
        from infra.logging import bind

        request_id = (scope.get("state") or {}).get("request_id")
        status = {"code": 500}
        with contextlib.ExitStack() as stack:
            span = trace.get_current_span()
            own = not span.is_recording()  # no framework span around us: open our own
            if own:
                headers = {
                    k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])
                }
                token = otel_context.attach(extract(headers))
                stack.callback(otel_context.detach, token)
                span = stack.enter_context(
                    tracer().start_as_current_span(
                        f"{scope.get('method', 'GET')} {scope.get('path', '')}",
                        kind=SpanKind.SERVER,
                        attributes={
                            "http.request.method": scope.get("method", "GET"),
                            "url.path": scope.get("path", ""),
                        },
                        set_status_on_exception=False,
                    )
                )
            if request_id:
                span.set_attribute("directordeck.request_id", str(request_id))
                stack.enter_context(bind(request_id=request_id))
            trace_id = (current_trace_id() or "").encode()

            async def send_traced(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    status["code"] = int(message["status"])
                    if trace_id:
                        headers = [*message.get("headers", []), (b"x-trace-id", trace_id)]
                        message = {**message, "headers": headers}
                await send(message)

            try:
                await self.app(scope, receive, send_traced)
            except BaseException as exc:
                if own:
                    span.record_exception(exc)
                    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                raise
            finally:
                if own:
                    route = getattr(scope.get("route"), "path", None)
                    if route:
                        span.update_name(f"{scope.get('method', 'GET')} {route}")
                        span.set_attribute("http.route", route)
                    span.set_attribute("http.response.status_code", status["code"])
                    if status["code"] >= 500:
                        span.set_status(Status(StatusCode.ERROR))
