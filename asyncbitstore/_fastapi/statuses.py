"""The HTTP answer for each of the library's errors."""

from __future__ import annotations

import logging

from fastapi.responses import JSONResponse, Response

from .. import errors

__all__ = ["error_response", "logger", "too_large"]

logger = logging.getLogger("asyncbitstore.fastapi")


def error_response(exc: errors.BitstoreError) -> Response:
    """The HTTP answer for one of the library's errors (see `asyncbitstore.fastapi`)."""
    headers: dict[str, str] = {}
    if isinstance(exc, errors.InvalidURI):
        status, detail = 400, "malformed key" + (f": expected {exc.hint}" if exc.hint else "")
    elif isinstance(exc, errors.InvalidDataFound):
        status, detail = 502, "stored copies failed verification"
    elif isinstance(exc, errors.NotFoundInStore):
        status, detail = 404, "not found"
    elif isinstance(exc, errors.InvalidRange):
        status, detail = 416, "range not satisfiable"
    elif isinstance(exc, errors.NotWritable):
        status, detail, headers = 405, "this service does not take uploads", {"Allow": "GET, HEAD"}
    elif isinstance(exc, errors.StoreFull):
        status, detail = 507, "no room for the blob"
    elif isinstance(exc, errors.StoreNotAvailable):
        status, detail, headers = 503, "storage temporarily unavailable", {"Retry-After": "1"}
    else:
        status, detail = 500, "storage error"
    if status >= 500:
        logger.warning("answering %d: %s", status, exc)
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def too_large(max_size: int) -> Response:
    """The 413 answer to a body longer than ``max_size`` bytes."""
    detail = f"the body is larger than this service takes ({max_size} bytes at most)"
    return JSONResponse({"detail": detail}, status_code=413, headers={"Connection": "close"})
