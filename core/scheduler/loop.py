"""The loop of the periodic scheduler and the jobs it runs, in order."""

import logging
import time

from django.db import close_old_connections

from core.agenda.actions import scheduled_jobs as agenda_jobs
from core.attendance.actions import flag_missing_roll_calls
from core.homework.actions import scheduled_jobs as homework_jobs
from core.privacy.retention import scheduled_purge
from core.schoollife.actions import scheduled_jobs as schoollife_jobs
from hub.delivery.tasks import periodic as deliver_periodic
from hub.retention import purge_old_events

logger = logging.getLogger(__name__)


def scheduler_loop(interval: float, stop=None) -> None:
    """Run the periodic jobs every ``interval`` seconds until ``stop`` is set.

    Jobs: flag lessons whose roll call is missing 15 minutes after they
    began; publish planned homework and send the evening homework
    reminders (:func:`core.homework.actions.scheduled_jobs`); publish planned
    school-life notices (:func:`core.schoollife.actions.scheduled_jobs`);
    cancel void meeting bookings and remind booked meetings
    (:func:`core.agenda.actions.scheduled_jobs`); drop stream events past
    their retention; release pushes held for
    quiet hours, settle mails of dead workers, create due digests
    (:func:`hub.delivery.tasks.periodic`); apply the retention policy of
    every other kind, hourly (:func:`core.privacy.retention.scheduled_purge`,
    docs/privacy.md). Errors are logged and the loop
    goes on.
    """
    while stop is None or not stop.is_set():
        close_old_connections()
        for job in (
            flag_missing_roll_calls,
            homework_jobs,
            schoollife_jobs,
            agenda_jobs,
            purge_old_events,
            scheduled_purge,
            deliver_periodic,
        ):
            try:
                done = job()
                if done and (not isinstance(done, dict) or any(done.values())):
                    logger.info("%s: %s", job.__name__, done)
            except Exception:
                logger.exception("scheduler job %s failed", job.__name__)
        if stop is None:
            time.sleep(interval)
        else:
            stop.wait(interval)
