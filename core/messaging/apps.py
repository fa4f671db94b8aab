from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MessagingConfig(AppConfig):
    name = "core.messaging"
    label = "messaging"
    verbose_name = _("Messaging")

    def ready(self) -> None:
        from core.messaging import events, typing  # noqa: F401
        from core.messaging.actions import leave_conversations_of_departed
        from core.roster.signals import memberships_ended

        def on_memberships_ended(sender, user_ids, **kwargs):
            leave_conversations_of_departed(user_ids)

        memberships_ended.connect(
            on_memberships_ended, weak=False, dispatch_uid="messaging.departed"
        )
