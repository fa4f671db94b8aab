"""Fixtures of the privacy tests: two families whose children share a class,
one of them with a child in a second school, with absences, excuses (with
documents), messages (with attachments), notifications and a device.

The personas are those of ``tests/conftest.py``: Karim (guardian of Léa,
4e B, and of Inès, 5e C of the other school), Sophie (guardian of Hugo,
4e B), teacher Alice (4e B), CPE Paul, Oscar (teacher of the other school).
``smtp_server`` is the delivery tests' real SMTP server; ``mailer`` points
the hub's mail settings at it.
"""

import datetime as dt
from dataclasses import dataclass

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from core.attendance.actions import review_excuse, submit_excuse, take_roll_call
from core.attendance.models import AttendanceRecord, Excuse
from core.messaging.models import Conversation
from hub.delivery.models import PushSubscription
from tests.accounts.conftest import mailer  # noqa: F401 (fixture)
from tests.conftest import make_occurrence
from tests.delivery.conftest import smtp_server  # noqa: F401 (fixture)
from tests.delivery.helpers import run_tasks
from tests.messaging.helpers import PDF, PNG, send, start, upload

NOW = dt.datetime(2026, 1, 19, 9, 5, tzinfo=dt.UTC)
KARIM_PDF = PDF + b"% certificat de Karim\n"
SOPHIE_PNG = PNG + b"certificat-de-sophie"
KARIM_ATTACHMENT = PDF + b"% autorisation de sortie de Karim\n"
SOPHIE_ATTACHMENT = PDF + b"% piece jointe de Sophie\n"


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Store files under the test's own folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@dataclass
class Families:
    school: object
    lesson: object
    other_lesson: object
    karim_excuse: Excuse
    sophie_excuse: Excuse
    ines_excuse: Excuse
    direct: Conversation
    class_wide: Conversation
    push: PushSubscription


def build_families(school) -> Families:
    lesson = make_occurrence(
        school.class_4b, NOW - dt.timedelta(minutes=5), teachers=[school.teacher]
    )
    other_lesson = make_occurrence(
        school.other_class,
        NOW - dt.timedelta(minutes=5),
        teachers=[school.outsider],
        subject="Histoire",
    )
    take_roll_call(
        occurrence=lesson,
        teacher=school.teacher,
        marks={school.pupil.pk: ("absent", None), school.pupil2.pk: ("absent", None)},
        now=NOW,
    )
    take_roll_call(
        occurrence=other_lesson,
        teacher=school.outsider,
        marks={school.other_child.pk: ("late", 10)},
        now=NOW,
    )
    lea = AttendanceRecord.objects.get(student=school.pupil)
    hugo = AttendanceRecord.objects.get(student=school.pupil2)
    ines = AttendanceRecord.objects.get(student=school.other_child)
    karim_excuse = submit_excuse(
        record=lea,
        guardian=school.parent,
        reason="illness",
        comment="Léa avait de la fièvre (Karim)",
        document=SimpleUploadedFile("certificat.pdf", KARIM_PDF),
    )
    karim_excuse = review_excuse(
        excuse=karim_excuse, reviewer=school.cpe, accept=True, note="Vu"
    )
    sophie_excuse = submit_excuse(
        record=hugo,
        guardian=school.other_parent,
        reason="medical",
        comment="Rendez-vous chez le dentiste pour Hugo",
        document=SimpleUploadedFile("hugo.png", SOPHIE_PNG),
    )
    ines_excuse = submit_excuse(
        record=ines, guardian=school.parent, reason="transport", comment="Bus en panne"
    )
    direct = start(
        school,
        school.teacher,
        [school.parent],
        body="Pouvez-vous signer l'autorisation ?",
        subject="Autorisation de Karim Dubois",
        uploads=[upload("autorisation.pdf", KARIM_ATTACHMENT)],
    )
    send(direct, school.parent, body="C'est signé. Karim Dubois")
    class_wide = start(
        school,
        school.teacher,
        [school.parent, school.other_parent],
        body="Sortie au musée jeudi.",
        subject="Sortie au musée",
        reply_policy=Conversation.ReplyPolicy.SENDER,
    )
    send(
        class_wide,
        school.other_parent,
        body="Question privée de la famille Petit",
        uploads=[upload("petit.pdf", SOPHIE_ATTACHMENT)],
    )
    send(class_wide, school.parent, body="Réponse de la famille Dubois")
    run_tasks()  # notifications and their deliveries
    # His address after the absences: with it, they would fall back to an
    # e-mail (no device), which is the delivery tests' business, not ours.
    school.parent.email = "karim.dubois@example.org"
    school.parent.save(update_fields=["email"])
    push = PushSubscription.objects.create(
        user=school.parent,
        endpoint="https://fcm.googleapis.com/fcm/send/karims-phone",
        p256dh="BKarimSecretP256dhKey" + "A" * 40,
        auth="KarimSecretAuth0000000",
        user_agent="Firefox Android",
    )
    return Families(
        school=school,
        lesson=lesson,
        other_lesson=other_lesson,
        karim_excuse=karim_excuse,
        sophie_excuse=sophie_excuse,
        ines_excuse=ines_excuse,
        direct=direct,
        class_wide=class_wide,
        push=push,
    )


@pytest.fixture
def families(school, time_machine) -> Families:
    time_machine.move_to(NOW, tick=True)
    return build_families(school)
