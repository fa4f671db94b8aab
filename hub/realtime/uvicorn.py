"""uvicorn's sans-I/O WebSocket protocol, lighter per idle socket.

Production runs ``uvicorn --ws hub.realtime.uvicorn:SlimWebSocketProtocol``
(``compose.yaml``, ``Dockerfile``, ``scripts/topology.py``'s
``UVICORN_OPTIONS``; docs/decisions/0003). uvicorn's ``Config`` imports a
``--ws`` value that is not one of its own names (``auto``, ``websockets``,
``websockets-sansio``, ...) as ``module:attribute``.

:class:`SlimWebSocketProtocol` is uvicorn's ``WebSocketsSansIOProtocol``
(``--ws websockets-sansio``) with two changes, found with tracemalloc on one
uvicorn process holding idle authenticated hub sockets (bench S1: about
42 kB per socket, against 15.4 kB for the raw ``websockets`` floor):

1. **Lighter queue and event.** uvicorn gives each socket an
   ``asyncio.Queue`` for ``receive()`` (four deques, about 3.3 kB) and an
   ``asyncio.Event`` ``writable`` for backpressure (a deque, about 0.9 kB).
   :class:`~hub.realtime.waiters.SlimQueue` is a list with a read index
   and a future only while ``receive()`` waits;
   :class:`~hub.realtime.waiters.SlimEvent` keeps its waiters' futures
   only while someone waits. Together: 3.6 kB less per socket.
2. **Nothing of the handshake is kept after an accept.** uvicorn keeps the
   handshake's ``Request`` and ``Response`` (headers included) on the
   protocol for the socket's lifetime, and the scope's ``headers`` list.
   Once the accepted handshake's response is written (uvicorn then starts
   the keepalive: the hook is ``start_keepalive``, not ``send``, which
   every message goes through), :class:`SlimWebSocketProtocol` drops
   ``request`` and ``response`` and empties ``scope["headers"]`` (in place:
   every copy of the scope made by middleware shares that list).
   3.0 kB less per socket. The app still sees every header until it
   accepts (the hub checks the Origin and reads the session cookie during
   the handshake, and no header after it).
3. **Connection lines on their own logger.** uvicorn logs
   ``"WebSocket /ws/" [accepted]`` and the sans-I/O protocol of
   ``websockets`` "connection open" and "connection closed", at INFO for
   every socket, through ``uvicorn.error`` (``--no-access-log`` does not
   cover them): 20,000 lines in a reconnect storm of 10,000 sockets, 4 % of
   its samples (bench S5). Both log through :data:`CONNECTION_LOGGER`
   (``hub.connections``) instead, which the settings' ``LOGGING`` keeps at
   WARNING: errors (an exception in the application, an invalid frame) still
   show.

4. **Several frames, one write.** :meth:`SlimWebSocketProtocol.send_texts`
   frames a list of texts (and a close frame after them) and writes them to
   the transport at once: one ``write`` system call where uvicorn's ``send``
   makes one per message. On loopback each write costs the sender the whole
   TCP path to the receiver (8.7 % of a reconnect storm's samples at 2,000
   sockets were that line of ``send``); a ``resume`` replaying 17 events is
   now one write instead of 18 (decision 0003, addendum).

5. **No message over** ``HUB_WS_MAX_BYTES`` **is read.** uvicorn reads a
   message of up to ``--ws-max-size`` (16 MiB by default) into memory before
   the application sees it and can refuse it (issue 13: 20 sockets sending
   15 MiB frames took 470 MB). The command lines pass ``--ws-max-size``
   (``UVICORN_OPTIONS``), and this class also holds the ``websockets``
   connection to the settings' ``HUB_WS_MAX_BYTES`` whatever the command
   line says (the smaller of the two): a frame whose header announces more is
   refused from that header, before its payload is read, with close code
   1009 (message too big), as a fragmented message once its fragments pass
   the limit.

6. **A frame made once, written to every socket.** The fan-out frames each
   event once per process (:func:`hub.realtime.fanout.text_frame`) and
   :meth:`SlimWebSocketProtocol.write_frame` writes those same bytes to the
   transport, where uvicorn's ``send`` would build a ``Frame``, serialize
   and join it again for each socket (issue 17; bench S2). Only where the
   bytes are the ones ``send`` would write: an open socket with no extension
   (permessage-deflate compresses per socket) whose transport is writable;
   elsewhere the caller takes ``send``.

Everything else is uvicorn's: framing of everything but the fan-out's events, ``receive()`` order (messages in the
order uvicorn queues them, read paused while one is queued), close
handling, keepalive pings, ``pause_writing``/``resume_writing`` waking
``send``. The protocol object is still ``send``'s ``__self__`` with its
``transport`` (``hub.realtime.base._transport_of``).

Written against uvicorn 0.54.0 (websockets 17.4); ``pyproject.toml`` pins
``uvicorn>=0.54,<0.55``. ``__init__`` sets uvicorn 0.54's attributes itself
(issue 17: uvicorn's made two ``logging.getLogger`` calls, a
permessage-deflate factory, an ``asyncio.Queue`` and an ``asyncio.Event``
for every socket); ``tests/test_uvicorn_ws.py`` checks that a new socket of
this class has every attribute of uvicorn's, with the same values but for
those changed above, so a uvicorn that adds or renames one fails there
before a socket breaks. It also runs the same behaviour checks on uvicorn's
class and on this one. ``_drop_handshake`` only drops what it finds.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any, Literal

from uvicorn.config import Config
from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import (
    WebSocketsSansIOProtocol,
)
from uvicorn.server import ServerState
from websockets.exceptions import InvalidState
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory
from websockets.protocol import State
from websockets.server import ServerProtocol

from hub.realtime.waiters import SlimEvent, SlimQueue

__all__ = ["SlimWebSocketProtocol"]

WRITTEN_FOR_UVICORN = "0.54.0"

# The per-connection lines of the websockets protocol (see 3. above).
CONNECTION_LOGGER = logging.getLogger("hub.connections")


@functools.cache
def _options(config: Config) -> tuple[list[Any], int | None]:
    """The extensions and message size limit of ``config``'s sockets: what
    uvicorn 0.54 builds for each socket, made once (the permessage-deflate
    factory only holds its settings; each socket negotiates its own
    extension from it). The limit is the smaller of ``--ws-max-size`` and
    the settings' ``HUB_WS_MAX_BYTES`` (see 5. above)."""
    extensions: list[Any] = []
    if config.ws_per_message_deflate:
        extensions = [
            ServerPerMessageDeflateFactory(
                server_max_window_bits=12,
                client_max_window_bits=12,
                compress_settings={"memLevel": 5},
            )
        ]
    max_size = config.ws_max_size
    limit = _ws_max_bytes()
    if limit and (max_size is None or max_size > limit):
        max_size = limit
    return extensions, max_size


def _ws_max_bytes() -> int | None:
    """The settings' ``HUB_WS_MAX_BYTES`` (``None`` without Django settings)."""
    from django.conf import settings

    try:
        return settings.HUB_WS_MAX_BYTES
    except Exception:  # settings not configured: uvicorn's own limit
        return None


class SlimWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's ``WebSocketsSansIOProtocol`` with a lighter receive queue and
    ``writable`` event, keeping nothing of the handshake once accepted (see
    the module's docstring)."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        # uvicorn 0.54's __init__, attribute for attribute
        # (tests/test_uvicorn_ws.py compares them), without its per-socket
        # work that does not depend on the socket (issue 17): two
        # logging.getLogger calls (a lock each), the permessage-deflate
        # factory and the size limit (once per config: _options), and the
        # asyncio.Queue and Event this class replaces.
        if not config.loaded:
            config.load()  # pragma: no cover
        extensions, max_size = _options(config)
        self.config = config
        self.app = config.loaded_app
        self.loop = _loop or asyncio.get_event_loop()
        # uvicorn's own lines ('"WebSocket /ws/" [accepted]', errors) and
        # those of the websockets protocol it drives (see 3. above).
        self.logger = CONNECTION_LOGGER
        self.root_path = config.root_path
        self.asgi_version = config.asgi_version
        self.app_state = app_state

        # Shared server state
        self.connections = server_state.connections
        self.tasks = server_state.tasks
        self.default_headers = server_state.default_headers

        # Connection state
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.server: tuple[str, int | None] | None = None
        self.client: tuple[str, int] | None = None
        self.scheme: Literal["wss", "ws"] = None  # type: ignore[assignment]

        # WebSocket state
        self.queue = SlimQueue()  # type: ignore[assignment]
        self.handshake_initiated = False
        self.handshake_complete = False
        self.close_sent = False
        self.disconnected = False
        self.close_timer: asyncio.TimerHandle | None = None
        self.close_timeout = 10.0
        self.initial_response: tuple[int, list[tuple[str, str]], bytes] | None = None

        self.conn = ServerProtocol(
            extensions=extensions, max_size=max_size, logger=CONNECTION_LOGGER
        )

        self.read_paused = False
        writable = SlimEvent()
        writable.set()
        self.writable = writable  # type: ignore[assignment]

        # Keepalive state
        self.ping_interval = config.ws_ping_interval
        self.ping_timeout = config.ws_ping_timeout
        self.ping_timer: asyncio.TimerHandle | None = None
        self.pong_timer: asyncio.TimerHandle | None = None
        self.pending_ping_payload: bytes | None = None
        self.ping_sent_at: float = 0.0
        self.last_ping_rtt: float = 0.0

        # Incoming message state
        self.frames: list[bytes] = []
        self.curr_msg_data_type: Literal["text", "bytes"] = "bytes"

    async def send_texts(self, texts: list[str], close_code: int | None = None) -> None:
        """Send ``texts`` as text frames, in order, then a close frame with
        ``close_code`` (RFC 6455 §5.5.1) when it is given: one transport write.

        The same as ``send({"type": "websocket.send", "text": t})`` for each
        text and ``send({"type": "websocket.close", "code": close_code})``,
        with the same checks: it waits while the transport is not writable,
        raises uvicorn's ``ClientDisconnected`` once the client is gone, and on
        a socket that is not open (handshake not answered, close already
        sent) does exactly what those ``send`` calls do, one by one.
        Nothing to send (no text, no close) writes nothing.
        """
        if not texts and close_code is None:
            return
        await self.writable.wait()
        if (
            self.disconnected
            or not self.handshake_complete
            or self.close_sent
            or self.initial_response is not None
        ):
            for text in texts:
                await self.send({"type": "websocket.send", "text": text})
        else:
            try:
                for text in texts:
                    self.conn.send_text(text.encode())
            except InvalidState:
                raise ClientDisconnected() from None
            if close_code is None:
                self.transport.write(b"".join(self.conn.data_to_send()))
                return
            # The close branch of send() writes what data_to_send() holds:
            # these frames, then the close frame.
        if close_code is not None:
            await self.send({"type": "websocket.close", "code": close_code})

    def write_frame(self, frame: bytes) -> bool:
        """Write ``frame``, one text frame serialized for a server with no
        extension (:func:`hub.realtime.fanout.text_frame`), to the transport as is;
        return whether it was written.

        ``send({"type": "websocket.send", "text": ...})`` writes the same
        bytes on such a socket, framing them again (see 6. above). Written
        only when ``send`` would write at once, and these bytes: handshake
        answered, no close sent or received, no extension negotiated, no
        fragmented message in progress, transport writable. Otherwise
        ``False``: the caller sends the text through ``send``, which waits,
        compresses or raises as usual. What the connection holds for the
        network (a pong) is written first, as ``send`` would.
        """
        conn = self.conn
        if (
            self.close_sent
            or self.disconnected
            or not self.handshake_complete
            or self.initial_response is not None
            or conn.extensions
            or conn.state is not State.OPEN
            or conn.expect_continuation_frame
            or not self.writable.is_set()
        ):
            return False
        pending = conn.data_to_send()
        self.transport.write(b"".join([*pending, frame]) if pending else frame)
        return True

    def start_keepalive(self) -> None:
        # uvicorn 0.54 calls this once, from send(), right after writing the
        # accepted handshake's response: the end of the handshake. (A hook
        # here rather than around send(), which every delivery goes through:
        # wrapping it would cost ~0.2 us per message.)
        super().start_keepalive()
        conn = getattr(self, "conn", None)
        if (
            self.handshake_complete
            and not self.close_sent
            and getattr(conn, "state", None) is State.OPEN
        ):
            self._drop_handshake()

    def _drop_handshake(self) -> None:
        # uvicorn 0.54 reads `request`/`response` only in handle_connect and
        # while answering the handshake (send() before handshake_complete);
        # the websockets connection is OPEN once the response is written.
        if getattr(self, "request", None) is not None:
            self.request = None  # type: ignore[assignment]
        if getattr(self, "response", None) is not None:
            self.response = None  # type: ignore[assignment]
        scope = getattr(self, "scope", None)
        if isinstance(scope, dict):
            headers = scope.get("headers")
            if isinstance(headers, list):
                headers.clear()
            elif headers:
                scope["headers"] = []
