"""Background tasks of delivery (django-tasks, database backend).

Enqueued inside the writing transaction where they follow an event (so an
event and its delivery task commit or vanish together) and run by
``manage.py db_worker``; the periodic ones are called by
``manage.py run_scheduler`` every minute.
"""

from django_tasks import task

# The sending modules are imported when a task runs: enqueueing (inside every
# domain action's transaction) needs none of aiohttp, aiosmtplib or jinja.


@task()
def plan_event(event_ids: list[int]) -> dict:
    """Plan the deliveries of events (see :func:`hub.delivery.planning.plan_events`)."""
    from hub.delivery import planning

    return planning.plan_events(event_ids)


@task()
def withdraw(user_id: int, tags: list[str]) -> int:
    """Close ``tags`` on the user's devices (:func:`hub.delivery.pushing.withdraw`)."""
    from hub.delivery import pushing

    return pushing.withdraw(user_id, tags)


@task()
def send_pushes(delivery_ids: list[int]) -> dict:
    """Send push deliveries (:func:`hub.delivery.pushing.deliver`)."""
    from hub.delivery import pushing

    return pushing.deliver(delivery_ids)


@task()
def send_emails(send_ids: list[int]) -> dict:
    """Send ledger e-mails (:func:`hub.delivery.emailing.send`)."""
    from hub.delivery import emailing

    return emailing.send(send_ids)


def periodic() -> dict:
    """The scheduler's minute: release quiet-hour pushes, recover dead
    workers' mails, create due digests. Returns counts for the log."""
    from hub.delivery import emailing, pushing

    return {
        "released": pushing.release_held(),
        "recovered": emailing.recover(),
        "digests": len(emailing.schedule_digests()),
    }


def plan_on_append(event, rows: list) -> None:
    """Queue delivery outside the app (push, e-mail) in the same transaction.

    Subscribed to the log (:func:`hub.subscribers.in_transaction`, in
    :mod:`hub.delivery.apps`): the task row commits with the events (an
    outbox): no event is written without its delivery being planned, and a
    rollback drops both.
    """
    if type(event).category:
        plan_event.enqueue([row.pk for row in rows])
    withdrawn = event.withdraws()
    if withdrawn:
        user_id, tag = withdrawn
        withdraw.enqueue(user_id, [tag])
