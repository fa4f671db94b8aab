from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "core.messaging"
    label = "messaging"
    verbose_name = "Messaging"

    def ready(self) -> None:
        from core.messaging import events, typing  # noqa: F401
