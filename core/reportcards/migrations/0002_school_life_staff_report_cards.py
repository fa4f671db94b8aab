"""School-life staff write the head teacher's appraisal, publish report
cards and download them in their orgs: the "Vie scolaire" group
(``roster.0003``) gets ``reportcards.view_reportcard`` and
``reportcards.add_publication``, which :mod:`core.reportcards.access` asks
of staff (``core.roster.access.staff_orgs``). Also listed in
``core.roster.access.SCHOOL_LIFE_PERMISSIONS``."""

from django.db import migrations

GROUP = "Vie scolaire"
PERMISSIONS = [("reportcards", "view_reportcard"), ("reportcards", "add_publication")]


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are made after migrations (post_migrate): make them now.
    app_config = apps.get_app_config("reportcards")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    for app_label, codename in PERMISSIONS:
        group.permissions.add(
            Permission.objects.get(
                content_type__app_label=app_label, codename=codename
            )
        )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group = Group.objects.filter(name=GROUP).first()
    if group is None:
        return
    for app_label, codename in PERMISSIONS:
        permission = Permission.objects.filter(
            content_type__app_label=app_label, codename=codename
        ).first()
        if permission:
            group.permissions.remove(permission)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("roster", "0003_school_life_staff_group"),
        ("reportcards", "0001_initial"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
