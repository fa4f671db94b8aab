"""The eight components of the "socle commun de connaissances, de
compétences et de culture" (décret n° 2015-372, BO n° 17 du 23 avril 2015),
as the collège report card (livret scolaire unique) assesses them. Shared by
every school (``org`` empty); a school may add its own skills."""

from django.db import migrations

COMPONENTS = [
    ("D1.1", "Comprendre, s'exprimer en utilisant la langue française à l'oral et à l'écrit"),
    ("D1.2", "Comprendre, s'exprimer en utilisant une langue étrangère et, le cas échéant, une langue régionale"),
    ("D1.3", "Comprendre, s'exprimer en utilisant les langages mathématiques, scientifiques et informatiques"),
    ("D1.4", "Comprendre, s'exprimer en utilisant les langages des arts et du corps"),
    ("D2", "Les méthodes et outils pour apprendre"),
    ("D3", "La formation de la personne et du citoyen"),
    ("D4", "Les systèmes naturels et les systèmes techniques"),
    ("D5", "Les représentations du monde et l'activité humaine"),
]


def seed(apps, schema_editor):
    Skill = apps.get_model("grades", "Skill")
    for code, title in COMPONENTS:
        Skill.objects.get_or_create(org=None, code=code, defaults={"title": title})


def unseed(apps, schema_editor):
    Skill = apps.get_model("grades", "Skill")
    Skill.objects.filter(org=None, code__in=[code for code, _ in COMPONENTS]).delete()


class Migration(migrations.Migration):
    dependencies = [("grades", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
