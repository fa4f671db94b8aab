"""The client's address, for the audit log, throttles and socket caps.

One definition: ``client_ip(request_or_scope)``. ``X-Forwarded-For`` is a
header anyone can send, so it is read only as far as our own proxies wrote
it: with ``TRUSTED_PROXY_COUNT = n`` (the reverse proxies in front of the
app, each appending the address it saw, as nginx's
``$proxy_add_x_forwarded_for`` does) the client is the n-th address from the
right; whatever a client put to the left of it is ignored. With
``TRUSTED_PROXIES`` set (addresses or networks), the header is read only when
the socket's peer is one of them. Without a proxy count (the default) the
header is ignored and the socket's peer address is the client.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings


def client_ip(request_or_scope) -> str | None:
    """Return the client address of a Django request or an ASGI scope.

    ``None`` when the server gives no peer address (a Unix socket, a test).
    """
    peer, forwarded = _peer_and_forwarded(request_or_scope)
    peer = _address(peer)
    count = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0) or 0)
    if count <= 0 or not forwarded:
        return peer
    proxies = _networks(tuple(getattr(settings, "TRUSTED_PROXIES", ()) or ()))
    if proxies and not _within(peer, proxies):
        return peer
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    if len(hops) < count:
        return peer
    return _address(hops[-count]) or peer


def _peer_and_forwarded(source) -> tuple[str | None, str]:
    meta = getattr(source, "META", None)
    if meta is not None:
        return meta.get("REMOTE_ADDR"), meta.get("HTTP_X_FORWARDED_FOR", "")
    client = source.get("client") or (None, None)
    values = [
        value.decode("latin1")
        for name, value in source.get("headers", ())
        if name.lower() == b"x-forwarded-for"
    ]
    return client[0], ", ".join(values)


def _address(value: str | None) -> str | None:
    """``value`` as a canonical IP address (port and brackets removed), or None."""
    if not value:
        return None
    value = value.strip()
    if value.startswith("["):  # [IPv6]:port
        value = value[1 : value.find("]")] if "]" in value else value
    elif value.count(":") == 1:  # IPv4:port
        value = value.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


@lru_cache(maxsize=8)
def _networks(values: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(value.strip(), strict=False) for value in values)


def _within(address: str | None, networks: tuple) -> bool:
    if address is None:
        return False
    ip = ipaddress.ip_address(address)
    return any(ip.version == net.version and ip in net for net in networks)
