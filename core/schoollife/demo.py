"""School-life notices of the demo school (``core.demo.school`` calls
:func:`seed_demo`): a school-wide notice, an outing to authorise for 4e
guardians (some already answered), a menu choice, one planned."""

import datetime as dt

from django.utils import timezone

from core.roster.models import Org, User
from core.schoollife import actions
from core.schoollife.models import Notice


def seed_demo(org: Org, cpe: User) -> list[Notice]:
    """Publish the demo notices of ``org`` as ``cpe``; a few 4e guardians
    acknowledge the outing."""
    now = timezone.now()
    made = [
        actions.publish_notice(
            author=cpe,
            org=org,
            title="Exercice d’évacuation jeudi matin",
            body="Un exercice incendie aura lieu jeudi entre 9 h et 10 h.\n"
            "Aucune action n’est attendue des familles.",
            audience={},
        ),
        actions.publish_notice(
            author=cpe,
            org=org,
            title="Sortie au musée des Beaux-Arts (4e)",
            body="Les élèves de 4e visiteront le musée des Beaux-Arts **vendredi 6 février**.\n\n"
            "- départ à 8 h 15 devant le collège ;\n"
            "- retour vers 12 h ;\n"
            "- prévoir un pique-nique.\n\n"
            "Merci d’autoriser la sortie avant mercredi.",
            audience={"roles": ["guardian"], "levels": ["4e"]},
            requires_ack=True,
            reply_kind=Notice.ReplyKind.YES_NO,
        ),
        actions.publish_notice(
            author=cpe,
            org=org,
            title="Repas du voyage de fin d’année (5e C)",
            body="Merci d’indiquer le repas souhaité pour votre enfant.",
            audience={"roles": ["guardian"], "levels": ["5e"]},
            reply_kind=Notice.ReplyKind.CHOICE,
            reply_options=["Repas standard", "Repas sans viande", "Pique-nique fourni"],
        ),
        actions.publish_notice(
            author=cpe,
            org=org,
            title="Réunion parents-professeurs",
            body="Les rendez-vous seront ouverts la semaine prochaine.",
            audience={"roles": ["guardian"]},
            publish_at=now + dt.timedelta(days=1),
        ),
    ]
    outing = made[1]
    for index, guardian in enumerate(
        User.objects.filter(
            role=User.Role.GUARDIAN,
            children__enrollments__school_class__org=org,
            children__enrollments__school_class__title__startswith="4e",
        )
        .exclude(username="parent")
        .distinct()
        .order_by("username")[:5]
    ):
        actions.acknowledge(
            notice=outing, user=guardian, reply="no" if index == 4 else "yes"
        )
    return made
