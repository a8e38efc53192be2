"""One error body everywhere: ``{"code", "message", "request_id"}`` (+ ``"details"`` for validation).

Rules: ``code`` is stable snake_case (never reworded once shipped; ledger codes pass through
unchanged); clients branch on ``code``, never on ``message``; no stack trace, SQL or file path ever
reaches a client (unexpected errors are logged with the request id and answered 500
``internal_error``); every error response carries ``X-Request-ID``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from schema.domain_errors import DomainError

log = logging.getLogger("directordeck.api")

REQUEST_ID_HEADER = "X-Request-ID"


class ErrorBody(BaseModel):
    """The body of every error response."""

    code: str = Field(description="Stable machine-readable code (snake_case).", examples=["not_found"])
    message: str = Field(description="Human-readable explanation; do not parse.")
    request_id: str = Field(description="Echo of X-Request-ID (or the id the server generated).")
    details: Any | None = Field(default=None, description="Validation errors or ids that explain the error.")


class ApiError(Exception):
    """An error the API raises on purpose (mapped to ErrorBody by the handlers below)."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        details: Any | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.details = details


def not_found(entity: str, ident: Any) -> ApiError:
    """The 404 every scoped lookup answers (another user's ids look exactly like missing ones)."""
    return ApiError(404, f"{entity}_not_found", f"{entity} {ident} not found")


def request_id_of(request: Request) -> str:
    return str(getattr(request.state, "request_id", "") or request.headers.get(REQUEST_ID_HEADER, "") or "-")


def error_response(
    request: Request,
    status_code: int,
    code: str,
    message: str,
    *,
    details: Any | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    rid = request_id_of(request)
    body: dict[str, Any] = {"code": code, "message": message, "request_id": rid}
    if details is not None:
        body["details"] = jsonable_encoder(details)
    out_headers = {REQUEST_ID_HEADER: rid, **(headers or {})}
    return JSONResponse(body, status_code=status_code, headers=out_headers)


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "request_too_large",
    415: "unsupported_media_type",
    416: "range_not_satisfiable",
    422: "validation_error",
    429: "rate_limited",
    503: "service_unavailable",
}


def _code_for(status_code: int) -> str:
    if status_code in _STATUS_CODES:
        return _STATUS_CODES[status_code]
    try:
        return HTTPStatus(status_code).phrase.lower().replace(" ", "_").replace("-", "_")
    except ValueError:
        return "error"


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(
        request, exc.status_code, exc.code, exc.message, details=exc.details, headers=exc.headers
    )


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    return error_response(request, exc.http_status, exc.code, exc.message, details=exc.details or None)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    return error_response(request, exc.status_code, _code_for(exc.status_code), message, headers=exc.headers)


def _clean_validation_errors(errors: Any) -> list[dict[str, Any]]:
    out = []
    for err in errors:
        entry = {"loc": list(err.get("loc", ())), "msg": str(err.get("msg", "")), "type": err.get("type", "")}
        out.append(entry)
    return out


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = _clean_validation_errors(exc.errors())
    first = details[0] if details else {"loc": [], "msg": "invalid request"}
    where = ".".join(str(p) for p in first["loc"])
    return error_response(
        request,
        422,
        "validation_error",
        f"{where}: {first['msg']}" if where else first["msg"],
        details=details,
    )


async def _data_error(request: Request, exc: Exception) -> JSONResponse:
    """A value the database cannot store (NUL characters, out-of-range numbers...): the client's
    input, not a server fault."""
    log.info(
        "rejected input on %s %s: %s",
        request.method,
        request.url.path,
        type(getattr(exc, "orig", exc)).__name__,
    )
    return error_response(request, 422, "invalid_input", "a value in the request cannot be stored")


async def _integrity_error(request: Request, exc: Exception) -> JSONResponse:
    """A constraint the repositories did not pre-check (typically a concurrent write)."""
    log.info("constraint violation on %s %s: %s", request.method, request.url.path, getattr(exc, "orig", exc))
    return error_response(request, 409, "conflict", "the change conflicts with the current state; retry")


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error(
        "unhandled error on %s %s (request_id=%s)",
        request.method,
        request.url.path,
        request_id_of(request),
        exc_info=exc,
    )
    return error_response(request, 500, "internal_error", "internal server error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(Exception, _unexpected)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": desc}
    for code, desc in {
        401: "Missing or invalid bearer token",
        404: "Not found (or not yours)",
        422: "Validation error",
    }.items()
}
"""Declared on every router so the OpenAPI document lists the error body."""


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the given extra error codes (on top of ERROR_RESPONSES)."""
    described = {
        400: "Bad request",
        409: "Conflict with the current state",
        413: "Request body too large",
        416: "Range not satisfiable",
        429: "Rate limited (see Retry-After)",
        503: "A backing service is unavailable",
    }
    return {code: {"model": ErrorBody, "description": described.get(code, "Error")} for code in codes}
