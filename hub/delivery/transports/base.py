"""What every transport promises: ``send()`` delivers or raises DeliveryError.

Modelled on healthchecks' ``Transport.notify`` and ``TransportError``: the
transport knows the protocol's answer (an HTTP status, an SMTP reply), the
caller knows the rows and the retry budget. The error is the only thing
that crosses between them, so the retry policy (:mod:`hub.delivery.retry`)
never reads a status code.
"""

from abc import ABC, abstractmethod
from datetime import timedelta
from typing import Any, Self

REASON_LENGTH = 300  # characters (Delivery.reason)


class DeliveryError(Exception):
    """A message that did not get through.

    ``permanent``: trying the same message again cannot succeed (a refused
    address, an unsubscribed browser, a message that may already have been
    delivered and must not be sent twice). ``retry_after``: how long the
    other side asked us to wait (``Retry-After``), ``None`` when it did not
    say: the retry policy then backs off on its own. ``reason`` is for the
    delivery log (a transport keeps it under :data:`REASON_LENGTH`
    characters when the log is a ``Delivery.reason``).
    """

    def __init__(
        self,
        reason: str,
        *,
        permanent: bool,
        retry_after: timedelta | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent
        self.retry_after = retry_after


class Transport(ABC):
    """One delivery channel; use as ``async with`` so connections are pooled.

    Opening the context opens nothing costly by itself (connections open on
    first use and stay open until exit): a worker opens one transport per
    batch and sends every message of the batch through it.
    """

    channel: str  # "push", "email": the Delivery channel it serves

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    @abstractmethod
    async def send(self, message: Any) -> Any:
        """Hand ``message`` over; raise :class:`DeliveryError` if it was not."""
