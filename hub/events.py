"""The base of every event kind, and the registry the hub validates against.

Each domain module declares its kinds in its own ``events.py`` as subclasses of
:class:`HubEvent` (Zulip's ``event_types.py`` style): a class attribute
``kind`` (``"attendance.absence"``), a field ``op`` restricted to the
operations that kind has, and typed payload fields. Extra fields are forbidden,
so a typo in an action fails in its tests rather than reaching a browser.
"""

from typing import ClassVar

from pydantic import BaseModel, ConfigDict

_REGISTRY: dict[str, type["HubEvent"]] = {}


class UnknownEventKind(LookupError):
    """Raised when an event kind was never declared."""


class HubEvent(BaseModel):
    """One event: ``kind`` (class attribute), ``op`` and payload fields.

    ``notify`` marks kinds that appear in the notification centre.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ClassVar[str]
    notify: ClassVar[bool] = True
    op: str

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        kind = cls.__dict__.get("kind")
        if kind:
            _REGISTRY[kind] = cls

    def payload(self) -> dict:
        """Return the JSON-ready payload (every field but ``op``)."""
        return self.model_dump(mode="json", exclude={"op"})


def event_class(kind: str) -> type[HubEvent]:
    """Return the class declared for ``kind``; raise :class:`UnknownEventKind`."""
    try:
        return _REGISTRY[kind]
    except KeyError:
        raise UnknownEventKind(kind) from None


def notifying_kinds() -> list[str]:
    """Return the kinds shown in the notification centre."""
    return sorted(kind for kind, cls in _REGISTRY.items() if cls.notify)
