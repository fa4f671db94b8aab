"""The data migration each app writes to give school-life staff its
permissions: the "Vie scolaire" group (``roster.0003``) gets them, and
``core.roster.access.SCHOOL_LIFE_PERMISSIONS`` lists them.

An app's migration is one line::

    operations = [school_life_grant("agenda", "add_agendaentry")]

Permissions are made after migrations (``post_migrate``): the grant makes
its app's permissions first. Reversing it takes them back from the group.
Only historical models (``apps``) are used, as a migration must.
"""

from django.db import migrations

SCHOOL_LIFE_GROUP = "Vie scolaire"


def school_life_grant(app_label: str, *codenames: str) -> migrations.RunPython:
    """A ``RunPython`` giving the group ``app_label``'s ``codenames``."""

    def grant(apps, schema_editor):
        from django.contrib.auth.management import create_permissions

        app_config = apps.get_app_config(app_label)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
        Group = apps.get_model("auth", "Group")
        Permission = apps.get_model("auth", "Permission")
        group, _ = Group.objects.get_or_create(name=SCHOOL_LIFE_GROUP)
        group.permissions.add(
            *Permission.objects.filter(
                content_type__app_label=app_label, codename__in=codenames
            )
        )

    def revoke(apps, schema_editor):
        Group = apps.get_model("auth", "Group")
        Permission = apps.get_model("auth", "Permission")
        group = Group.objects.filter(name=SCHOOL_LIFE_GROUP).first()
        if group:
            group.permissions.remove(
                *Permission.objects.filter(
                    content_type__app_label=app_label, codename__in=codenames
                )
            )

    return migrations.RunPython(grant, revoke)
