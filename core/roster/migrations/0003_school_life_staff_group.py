"""The "Vie scolaire" group: the permissions of school-life staff.

Staff views decide by role and explicit permission, per org
(:func:`core.roster.access.staff_orgs`); this group holds the permissions
school-life staff need, and every existing school-life staff member
(``role = administrator``) joins it, so nobody loses access on upgrade.
"""

from django.db import migrations

GROUP = "Vie scolaire"
PERMISSIONS = (
    "attendance.view_attendancerecord",
    "attendance.view_rollcall",
    "attendance.view_excuse",
    "attendance.change_excuse",
    "attendance.view_missingrollcall",
    "delivery.view_notification",
    "delivery.view_delivery",
    "messaging.view_report",
    "messaging.change_report",
)


def create_group(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are made after migrations (post_migrate): make them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    User = apps.get_model("roster", "User")
    group, _ = Group.objects.get_or_create(name=GROUP)
    for name in PERMISSIONS:
        app_label, codename = name.split(".")
        group.permissions.add(
            Permission.objects.get(
                content_type__app_label=app_label, codename=codename
            )
        )
    for user in User.objects.filter(role="administrator"):
        user.groups.add(group)


def remove_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("roster", "0002_sources_and_history"),
        ("attendance", "0003_verbose_names"),
        ("delivery", "0001_initial"),
        ("messaging", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_group, remove_group)]
