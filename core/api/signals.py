"""A password change revokes the user's API tokens (as app passwords go
with the password they were made under): whoever learnt the old password
and made a token keeps no way in."""

from functools import partial

from django.db import transaction
from django.db.models.signals import pre_save
from django.dispatch import receiver

from core.api.tokens import revoke_all
from core.roster.models import User
from core.roster.socket_access import account_change


@receiver(pre_save, sender=User)
def revoke_tokens_on_password_change(sender, instance: User, **kwargs) -> None:
    if account_change(instance, kwargs.get("update_fields")) == "password_changed":
        transaction.on_commit(partial(revoke_all, instance.pk, "password_changed"))
