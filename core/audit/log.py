"""Append to the audit log; the only writer of ``AuditEntry``."""

from core.audit.models import AuditEntry


def record(
    *,
    actor,
    action: str,
    target_type: str,
    target_id: int,
    org_id: int | None = None,
    ip: str | None = None,
    detail: dict | None = None,
) -> AuditEntry:
    """Append one entry: ``actor`` (a user or None) did ``action`` to a target.

    ``action`` is dotted, e.g. ``message.sent``; ``detail`` must not hold
    message text (the log is readable by staff and is not encrypted).
    """
    return AuditEntry.objects.create(
        actor_id=getattr(actor, "pk", None),
        actor_name=(actor.get_username() if actor is not None else "system")[:150],
        org_id=org_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        ip=ip or None,
        detail=detail or {},
    )
