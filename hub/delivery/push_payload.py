"""What a web push carries: the service worker's JSON, cut to fit, and its Topic.

RFC 8291 §4 allows 3993 bytes of plaintext in the 4096 a push service must
accept (RFC 8030 §7.2); a push that does not fit is cut here, by the hub,
where it knows which members matter, rather than refused by the service.
"""

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from hub.delivery.vapid import b64url

PAYLOAD_LIMIT = 3000  # bytes of JSON; RFC 8291 §4 leaves 3993 after encryption
SHRUNK_LIMIT = 1000  # bytes of JSON, after a push service answered 413
ELLIPSIS = "…"


def _dump(value: Any) -> bytes:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return text.encode("utf-8", "replace")


def build_payload(message: Mapping, limit: int = PAYLOAD_LIMIT) -> bytes:
    """Return ``message`` as compact UTF-8 JSON of at most ``limit`` bytes.

    ``message`` is what the service worker reads, e.g. ``{"type": "show",
    "title", "body", "tag", "url", "child", "school", "ts"}`` or ``{"type":
    "close", "tags": [...]}``. When too long, ``body`` then ``title`` are cut
    on a character boundary and end with "…"; if that is not enough, the
    largest other members are cut (lists keep their first items) or dropped,
    ``type`` last. Never raises, never returns more than ``limit`` bytes
    (``limit`` >= 2). RFC 8291 §4 allows 3993 bytes of
    plaintext in the 4096 a push service must accept (RFC 8030 §7.2); the
    default leaves room, :data:`SHRUNK_LIMIT` is for a service answering 413.
    """
    data = _dump(message)
    if len(data) <= limit:
        return data
    message = dict(message)
    for field in ("body", "title"):
        text = message.get(field)
        if isinstance(text, str) and text:
            message[field] = _longest(message, field, text, limit, _cut_text)
            data = _dump(message)
            if len(data) <= limit:
                return data
    others = [name for name in message if name != "type"]
    others.sort(key=lambda name: len(_dump(message[name])), reverse=True)
    for name in others + [name for name in ("type",) if name in message]:
        value = message[name]
        if isinstance(value, list) and value:
            message[name] = _longest(message, name, value, limit, _cut_list)
        if not message[name] or len(_dump(message)) > limit:
            del message[name]
        data = _dump(message)
        if len(data) <= limit:
            return data
    return data


def _cut_text(text: str, n: int) -> str:
    return text[:n].rstrip().rstrip("\u200d") + ELLIPSIS


def _cut_list(items: list, n: int) -> list:
    return items[:n]


def _longest(message: dict, field: str, value, limit: int, cut):
    """Return ``cut(value, n)`` for the largest ``n`` that fits (``n = 0`` if none)."""
    low, high = 0, len(value) - 1  # the whole value is known not to fit
    while low < high:
        middle = (low + high + 1) // 2
        message[field] = cut(value, middle)
        if len(_dump(message)) <= limit:
            low = middle
        else:
            high = middle - 1
    return cut(value, low)


def topic_for(tag: str) -> str:
    """Return the ``Topic`` (RFC 8030 §5.4) for a notification tag, "" for none.

    A later push with the same topic replaces an undelivered earlier one at
    the push service. The topic travels in clear and a tag may name a
    conversation or a child, so it is a hash: 32 base64url characters of
    SHA-256 (192 bits), the most §5.4 allows.
    """
    if not tag:
        return ""
    return b64url(hashlib.sha256(tag.encode("utf-8")).digest())[:32]
