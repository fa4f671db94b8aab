from django.apps import AppConfig


class AgendaConfig(AppConfig):
    name = "core.agenda"
    label = "agenda"
    verbose_name = "Agenda"

    def ready(self) -> None:
        from core.agenda import events  # noqa: F401
