from django.apps import AppConfig


class RosterConfig(AppConfig):
    name = "core.roster"
    label = "roster"
    verbose_name = "Roster"

    def ready(self) -> None:
        from core.files import connect_file_deletion

        # Every app's models are loaded by now: connect those with files.
        connect_file_deletion()
