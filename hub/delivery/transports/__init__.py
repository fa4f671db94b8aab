"""How a notification leaves the hub: one transport per channel.

Each transport (:mod:`.webpush`, :mod:`.email`) is one class whose ``send()``
hands one message to the outside world and raises
:class:`~hub.delivery.transports.base.DeliveryError` when that did not
happen, saying whether trying again could help and when. The batched
``send_many`` of each keeps the pooling that was measured (``bench/``) and
turns those errors into per-message outcomes; what to do next (retry, give
up) is decided once, by :mod:`hub.delivery.retry`.
"""
