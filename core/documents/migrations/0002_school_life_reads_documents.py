"""School-life staff read class documents: the "Vie scolaire" group gets
``documents.view_item`` (``core.documents.access.VIEW_PERMISSION``).

Without it, staff reads of documents are scoped by
``core.roster.access.staff_orgs`` and a staff account holding no
permission reads nothing; the group (made by ``roster.0003``) keeps the
school-life staff's access on upgrade.
"""

from django.db import migrations

GROUP = "Vie scolaire"
APP_LABEL, CODENAME = "documents", "view_item"


def grant(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are made after migrations (post_migrate): make them now.
    app_config = apps.get_app_config(APP_LABEL)
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=GROUP)
    group.permissions.add(
        Permission.objects.get(content_type__app_label=APP_LABEL, codename=CODENAME)
    )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permission = Permission.objects.filter(
        content_type__app_label=APP_LABEL, codename=CODENAME
    ).first()
    group = Group.objects.filter(name=GROUP).first()
    if group is not None and permission is not None:
        group.permissions.remove(permission)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("documents", "0001_initial"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
