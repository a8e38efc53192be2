"""The FastAPI application: OpenAPI is the contract for web, mobile and script clients."""

from __future__ import annotations

from fastapi import FastAPI

from infra.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="DirectorDeck API",
        version="0.1.0",
        description="Turn a sentence into a finished short video; steer every shot by chat.",
    )
    app.state.settings = settings

    @app.get("/health", tags=["ops"])
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
