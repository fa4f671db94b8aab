"""Events of course documents: one per write, on the streams of its readers,
and their delivery (notifications, the evening digest)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from core.documents import access, actions
from hub.delivery import email_deliveries
from hub.delivery.models import Delivery, Notification
from hub.delivery.preferences import categories_for
from hub.streams import class_stream, user_stream
from tests.conftest import capture_events
from tests.delivery.helpers import run_tasks
from tests.documents.conftest import class_space, pdf_bytes, upload

PARIS = ZoneInfo("Europe/Paris")
MORNING = dt.datetime(2026, 1, 19, 10, 0, tzinfo=PARIS)
EVENING = dt.datetime(2026, 1, 19, 18, 0, tzinfo=PARIS)


def test_each_write_emits_one_event_on_the_class_stream(world):
    space = class_space(world)
    teacher = world.school.teacher
    with capture_events() as events:
        item = actions.add_file(
            space=space,
            actor=teacher,
            upload=upload("ch1.pdf", pdf_bytes()),
            title="Chapitre 1",
        )
        actions.add_version(
            item=item,
            space=space,
            actor=teacher,
            upload=upload("ch1.pdf", pdf_bytes("2")),
        )
        actions.create_folder(space=space, actor=teacher, name="Cours")
        actions.delete_item(item=item, space=space, actor=teacher)
    assert [(e.stream, e.kind, e.op) for e in events] == [
        (class_stream(world.school.class_4b.pk), "documents.item", "added"),
        (class_stream(world.school.class_4b.pk), "documents.item", "new_version"),
        (class_stream(world.school.class_4b.pk), "documents.removed", "removed"),
    ]
    added = events[0].data
    assert added["item"]["title"] == "Chapitre 1"
    assert added["item"]["space"] == f"class:{world.school.class_4b.pk}"
    assert added["subject"] == "Histoire-géo"
    assert added["space_title"] == "4e B"
    assert events[1].data["item"]["versions"] == 2


def test_a_removal_reaches_open_pages_but_is_no_unread_notification(world):
    from hub.delivery import inbox

    space = class_space(world)
    teacher = world.school.teacher
    item = actions.add_link(space=space, actor=teacher, url="https://example.org/")
    before = inbox.unread_count(world.school.pupil)
    assert before == 1
    actions.delete_item(item=item, space=space, actor=teacher)
    assert inbox.unread_count(world.school.pupil) == before


def test_a_document_hidden_from_guardians_goes_to_pupils_and_teachers_only(world):
    school = world.school
    with capture_events() as events:
        actions.add_link(
            space=class_space(world),
            actor=school.teacher,
            url="https://example.org/corrige",
            title="Corrigé",
            guardians_may_see=False,
        )
    streams = {e.stream for e in events}
    assert streams == {
        user_stream(school.teacher.pk),
        user_stream(school.pupil.pk),
        user_stream(school.pupil2.pk),
    }


def test_a_course_document_goes_to_the_subjects_teachers(world):
    school = world.school
    space = access.get_space(school.teacher, access.COURSE, world.course.pk)
    with capture_events() as events:
        actions.add_link(space=space, actor=school.teacher, url="https://example.org/")
    assert {e.stream for e in events} == {
        user_stream(school.teacher.pk),
        user_stream(world.bruno.pk),
    }


def test_documents_is_a_delivery_category_each_role_chooses_about(world):
    school = world.school
    for user in (school.parent, school.pupil, school.teacher):
        assert "documents" in [c.key for c in categories_for(user)]
    page = _settings_page(school.parent)
    assert "Documents de cours" in page


def _settings_page(user) -> str:
    from django.test import Client

    from tests.conftest import login_verified

    return (
        login_verified(Client(), user).get("/settings/notifications/").content.decode()
    )


@pytest.mark.django_db(transaction=True)
def test_guardians_get_a_visible_document_in_their_evening_digest(
    world, settings, smtp_server
):
    school = world.school
    settings.EMAIL_HOST = smtp_server.host
    settings.EMAIL_PORT = smtp_server.port
    for user in (school.parent, school.other_parent, school.pupil, school.teacher):
        user.email = f"{user.username}@example.org"
        user.save()
    with time_machine.travel(MORNING, tick=False):
        actions.add_file(
            space=class_space(world),
            actor=school.teacher,
            upload=upload("carte.pdf", pdf_bytes()),
            title="Carte de l'Europe",
        )
        actions.add_file(
            space=class_space(world),
            actor=school.teacher,
            upload=upload("corrige.pdf", pdf_bytes()),
            title="Corrigé secret",
            guardians_may_see=False,
        )
        run_tasks()
    title = "Nouveau document en Histoire-géo (4e B) : Carte de l'Europe"
    karim = Notification.objects.filter(user=school.parent)
    assert list(karim.values_list("title", flat=True)) == [title]
    assert karim.get().child_name == "Léa Dubois"
    assert Delivery.objects.filter(
        user=school.parent, channel="daily", status="queued"
    ).exists()
    # Pupils see both in the app; the teacher who acted is not told.
    assert Notification.objects.filter(user=school.pupil).count() == 2
    assert not Notification.objects.filter(user=school.teacher).exists()
    with time_machine.travel(EVENING, tick=False):
        email_deliveries.schedule_digests()
        run_tasks()
    to_karim = [m for m in smtp_server.messages if m.rcpt_tos == ["karim@example.org"]]
    (digest,) = to_karim
    text = digest.message.get_body(("plain",)).get_content()
    assert "Carte de l'Europe" in text
    assert "Corrigé secret" not in text
    assert f"/documents/class/{school.class_4b.pk}/" in text
