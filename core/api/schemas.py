"""Schemas shared by every router: the error body and its status codes,
the largest id a path or query may name, and the bounds of a date range."""

import datetime as dt
from typing import Any

from ninja import Schema
from ninja.errors import HttpError


class Error(Schema):
    """Every error: a stable ``error`` code, and a ``detail`` for people (a
    sentence, or the list of invalid fields for ``invalid_request``)."""

    error: str
    detail: Any


# The largest id a request may name: beyond a 64-bit id the database driver
# raises instead of finding none, so larger ones are refused as invalid.
MAX_ID = 2**63 - 1

# What any authenticated operation may answer besides its success.
ERRORS = {401: Error, 403: Error, 404: Error, 422: Error}


def answers(ok: Any, status: int = 200) -> dict:
    """An operation's ``response=``: ``ok`` on ``status``, errors as
    :data:`ERRORS`."""
    return {status: ok, **ERRORS}


class ApiError(HttpError):
    """An error a router raises: ``status``, a stable ``code``, a sentence;
    ``retry_after`` (seconds) for a 429."""

    def __init__(
        self, status: int, code: str, message: str, retry_after: int | None = None
    ) -> None:
        super().__init__(status, message)
        self.code = code
        self.retry_after = retry_after


def refused(error: Exception) -> ApiError:
    """409 ``refused``: the domain's rules said no (``str(error)`` says why)."""
    return ApiError(409, "refused", str(error))


def check_range(start: dt.date, end: dt.date, max_days: int) -> None:
    """Raise ``ValueError`` (a 422 from a schema's validator) unless ``start``
    to ``end`` is a range of fewer than ``max_days`` days, in order."""
    if end < start:
        raise ValueError("end is before start")
    if (end - start).days >= max_days:
        raise ValueError(f"a range is at most {max_days} days")


def file_answer(mime: str) -> dict:
    """An operation's ``openapi_extra`` for a download: a file of ``mime``
    on 200 (its ``response=`` is then :data:`ERRORS`)."""
    return {
        "responses": {
            "200": {
                "description": "The file (Content-Disposition: attachment).",
                "content": {mime: {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    }
