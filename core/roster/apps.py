from django.apps import AppConfig


class RosterConfig(AppConfig):
    name = "core.roster"
    label = "roster"
    verbose_name = "Roster"

    def ready(self) -> None:
        from core.roster import signals  # noqa: F401
