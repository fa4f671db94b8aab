"""Append to the audit log; the only writer of ``AuditEntry``.

Every write and every staff read of a minor's data lands here (README,
"Audit log"). The client's address comes from the request being served
(``core.audit.middleware.AuditMiddleware`` keeps it for the request's
duration), so actions need not pass it down.
"""

from contextvars import ContextVar

from core.audit.models import AuditEntry

# The address of the client whose request is being served (None outside one).
request_ip: ContextVar[str | None] = ContextVar("audit_request_ip", default=None)


def record(
    *,
    actor,
    action: str,
    target_type: str,
    target_id: int,
    org_id: int | None = None,
    ip: str | None = None,
    subject_id: int | None = None,
    detail: dict | None = None,
    actor_name: str | None = None,
) -> AuditEntry:
    """Append one entry: ``actor`` (a user or None) did ``action`` to a target.

    ``action`` is dotted, e.g. ``message.sent``; ``subject_id`` is the pupil
    (or other person) whose data it concerns, when there is one; ``ip``
    defaults to the current request's client address; ``actor_name``
    names an actor who is no user (default ``system``). ``detail`` must not
    hold message text nor secrets (the log is readable by staff and is not
    encrypted).
    """
    if actor is not None:
        actor_name = actor.get_username()
    return AuditEntry.objects.create(
        actor_id=getattr(actor, "pk", None),
        actor_name=(actor_name or "system")[:150],
        org_id=org_id,
        action=action,
        target_type=target_type,
        target_id=target_id,
        subject_id=subject_id,
        ip=ip or request_ip.get(),
        detail=detail or {},
    )


def record_read(
    *,
    actor,
    action: str,
    target_type: str,
    target_id: int,
    org_ids=(),
    subject_id: int | None = None,
    detail: dict | None = None,
) -> None:
    """Log that ``actor`` read a minor's data: one entry per org it belongs to.

    A page listing pupils of several schools is logged once in each, so each
    school's staff see it in their own log; with no org, one entry.
    """
    for org_id in sorted(set(org_ids)) or [None]:
        record(
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
            org_id=org_id,
            subject_id=subject_id,
            detail=detail,
        )
