"""Health check for load balancers and compose: ``GET /healthz``."""

from django.db import connection
from django.http import JsonResponse


def healthz(request):
    """Answer 200 ``{"status": "ok"}`` when the database answers, else 503
    (also while the process drains its sockets before stopping)."""
    from hub.lifecycle import draining

    if draining.is_set():
        return JsonResponse({"status": "stopping"}, status=503)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        return JsonResponse({"status": "database unavailable"}, status=503)
    return JsonResponse({"status": "ok"})
