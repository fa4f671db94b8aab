from django.apps import AppConfig


class GradesConfig(AppConfig):
    name = "core.grades"
    label = "grades"
    verbose_name = "Grades"
