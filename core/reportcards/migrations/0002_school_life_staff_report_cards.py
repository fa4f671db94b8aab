"""School-life staff write the head teacher's appraisal, publish report
cards and download them in their orgs: the "Vie scolaire" group
(``roster.0003``) gets ``reportcards.view_reportcard`` and
``reportcards.add_publication``, which :mod:`core.reportcards.access` asks
of staff (``core.roster.access.staff_orgs``). Also listed in
``core.roster.access.SCHOOL_LIFE_PERMISSIONS``."""

from django.db import migrations

from core.roster.grants import school_life_grant


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("roster", "0003_school_life_staff_group"),
        ("reportcards", "0001_initial"),
    ]

    operations = [school_life_grant("reportcards", "view_reportcard", "add_publication")]
