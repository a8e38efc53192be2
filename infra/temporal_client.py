"""How every process connects to Temporal: one data converter, TLS/API key from settings."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import Client, TLSConfig
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter

from infra.errors import StackError
from infra.metrics import temporal_runtime
from infra.settings import Settings
from infra.telemetry import tracing_interceptor


def data_converter() -> DataConverter:
    """Pydantic-aware JSON: dataclasses, pydantic models, UUIDs and datetimes round-trip."""
    return pydantic_data_converter


def _tls(settings: Settings) -> TLSConfig | bool:
    if settings.temporal_tls_cert and settings.temporal_tls_key:
        return TLSConfig(
            client_cert=settings.temporal_tls_cert.read_bytes(),
            client_private_key=settings.temporal_tls_key.read_bytes(),
        )
    return bool(settings.temporal_api_key)


async def connect(settings: Settings, address: str | None = None) -> Client:
    target = address or settings.temporal_address or f"127.0.0.1:{settings.temporal_port}"
    try:
        return await Client.connect(
            target,
            namespace=settings.temporal_namespace,
            api_key=settings.temporal_api_key,
            tls=_tls(settings),
            data_converter=data_converter(),
            connect_timeout=timedelta(seconds=5),
            interceptors=[tracing_interceptor()],  # workers built on this client inherit it
            runtime=temporal_runtime(settings.temporal_metrics_port),
        )
    except RuntimeError as exc:
        raise StackError(
            f"cannot reach Temporal at {target} ({exc})",
            fix="start it (`directordeck up`) or point TEMPORAL_ADDRESS at a running server",
        ) from exc
