"""The API, version 1 (``/api/v1/``), and its routers.

Adding an area is one module in ``core/api/routers/`` that defines
``router = Router(tags=[...])`` and one line in :data:`ROUTERS` below
(docs/api.md, "Adding a module").
"""

from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from core.api.routers import (
    agenda,
    attendance,
    documents,
    grades,
    homework,
    me,
    messaging,
    notifications,
    reportcards,
    schoollife,
    timetable,
)
from core.api.tokens import TokenRejected

# (URL prefix under /api/v1/, router): one line per area.
ROUTERS = [
    ("me", me.router),
    ("timetable", timetable.router),
    ("attendance", attendance.router),
    ("messaging", messaging.router),
    ("notifications", notifications.router),
    ("homework", homework.router),
    ("documents", documents.router),
    ("grades", grades.router),
    ("reportcards", reportcards.router),
    ("schoollife", schoollife.router),
    ("agenda", agenda.router),
]


class Api(NinjaAPI):
    def create_response(self, request, data, *args, **kwargs):
        response = super().create_response(request, data, *args, **kwargs)
        # A child's absences must not stay in a cache: token requests carry
        # no session, so core.security.NoStoreForUsersMiddleware misses them.
        response["Cache-Control"] = "no-store"
        return response


api = Api(
    title="Hub ENT API",
    version="1",
    description=(
        "The school hub's API for apps. Authenticate with "
        "`Authorization: Bearer <token>` (a personal access token made in "
        "Réglages › Accès API); GET needs the `read` scope, the rest `write`."
    ),
    urls_namespace="api-v1",
    docs_url=None,  # served at /api/docs (core.api.urls)
)

for prefix, router in ROUTERS:
    api.add_router(prefix, router)


def _error(request, status: int, code: str, detail, headers=None):
    response = api.create_response(
        request, {"error": code, "detail": detail}, status=status
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


@api.exception_handler(TokenRejected)
def token_rejected(request, exc: TokenRejected):
    challenge = f'Bearer error="{exc.code}"'
    return _error(
        request, exc.status, exc.code, exc.message, {"WWW-Authenticate": challenge}
    )


@api.exception_handler(AuthenticationError)
def not_authenticated(request, exc):
    return _error(
        request,
        401,
        "not_authenticated",
        "Authentication required: send Authorization: Bearer <token>.",
        {"WWW-Authenticate": "Bearer"},
    )


@api.exception_handler(Http404)
def not_found(request, exc):
    return _error(request, 404, "not_found", "Not found.")


@api.exception_handler(ValidationError)
def invalid_request(request, exc: ValidationError):
    return _error(request, 422, "invalid_request", exc.errors)


@api.exception_handler(HttpError)
def http_error(request, exc: HttpError):
    # ApiError says its code; the other HttpError is ninja's CSRF check.
    code = getattr(exc, "code", "csrf_failed" if exc.status_code == 403 else "error")
    retry_after = getattr(exc, "retry_after", None)
    headers = {"Retry-After": str(retry_after)} if retry_after else None
    return _error(request, exc.status_code, code, str(exc), headers)
