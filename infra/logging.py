"""Structured logs: one JSON object per line, every line carrying the ids that explain it.

Keys on every line: ts, level, logger, msg, request_id, trace_id, span_id, workflow_id, task_id
(null when unknown), plus run_id/activity/attempt inside Temporal code and any `extra=` fields.
Where the ids come from, in order:
- `bind(request_id=..., task_id=...)` / the context variables here (the API's request-id middleware
  sets `request_id_var`; contextvars follow asyncio tasks and `asyncio.to_thread`);
- the current OpenTelemetry span (trace_id, span_id);
- inside an activity: `activity.info()` (workflow id, run id, activity type, attempt); inside
  workflow code: the `temporal_workflow` fields the SDK's workflow.logger attaches;
- task_id inside an activity: `remember_task_id(workflow_id, task_id)` (called where the task row
  is written) maps the workflow to its task row — tasks are one per workflow id.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import json
import logging
import sys
import threading
import traceback
from collections import OrderedDict
from collections.abc import Iterator
from typing import IO, Any

from opentelemetry import baggage as otel_baggage
from opentelemetry import context as otel_context
from opentelemetry import trace as otel_trace
from temporalio import activity as temporal_activity

from infra.settings import Settings

__all__ = [
    "ID_KEYS",
    "REQUEST_ID_BAGGAGE",
    "ContextFilter",
    "JsonFormatter",
    "bind",
    "configure_logging",
    "remember_task_id",
    "request_id_var",
    "task_id_var",
    "workflow_id_var",
]

ID_KEYS = ("request_id", "trace_id", "span_id", "workflow_id", "task_id")

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("dd_request_id", default=None)
workflow_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("dd_workflow_id", default=None)
task_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("dd_task_id", default=None)

REQUEST_ID_BAGGAGE = "directordeck.request_id"

_VARS = {"request_id": request_id_var, "workflow_id": workflow_id_var, "task_id": task_id_var}

_TASKS_MAX = 10_000
_tasks_by_workflow: OrderedDict[str, str] = OrderedDict()
_tasks_lock = threading.Lock()

# attributes every LogRecord has; anything else on a record came from `extra=`
_RESERVED = set(logging.LogRecord("x", 0, "x", 0, "x", None, None).__dict__) | {
    "message",
    "asctime",
    "temporal_workflow",
    "temporal_activity",
    *ID_KEYS,
    "run_id",
    "activity",
    "attempt",
}


@contextlib.contextmanager
def bind(**ids: Any) -> Iterator[None]:
    """Set request_id / workflow_id / task_id for the enclosed code (and tasks it starts).

    request_id also goes into OpenTelemetry baggage, which the Temporal tracing interceptor
    carries in workflow and activity headers: log lines of the workflows and activities a request
    started carry its request id too, in whatever process they run."""
    for key in ids:
        if key not in _VARS:
            raise ValueError(f"unknown log id {key!r}; one of {', '.join(_VARS)}")
    tokens = []
    otel_token = None
    try:
        for key, value in ids.items():
            tokens.append((_VARS[key], _VARS[key].set(None if value is None else str(value))))
        if ids.get("request_id") is not None:
            otel_token = otel_context.attach(
                otel_baggage.set_baggage(REQUEST_ID_BAGGAGE, str(ids["request_id"]))
            )
        yield
    finally:
        if otel_token is not None:
            otel_context.detach(otel_token)
        for var, token in reversed(tokens):
            var.reset(token)


def remember_task_id(workflow_id: str, task_id: Any) -> None:
    """Note which task row a workflow mirrors, so log lines inside its activities carry task_id."""
    with _tasks_lock:
        _tasks_by_workflow[workflow_id] = str(task_id)
        _tasks_by_workflow.move_to_end(workflow_id)
        while len(_tasks_by_workflow) > _TASKS_MAX:
            _tasks_by_workflow.popitem(last=False)


def _task_for(workflow_id: str | None) -> str | None:
    if not workflow_id:
        return None
    with _tasks_lock:
        return _tasks_by_workflow.get(workflow_id)


class ContextFilter(logging.Filter):
    """Puts the ids on every record (never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        ids: dict[str, Any] = {key: var.get() for key, var in _VARS.items()}
        ids["trace_id"] = ids["span_id"] = None
        # no imports in here: this runs inside the workflow sandbox too (workflow.logger)
        with contextlib.suppress(Exception):
            ctx = otel_trace.get_current_span().get_span_context()
            if ctx.is_valid:
                ids["trace_id"] = format(ctx.trace_id, "032x")
                ids["span_id"] = format(ctx.span_id, "016x")
            if ids["request_id"] is None:
                carried = otel_baggage.get_baggage(REQUEST_ID_BAGGAGE)
                ids["request_id"] = str(carried) if carried is not None else None
        extra: dict[str, Any] = {}
        wf = getattr(record, "temporal_workflow", None)
        act = getattr(record, "temporal_activity", None)
        if isinstance(wf, dict):
            ids["workflow_id"] = ids["workflow_id"] or wf.get("workflow_id")
            extra["run_id"] = wf.get("run_id")
        if isinstance(act, dict):
            ids["workflow_id"] = ids["workflow_id"] or act.get("workflow_id")
            extra["run_id"] = act.get("workflow_run_id")
            extra["activity"] = act.get("activity_type")
            extra["attempt"] = act.get("attempt")
        if ids["workflow_id"] is None or "activity" not in extra:
            self._from_activity(ids, extra)
        if ids["task_id"] is None:
            ids["task_id"] = _task_for(ids["workflow_id"])
        for key, value in {**ids, **extra}.items():
            if getattr(record, key, None) is None:
                setattr(record, key, value)
        return True

    @staticmethod
    def _from_activity(ids: dict[str, Any], extra: dict[str, Any]) -> None:
        try:
            if not temporal_activity.in_activity():
                return
            info = temporal_activity.info()
        except Exception:
            return
        ids["workflow_id"] = ids["workflow_id"] or info.workflow_id
        extra.setdefault("run_id", info.workflow_run_id)
        extra.setdefault("activity", info.activity_type)
        extra.setdefault("attempt", info.attempt)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in (*ID_KEYS, "run_id", "activity", "attempt"):
            value = getattr(record, key, None)
            if value is not None or key in ID_KEYS:
                out[key] = value
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_") and key not in out:
                out[key] = value if isinstance(value, str | int | float | bool | type(None)) else repr(value)
        if record.exc_info:
            out["exc"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        elif record.exc_text:
            out["exc"] = record.exc_text
        return json.dumps(out, ensure_ascii=False, default=str)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ids = " ".join(f"{k}={getattr(record, k)}" for k in ID_KEYS if getattr(record, k, None))
        base = super().format(record)
        return f"{base} [{ids}]" if ids else base


_HANDLER_NAME = "directordeck"


def configure_logging(
    settings: Settings, *, stream: IO[str] | None = None, fmt: str | None = None
) -> logging.Handler:
    """Route the root logger to one handler (JSON lines on stderr by default) at settings.log_level.

    Idempotent: calling again replaces the handler this function installed. `fmt` is "json"
    (default) or "text" (human-readable, ids appended)."""
    fmt = fmt or str(getattr(settings, "log_format", None) or "json")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(ContextFilter())
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else _TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == _HANDLER_NAME:
            root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(str(settings.log_level).upper())
    # Temporal's loggers append a dict of ids to each message; in JSON the ids are fields already
    from temporalio import activity, workflow

    workflow.logger.workflow_info_on_message = fmt != "json"
    activity.logger.activity_info_on_message = fmt != "json"
    # uvicorn installs its own handlers; let its records reach ours instead
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    return handler
