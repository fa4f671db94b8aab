from django.apps import AppConfig


class RosterConfig(AppConfig):
    name = "core.roster"
    label = "roster"
    verbose_name = "Roster"
