"""School-life staff publish notices for their orgs: the "Vie scolaire"
group (``roster.0003``) gets ``schoollife.add_notice``, which
:func:`core.schoollife.access.publishing_orgs` asks of staff
(``core.roster.access.staff_orgs``). Also listed in
``core.roster.access.SCHOOL_LIFE_PERMISSIONS``."""

from django.db import migrations

from core.roster.grants import school_life_grant


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("roster", "0003_school_life_staff_group"),
        ("schoollife", "0001_initial"),
    ]

    operations = [school_life_grant("schoollife", "add_notice")]
