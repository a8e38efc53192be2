"""The web studio: the built single-page app (``studio/`` → ``api/studio_dist/``), served by the API.

Rules: ``/`` answers the studio's ``index.html`` (never cached, so a new build is picked up at
once); ``/studio/assets/*`` are the bundle's content-hashed files (cached for a year, immutable);
every asset the page loads comes from this app (a Content-Security-Policy of ``'self'`` makes the
browser refuse anything else, so a CDN or web font cannot sneak in); ``/studio/config`` tells the
page what the server offers (dev sign-in, Temporal UI address). The studio talks to the same REST
and SSE API as every other client: nothing here reads or writes the ledger.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from api.deps import ServicesDep
from api.errors import ApiError

DIST = Path(__file__).resolve().parent.parent / "studio_dist"

CSP = (
    "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self'; "
    "style-src 'self'; script-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "frame-ancestors 'none'; form-action 'self'"
)
HTML_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
MEDIA_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".webp": "image/webp",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain",
}

router = APIRouter(tags=["studio"])


def _index() -> Path:
    index = DIST / "index.html"
    if not index.is_file():
        raise ApiError(
            503,
            "studio_not_built",
            "the studio bundle is missing: run `make studio` (needs node) or reinstall the package",
        )
    return index


@router.get("/", include_in_schema=False)
def studio_index() -> Response:
    """The studio page (also at /studio/)."""
    return FileResponse(_index(), media_type="text/html", headers=HTML_HEADERS)


@router.get("/studio/", include_in_schema=False)
def studio_index_alias() -> Response:
    return studio_index()


@router.get("/studio/config", tags=["studio"])
def studio_config(request: Request, services: ServicesDep) -> JSONResponse:
    """What the studio page may offer: the dev sign-in (dev stacks only) and the Temporal UI link."""
    settings = services.settings
    ui = getattr(settings, "temporal_ui_public_url", None) or settings.temporal_ui_url
    return JSONResponse(
        {
            "env": settings.env,
            "dev_sign_in": settings.env == "dev",
            "temporal_ui_url": ui,
            "temporal_namespace": settings.temporal_namespace,
        },
        headers={"Cache-Control": "no-cache"},
    )


@router.get("/studio/{path:path}", include_in_schema=False)
def studio_file(path: str) -> Response:
    """A file of the bundle; hashed assets are immutable, anything else is revalidated."""
    root = DIST.resolve()
    target = (root / path).resolve()
    if root not in target.parents or not target.is_file():
        raise ApiError(404, "not_found", "no such studio file")
    immutable = target.parent.name == "assets"
    headers = {
        "Cache-Control": "public, max-age=31536000, immutable" if immutable else "no-cache",
        "X-Content-Type-Options": "nosniff",
    }
    return FileResponse(
        target, media_type=MEDIA_TYPES.get(target.suffix, "application/octet-stream"), headers=headers
    )


__all__ = ["router"]
