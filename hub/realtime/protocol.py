"""The socket protocol's fixed numbers: close codes, limits, and the refused
frame (docs/protocol.md)."""

import json

# Close codes: RFC 6455 §7.4.2 leaves 4000-4999 to applications. A frame too
# big would be 1009 (§7.4.1), but Daphne (autobahn) lets a server send only
# 1000 and 3000-4999, so we say it with 4413 (as HTTP's 413).
CLOSE_TOO_BIG = 4413
CLOSE_UNAUTHENTICATED = 4401
CLOSE_SESSION_ENDED = 4403
CLOSE_TOO_MANY_ERRORS = 4429
# The socket did not read fast enough: its unsent bytes passed
# HUB_SEND_BUFFER_BYTES. The client reconnects and resumes from its offsets.
CLOSE_TOO_SLOW = 4408
# Too many sockets open on this server process for the user
# (HUB_MAX_SOCKETS_PER_USER) or the client address (HUB_MAX_SOCKETS_PER_IP).
# The client waits a long back-off before it tries again.
CLOSE_TOO_MANY_SOCKETS = 4409

MAX_STREAMS_PER_FRAME = 200
# Protocol errors a socket may make before it is closed with 4429.
MAX_ERRORS = 20
# Token bucket on client frames: a burst of RATE_BURST frames, then
# RATE_PER_SECOND a second; an empty bucket closes the socket with 4429.
RATE_BURST = 60
RATE_PER_SECOND = 10.0
# Ephemeral frames (typing) relayed per subject at most this often (seconds).
EPHEMERAL_INTERVAL = 2.0
# Events read from the log per query during a replay or gap fill.
REPLAY_BATCH = 200
# What a socket gets before 4503: this process stops, resume elsewhere.
BYE_RESTART = json.dumps({"type": "bye", "reason": "restart"}, separators=(",", ":"))


class ProtocolError(Exception):
    """A frame the server refuses; becomes an ``error`` frame with ``code``.

    ``details`` are extra fields of the frame (``forbidden`` names the
    refused ``streams``).
    """

    def __init__(self, code: str, message: str, **details) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details
