"""School-life staff read the grades of their orgs and define their periods:
the "Vie scolaire" group (``roster.0003``) gets ``grades.view_evaluation``
and ``grades.change_period`` (:mod:`core.grades.access`). Also listed in
``core.roster.access.SCHOOL_LIFE_PERMISSIONS``."""

from django.db import migrations

from core.roster.grants import school_life_grant


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("roster", "0003_school_life_staff_group"),
        ("grades", "0002_socle_commun_skills"),
    ]

    operations = [school_life_grant("grades", "view_evaluation", "change_period")]
