"""One settings object for every process (API, workers, CLI).

Rule: every variable read anywhere in DirectorDeck is a field here and is documented in README.md.
Standard names are used where they exist (DATABASE_URL, TEMPORAL_*, GOOGLE_API_KEY, OTEL_*,
LANGFUSE_*, AWS_*); everything else carries the DIRECTORDECK_ prefix. Secrets have no default
outside dev mode.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "directordeck-dev-only-secret-change-me-please-0123456789"


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DIRECTORDECK_", extra="ignore", populate_by_name=True)

    # --- mode & paths ---------------------------------------------------------------
    env: Literal["dev", "prod"] = "dev"
    data_dir: Path = Path("./.directordeck")
    model_dir: Path | None = None

    # --- ledger ------------------------------------------------------------------------
    database_url: str | None = Field(default=None, validation_alias=_env("DATABASE_URL"))
    pg_port: int = 54329

    # --- Temporal ----------------------------------------------------------------------
    temporal_address: str | None = Field(default=None, validation_alias=_env("TEMPORAL_ADDRESS"))
    temporal_namespace: str = Field(default="default", validation_alias=_env("TEMPORAL_NAMESPACE"))
    temporal_tls_cert: Path | None = Field(
        default=None, validation_alias=_env("TEMPORAL_TLS_CLIENT_CERT_PATH")
    )
    temporal_tls_key: Path | None = Field(default=None, validation_alias=_env("TEMPORAL_TLS_CLIENT_KEY_PATH"))
    temporal_api_key: str | None = Field(default=None, validation_alias=_env("TEMPORAL_API_KEY"))
    temporal_port: int = 7233
    temporal_ui_port: int = 8233
    # where people open the Temporal UI (links printed by `directordeck ui`); default: the embedded one
    temporal_ui_base_url: str | None = Field(
        default=None, validation_alias=_env("DIRECTORDECK_TEMPORAL_UI_URL")
    )
    # WorkspaceId/WorkItemId/TaskType/UserId search attributes and memos on every workflow
    temporal_search_attributes: bool = True

    # --- API ---------------------------------------------------------------------------
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    jwt_secret: str | None = None
    jwks_url: str | None = None
    session_secret: str | None = None  # signs browser session cookies (default: the JWT secret)
    session_ttl_s: int = 12 * 3600  # browser session cookie lifetime
    api_public_url: str | None = None  # absolute URLs in webhook bodies (default http://api_host:api_port)
    api_cors_origins: list[str] = []
    api_max_request_bytes: int = 1_048_576
    api_rate_per_minute: float = 60.0
    api_rate_burst: int = 20
    api_sse_ping_s: float = 15.0
    api_sse_poll_s: float = 5.0
    api_webhook_poll_s: float = 2.0
    api_webhook_max_attempts: int = 6
    api_idempotency_ttl_s: int = 172_800  # keys are kept at least 24 h
    api_db_pool_size: int = 10
    # `up` serves the API in-process with 1; with more, as its own supervised uvicorn process with
    # this many worker processes (per-worker: a DB pool, the SSE LISTEN hub, the webhook poller)
    api_workers: int = Field(default=1, ge=1, le=64)
    webhook_secret: str | None = None  # HMAC key for webhooks; dev falls back to the JWT secret
    # CIDRs webhooks may reach although they are loopback/private/link-local (default: none)
    webhook_allowed_networks: list[str] = []
    metrics_token: str | None = None  # bearer token for /metrics (admins' JWTs work too)

    # --- providers ---------------------------------------------------------------------
    google_api_key: str | None = Field(default=None, validation_alias=_env("GOOGLE_API_KEY"))
    storyboard_provider: Literal["auto", "offline", "gemini"] = "auto"
    # agent planner: offline grammar only, Gemini always (offline fallback), or offline first and
    # Gemini only when the offline planner is unsure (auto; offline when no GOOGLE_API_KEY)
    planner: Literal["auto", "offline", "gemini"] = "auto"
    planner_timeout_s: float = 20.0
    image_provider: Literal["auto", "storyboard_card", "diffusers", "gemini"] = "auto"
    video_provider: Literal["auto", "kenburns", "diffusers"] = "auto"
    voice_provider: Literal["auto", "piper"] = "auto"
    piper_voice: Path | None = None
    piper_voice_zh: Path | None = None
    price_table: Path | None = (
        None  # JSON prices (tokens, images, GPU seconds): task costs; see activities/pricing.py
    )
    # proposal estimates (services/estimate.py): GPU seconds per unit of work by verb (JSON, merged
    # over the defaults), USD per GPU second (the price table's wins) and per LLM call
    estimate_gpu_seconds: dict[str, float] = {}
    gpu_second_usd: float = Field(default=0.0006, ge=0)
    llm_call_usd: float = Field(default=0.002, ge=0)
    image_resolution: int = Field(default=512, ge=64, le=2048)  # diffusers grids: long side generated
    video_resolution: int = Field(default=1024, ge=64, le=2048)  # diffusers clips: long side generated
    generation_cache_max_mb: int = Field(default=2048, ge=1)  # diffusers grid cache on disk: LRU bound
    cjk_font: Path | None = None  # read by activities/providers/cards.py for Chinese text on cards/subtitles

    # --- storage -----------------------------------------------------------------------
    min_free_disk_mb: int = Field(default=1024, ge=0)  # disk guard (infra/diskguard.py); 0 disables it
    storage_backend: Literal["fs", "s3"] = "fs"
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = Field(default=None, validation_alias=_env("AWS_ENDPOINT_URL_S3"))
    aws_region: str | None = Field(default=None, validation_alias=_env("AWS_REGION"))

    # --- workers -----------------------------------------------------------------------
    task_queue_prefix: str = ""
    pool_concurrency_cpu: int = 4
    pool_concurrency_gpu_image: int = 1
    pool_concurrency_gpu_video: int = 1
    pool_concurrency_tts: int = 2
    shot_concurrency: int = 4
    # self-healing (services/reconcile.py, infra/janitor.py; run by the process running the cpu pool)
    maintenance_interval_s: float = Field(default=60.0, gt=0)  # how often rows, files and caches are swept
    reconcile_grace_s: float = Field(default=60.0, ge=0)  # a row this fresh with no workflow is left alone
    janitor_grace_s: float = Field(
        default=3600.0, ge=0
    )  # stored files with no asset row younger than this stay
    janitor_temp_grace_s: float = Field(
        default=3600.0, ge=0
    )  # temp files / cache entries used this recently stay
    cache_max_mb: int = Field(default=4096, ge=0)  # each cache (compose segments, S3 copies); 0: unbounded
    liveness_probe_s: float = Field(default=5.0, gt=0)  # `up` probes its servers this often (liveness.py)

    # --- observability -----------------------------------------------------------------
    otel_exporter: Literal["none", "console", "otlp"] = "none"
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None, validation_alias=_env("OTEL_EXPORTER_OTLP_ENDPOINT")
    )
    otel_service_name: str = Field(default="directordeck", validation_alias=_env("OTEL_SERVICE_NAME"))
    langfuse_public_key: str | None = Field(default=None, validation_alias=_env("LANGFUSE_PUBLIC_KEY"))
    langfuse_secret_key: str | None = Field(default=None, validation_alias=_env("LANGFUSE_SECRET_KEY"))
    langfuse_host: str | None = Field(default=None, validation_alias=_env("LANGFUSE_HOST"))
    otel_exporter_otlp_protocol: Literal["http/protobuf", "grpc"] = Field(
        default="http/protobuf", validation_alias=_env("OTEL_EXPORTER_OTLP_PROTOCOL")
    )
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"
    metrics_port: int | None = None  # a worker process's own /metrics (the API serves /metrics itself)
    temporal_metrics_port: int | None = None  # Temporal SDK metrics (Prometheus) of this process

    @model_validator(mode="after")
    def _no_default_secrets_in_prod(self) -> Settings:
        if self.env == "prod" and not (self.jwt_secret or self.jwks_url):
            raise ValueError(
                "DIRECTORDECK_JWT_SECRET or DIRECTORDECK_JWKS_URL must be set when DIRECTORDECK_ENV=prod"
            )
        return self

    # --- derived paths (not settings: computed from data_dir) ------------------------
    @property
    def data_path(self) -> Path:
        return self.data_dir.expanduser().resolve()

    @property
    def pg_data_path(self) -> Path:
        return self.data_path / "postgres"

    @property
    def temporal_db_path(self) -> Path:
        return self.data_path / "temporal.sqlite"

    @property
    def storage_path(self) -> Path:
        return self.data_path / "storage"

    @property
    def effective_jwt_secret(self) -> str | None:
        if self.jwt_secret:
            return self.jwt_secret
        return DEV_JWT_SECRET if self.env == "dev" else None

    @property
    def temporal_ui_url(self) -> str:
        return self.temporal_ui_base_url or f"http://localhost:{self.temporal_ui_port}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
