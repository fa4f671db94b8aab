"""The base of every event kind, and the registry the hub validates against.

Each domain module declares its kinds in its own ``events.py`` as subclasses of
:class:`HubEvent` (Zulip's ``event_types.py`` style): a class attribute
``kind`` (``"attendance.absence"``), a field ``op`` restricted to the
operations that kind has, and typed payload fields. Extra fields are forbidden,
so a typo in an action fails in its tests rather than reaching a browser.
"""

import datetime
from dataclasses import dataclass
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

_REGISTRY: dict[str, type["HubEvent"]] = {}


class UnknownEventKind(LookupError):
    """Raised when an event kind was never declared."""


@dataclass(frozen=True, slots=True)
class Notice:
    """How an event reads outside the app (push, e-mail, digest).

    ``title`` and ``body`` are plain text (escaped where they are shown),
    ``url`` a path of this site, ``tag`` groups notices a newer one replaces
    (the service worker's notification tag, the push Topic), ``child_id``
    and ``child_name`` the pupil it is about (digests group by child),
    ``org_id`` the school. ``mute_key`` names what a user may mute
    (``conversation:12``); ``urgent`` passes quiet hours; ``silent`` waits
    for the end of the recipient's night even outside quiet hours;
    ``actor_id`` is the user who acted (never told about their own act);
    ``push=False`` keeps the notice off push (notification centre, e-mail
    and digest only, as preferences say).
    """

    title: str
    body: str = ""
    url: str = "/notifications/"
    tag: str = ""
    child_id: int | None = None
    child_name: str = ""
    org_id: int | None = None
    mute_key: str = ""
    urgent: bool = False
    silent: bool = False
    actor_id: int | None = None
    push: bool = True


class HubEvent(BaseModel):
    """One event: ``kind`` (class attribute), ``op`` and payload fields.

    ``notify`` marks kinds that appear in the notification centre;
    ``category`` (a key of :mod:`hub.delivery.categories`) marks kinds that
    are also delivered outside the app, described by :meth:`notice`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ClassVar[str]
    notify: ClassVar[bool] = True
    category: ClassVar[str] = ""
    op: str

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        kind = cls.__dict__.get("kind")
        if kind:
            _REGISTRY[kind] = cls

    def payload(self) -> dict:
        """Return the JSON-ready payload (every field but ``op``)."""
        return self.model_dump(mode="json", exclude={"op"})

    def notice(self, created_at: datetime.datetime) -> Notice | None:
        """Describe this event for push and e-mail, or ``None`` to stay in-app.

        ``created_at`` is when the event was written (aware datetime); kinds
        with a ``category`` override this. Runs in the delivery worker.
        """
        return None

    def withdraws(self) -> tuple[int, str] | None:
        """Return ``(user id, tag)`` whose notifications this event closes.

        Reading a conversation on one device closes its notification on the
        others. ``None`` (the default) withdraws nothing.
        """
        return None


def local_when(iso: str | None, time_zone: str = "Europe/Paris") -> str:
    """Format an ISO 8601 instant as "lun. 19/01 08:00" in ``time_zone``.

    The weekday follows the active language; empty input gives "".
    """
    from zoneinfo import ZoneInfo

    from django.utils.dates import WEEKDAYS_ABBR

    if not iso:
        return ""
    moment = datetime.datetime.fromisoformat(iso).astimezone(ZoneInfo(time_zone))
    day = str(WEEKDAYS_ABBR[moment.weekday()])
    return f"{day}. {moment:%d/%m %H:%M}"


def event_class(kind: str) -> type[HubEvent]:
    """Return the class declared for ``kind``; raise :class:`UnknownEventKind`."""
    try:
        return _REGISTRY[kind]
    except KeyError:
        raise UnknownEventKind(kind) from None


def notifying_kinds() -> list[str]:
    """Return the kinds shown in the notification centre."""
    return sorted(kind for kind, cls in _REGISTRY.items() if cls.notify)
