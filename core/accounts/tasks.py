"""Background work of the accounts: the new-device e-mail.

Enqueued (django-tasks, ``manage.py db_worker``) when a login's transaction
commits (:func:`core.accounts.sessions.record_login`), so a slow or absent
mail server never holds a login up.
"""

import datetime as dt
import logging

from django_tasks import task

from core.accounts import mail
from core.accounts.browsers import describe
from core.roster.models import User

logger = logging.getLogger(__name__)


@task()
def send_new_device_email(user_id: int, at: str, user_agent: str) -> dict:
    """E-mail ``user_id`` that their account was logged in to at ``at``
    (ISO) from a browser it was not before; return ``{"status": ...}``.

    Sent once: a failure is logged (the class of the error only) and not
    retried, the login being long done. The task never raises.
    """
    user = User.objects.filter(pk=user_id, is_active=True).exclude(email="").first()
    if user is None:
        return {"status": "skipped"}
    browser, system = describe(user_agent)
    message = mail.new_device_message(
        user=user, at=dt.datetime.fromisoformat(at), browser=browser, system=system
    )
    try:
        with mail.connection() as connection:
            connection.send_messages([message])
    except Exception as error:  # smtplib and socket errors alike
        logger.warning(
            "new-device e-mail to user %s failed: %s", user.pk, type(error).__name__
        )
        return {"status": "failed"}
    return {"status": "sent"}
