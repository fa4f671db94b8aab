"""Schemas shared by every router: the error body and its status codes."""

from typing import Any

from ninja import Schema
from ninja.errors import HttpError


class Error(Schema):
    """Every error: a stable ``error`` code, and a ``detail`` for people (a
    sentence, or the list of invalid fields for ``invalid_request``)."""

    error: str
    detail: Any


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
