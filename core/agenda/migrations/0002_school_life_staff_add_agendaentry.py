"""School-life staff manage the agenda and evenings of their orgs: the "Vie
scolaire" group (``roster.0003``) gets ``agenda.add_agendaentry``, which
:func:`core.agenda.access.managed_orgs` asks of staff
(``core.roster.access.staff_orgs``). Also listed in
``core.roster.access.SCHOOL_LIFE_PERMISSIONS``."""

from django.db import migrations

GROUP = "Vie scolaire"
PERMISSION = ("agenda", "add_agendaentry")


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are made after migrations (post_migrate): make them now.
    app_config = apps.get_app_config("agenda")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    group.permissions.add(
        Permission.objects.get(
            content_type__app_label=PERMISSION[0], codename=PERMISSION[1]
        )
    )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permission = Permission.objects.filter(
        content_type__app_label=PERMISSION[0], codename=PERMISSION[1]
    ).first()
    group = Group.objects.filter(name=GROUP).first()
    if group and permission:
        group.permissions.remove(permission)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("roster", "0003_school_life_staff_group"),
        ("agenda", "0001_initial"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
