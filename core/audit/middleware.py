"""Keep the client's address of the request being served for the audit log."""

from core.audit.ip import client_ip
from core.audit.log import request_ip


class AuditMiddleware:
    """Set ``core.audit.log.request_ip`` for the duration of each request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = request_ip.set(client_ip(request))
        try:
            return self.get_response(request)
        finally:
            request_ip.reset(token)
