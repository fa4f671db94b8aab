"""Template helpers of the delivery pages and of ``base.html``.

- ``{% push_config as config %}``: what ``static/hub/push.js`` needs on every
  page to notice a VAPID key rotation (one small query, no key created).
- ``{{ subscription.user_agent|device_name }}``: "Chrome · Android".
"""

import re

from django import template
from django.urls import reverse
from django.utils.translation import get_language

from hub.delivery.models import VapidKey

register = template.Library()

# (pattern, name), first match wins: Edge and Opera say "Chrome" too.
BROWSERS = [
    (r"Edg(e|A|iOS)?/", "Edge"),
    (r"OPR/|Opera", "Opera"),
    (r"SamsungBrowser/", "Samsung Internet"),
    (r"Firefox/|FxiOS/", "Firefox"),
    (r"Chrome/|CriOS/|Chromium/", "Chrome"),
    (r"Safari/", "Safari"),
]
SYSTEMS = [
    (r"Android", "Android"),
    (r"iPhone|iPad|iPod", "iOS"),
    (r"Windows", "Windows"),
    (r"Mac OS X|Macintosh", "macOS"),
    (r"CrOS", "ChromeOS"),
    (r"Linux", "Linux"),
]


def worker_url() -> str:
    """Return ``/sw.js?lang=<language>``: the worker speaks the language of the
    page that registered it, and every page registers this same URL."""
    return f"{reverse('delivery:service_worker')}?lang={get_language()}"


@register.simple_tag
def push_config() -> dict:
    """Return ``{"key", "worker", "subscribe", "unsubscribe"}`` for push.js.

    ``key`` is the newest active VAPID public key, "" when none exists yet
    (then no browser can hold a subscription to compare with it).
    """
    key = VapidKey.objects.filter(active=True).values_list("public_key", flat=True)
    return {
        "key": key.first() or "",
        "worker": worker_url(),
        "subscribe": reverse("delivery:subscribe"),
        "unsubscribe": reverse("delivery:unsubscribe_push"),
    }


@register.filter
def device_name(user_agent: str) -> str:
    """Return "browser · system" read from a User-Agent, or "" if unknown."""
    user_agent = user_agent or ""
    browser = next((n for p, n in BROWSERS if re.search(p, user_agent)), "")
    system = next((n for p, n in SYSTEMS if re.search(p, user_agent)), "")
    return " · ".join(part for part in (browser, system) if part)
