"""School-life staff read class documents: the "Vie scolaire" group gets
``documents.view_item`` (``core.documents.access.VIEW_PERMISSION``).

Without it, staff reads of documents are scoped by
``core.roster.access.staff_orgs`` and a staff account holding no
permission reads nothing; the group (made by ``roster.0003``) keeps the
school-life staff's access on upgrade.
"""

from django.db import migrations

from core.roster.grants import school_life_grant


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("documents", "0001_initial"),
    ]

    operations = [school_life_grant("documents", "view_item")]
