"""HTTP security headers beyond Django's own: no-store for signed-in pages,
and the parts of the Content-Security-Policy that settings compute.

``admin_inline_style_hashes`` and ``websocket_origins`` run while settings
load: they use the standard library only.
"""

import base64
import hashlib
import re
from pathlib import Path
from urllib.parse import urlsplit


def admin_inline_style_hashes() -> list[str]:
    """CSP hashes of the inline ``<style>`` blocks of Django admin templates.

    Django's admin prints one (``admin/change_list.html``, for lists without
    actions); hashing it from the installed Django lets that one block in and
    no other inline style, and follows Django upgrades.
    """
    import django

    templates = Path(django.__file__).parent / "contrib/admin/templates/admin"
    hashes = []
    for name in ("change_list.html",):
        text = (templates / name).read_text(encoding="utf-8")
        for block in re.findall(r"<style>(.*?)</style>", text, re.DOTALL):
            digest = hashlib.sha256(block.encode("utf-8")).digest()
            hashes.append(f"'sha256-{base64.b64encode(digest).decode()}'")
    return hashes


def websocket_origins(site_url: str) -> list[str]:
    """The WebSocket origin of ``site_url`` (``https://x`` gives ``wss://x``).

    CSP 3 lets ``'self'`` cover the page's own ws/wss origin, but older
    browsers need it named.
    """
    parts = urlsplit(site_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return []
    return [f"{'wss' if parts.scheme == 'https' else 'ws'}://{parts.netloc}"]


class NoStoreForUsersMiddleware:
    """``Cache-Control: no-store`` on every response to a signed-in user
    (and on every server error).

    A page showing a child's absences must not stay in a shared computer's
    browser cache or a proxy's. Static files never get here (WhiteNoise
    answers them earlier); a response that chose its own Cache-Control
    (a file download's ``private, no-store``) keeps it.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.utils.cache import add_never_cache_headers

        response = self.get_response(request)
        if "no-store" in response.get("Cache-Control", ""):
            return response
        if response.status_code >= 500:
            # An error is never cached, and asking who the user is would
            # wait again for a database that may be what just failed.
            add_never_cache_headers(response)
            return response
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            add_never_cache_headers(response)
        return response
