"""School-life staff read the homework notebook of their orgs: the "Vie
scolaire" group (``roster.0003``) gets ``homework.view_homework``, which
:func:`core.homework.access.readable_classes` asks of staff
(``core.roster.access.staff_orgs``). Also listed in
``core.roster.access.SCHOOL_LIFE_PERMISSIONS``."""

from django.db import migrations

from core.roster.grants import school_life_grant


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("roster", "0003_school_life_staff_group"),
        ("homework", "0001_initial"),
    ]

    operations = [school_life_grant("homework", "view_homework")]
