"""Publication events: each pupil's own result on their and their guardians'
streams only, class figures by the school's policy, the notice per child,
and a number of queries that does not grow per pupil beyond send_event's."""

import datetime as dt

import pytest
import time_machine
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import translation

import hub
from core.grades import actions
from core.grades.events import MarkChanged, MarkData
from core.grades.models import GradesPolicy, Skill
from core.roster.models import Enrollment, GuardianLink, User
from tests.conftest import capture_events, make_user
from tests.grades.conftest import classmates, evaluation

pytestmark = pytest.mark.django_db


def test_each_family_hears_only_its_own_pupil(periods):
    s = periods
    skill = Skill.objects.get(code="D2")
    made = evaluation(
        s.class_4b,
        s.teacher,
        {s.pupil: "15", s.pupil2: "abs"},
        skills=[skill],
        title="Contrôle 1",
    )
    actions.save_marks(
        evaluation=made,
        teacher=s.teacher,
        entries={
            s.pupil.pk: actions.Entry(
                mark="15", comment="Bien", skills={skill.pk: "3"}
            ),
            s.pupil2.pk: actions.Entry(mark="abs"),
        },
    )
    with capture_events() as events:
        actions.publish(evaluation=made, teacher=s.teacher)
    by_stream = {e.stream: e for e in events}
    assert set(by_stream) == {
        f"user:{s.pupil.pk}",
        f"user:{s.parent.pk}",
        f"user:{s.pupil2.pk}",
        f"user:{s.other_parent.pk}",
    }
    assert all(e.kind == "grades.mark" and e.op == "published" for e in events)
    lea = by_stream[f"user:{s.parent.pk}"].data
    assert lea == by_stream[f"user:{s.pupil.pk}"].data
    assert lea["student_id"] == s.pupil.pk
    assert lea["student_name"] == "Léa Dubois"
    mark = lea["mark"]
    assert mark["value"] == "15.00" and mark["on_twenty"] == "15.00"
    assert mark["title"] == "Contrôle 1" and mark["subject"] == "Mathématiques"
    assert mark["date"] == "2026-01-12" and mark["status"] == ""
    # One mark (Hugo was absent): no class figures, they would be Léa's.
    assert (mark["class_average"], mark["class_min"], mark["class_max"]) == (
        None,
        None,
        None,
    )
    assert mark["skills"] == [
        {
            "code": "D2",
            "title": skill.title,
            "level": 3,
            "label": "maîtrise satisfaisante",
        }
    ]
    assert "Bien" not in str(lea)  # the comment is read on the page
    hugo = by_stream[f"user:{s.other_parent.pk}"].data
    assert hugo["student_id"] == s.pupil2.pk
    assert hugo["mark"]["value"] is None and hugo["mark"]["status"] == "absent"
    assert "15" not in str(hugo["mark"]["value"])
    # No class stream, nor the other school's child's.
    assert not any(e.stream.startswith("class:") for e in events)
    assert f"user:{s.other_child.pk}" not in by_stream


def test_policy_hides_class_figures(periods):
    s = periods
    GradesPolicy.objects.create(org=s.org, show_class_average=False, show_min_max=False)
    with capture_events() as events:
        evaluation(s.class_4b, s.teacher, {s.pupil: "12", s.pupil2: "8"}, publish=True)
    for event in events:
        mark = event.data["mark"]
        assert mark["class_average"] is mark["class_min"] is mark["class_max"] is None


def test_the_family_in_two_schools_gets_each_child_apart(periods):
    s = periods
    with capture_events() as events:
        evaluation(s.class_4b, s.teacher, {s.pupil: "12"}, publish=True)
        evaluation(
            s.other_class,
            s.outsider,
            {s.other_child: "17"},
            subject="Histoire",
            publish=True,
        )
    to_karim = [e.data for e in events if e.stream == f"user:{s.parent.pk}"]
    assert [(d["student_id"], d["mark"]["value"], d["org_id"]) for d in to_karim] == [
        (s.pupil.pk, "12.00", s.org.pk),
        (s.other_child.pk, "17.00", s.other_org.pk),
    ]
    assert {e.stream for e in events if e.data["student_id"] == s.other_child.pk} == {
        f"user:{s.other_child.pk}",
        f"user:{s.parent.pk}",
    }


def test_an_ended_guardian_link_hears_nothing_more(periods):
    s = periods
    GuardianLink.objects.filter(guardian=s.parent, student=s.pupil).delete()
    with capture_events() as events:
        evaluation(s.class_4b, s.teacher, {s.pupil: "12"}, publish=True)
    assert {e.stream for e in events} == {f"user:{s.pupil.pk}"}


def test_notice_per_child():
    event = MarkChanged(
        op="published",
        org_id=1,
        student_id=7,
        student_name="Léa",
        mark=MarkData(
            evaluation_id=3,
            class_id=2,
            subject="Mathématiques",
            title="Contrôle",
            date="2026-01-12",
            period_id=5,
            coefficient="1.00",
            out_of="20.00",
            value="15.50",
            on_twenty="15.50",
        ),
    )
    with translation.override("fr"):
        notice = event.notice(dt.datetime(2026, 1, 12, tzinfo=dt.UTC))
    assert notice.title == "Nouvelle note en Mathématiques : Contrôle (15,5/20)"
    assert (notice.child_id, notice.child_name) == (7, "Léa")
    assert notice.url == "/grades/?child=7&period=5"
    assert MarkChanged.category == "grades"
    removed = event.model_copy(update={"op": "removed"})
    assert removed.notice(dt.datetime(2026, 1, 12, tzinfo=dt.UTC)) is None


def _class_of(s, size: int):
    """A class of ``size`` pupils, each with one guardian, taught by Alice."""
    from core.roster.models import SchoolClass

    school_class = SchoolClass.objects.create(
        org=s.org, session=s.session, title=f"classe {size}"
    )
    Enrollment.objects.create(user=s.teacher, school_class=school_class, role="teacher")
    pupils = []
    for index in range(size):
        pupil = make_user(f"p{size}-{index}", User.Role.STUDENT, "P", str(index))
        guardian = make_user(f"g{size}-{index}", User.Role.GUARDIAN, "G", str(index))
        Enrollment.objects.create(user=pupil, school_class=school_class, role="student")
        GuardianLink.objects.create(guardian=guardian, student=pupil)
        pupils.append(pupil)
    made = evaluation(
        school_class,
        s.teacher,
        {pupil: str(index % 20) for index, pupil in enumerate(pupils)},
    )
    return made


def _send_event_queries(s) -> int:
    """The queries of one send_event to a pupil and a guardian (streams
    locked first, as publish does)."""
    from hub.streams import lock_streams

    streams = [f"user:{s.pupil.pk}", f"user:{s.parent.pk}"]
    with transaction.atomic():
        lock_streams(streams)
        with CaptureQueriesContext(connection) as queries:
            hub.send_event(
                streams,
                MarkChanged(
                    op="published",
                    org_id=s.org.pk,
                    student_id=s.pupil.pk,
                    student_name="Léa",
                    mark=MarkData(
                        evaluation_id=1,
                        class_id=1,
                        subject="x",
                        title="x",
                        date="2026-01-12",
                        period_id=1,
                        coefficient="1",
                        out_of="20",
                    ),
                ),
            )
    return len(queries)


# What publishing costs besides its send_events: the evaluation locked and
# saved, the audit row, the pupils with a result, the policy, the marks, the
# skill levels, the class figures, the names, the families, the streams.
FIXED = 18


def test_publishing_uses_queries_constant_per_pupil(
    periods, django_assert_max_num_queries
):
    """Publishing for 3 or 30 pupils: a fixed number of queries plus one
    send_event per pupil (marks, levels, families, names and streams are
    read in bulk)."""
    s = periods
    per_event = _send_event_queries(s)
    small, large = _class_of(s, 3), _class_of(s, 30)
    with django_assert_max_num_queries(FIXED + 3 * per_event):
        actions.publish(evaluation=small, teacher=s.teacher)
    with django_assert_max_num_queries(FIXED + 30 * per_event):
        with capture_events() as events:
            actions.publish(evaluation=large, teacher=s.teacher)
    assert len(events) == 60  # each pupil and their guardian


@pytest.fixture
def afternoon():
    """Monday 12 January 2026, 16:00 in Paris (the digest goes at 18:00)."""
    with time_machine.travel(dt.datetime(2026, 1, 12, 15, tzinfo=dt.UTC), tick=False):
        yield


def test_delivery_the_guardians_digest_groups_per_child(periods, afternoon):
    """The pupil and Karim are told (category "grades", per child); the
    teacher is not; Karim's evening digest names the child."""
    from zoneinfo import ZoneInfo

    from hub.delivery import email_contents, email_deliveries
    from hub.delivery.models import Delivery, EmailSend, Notification
    from hub.delivery.planning import plan_event
    from hub.models import Event

    s = periods
    s.parent.email = "karim@example.org"
    s.parent.save()
    evaluation(s.class_4b, s.teacher, {s.pupil: "15,5"}, publish=True)
    evaluation(
        s.other_class,
        s.outsider,
        {s.other_child: "11"},
        subject="Histoire",
        publish=True,
    )
    now = dt.datetime(2026, 1, 12, 16, tzinfo=dt.UTC)
    for event in Event.objects.filter(kind="grades.mark").order_by("pk"):
        plan_event(event.pk, now=now)
    notes = Notification.objects.filter(user=s.parent, category="grades")
    assert sorted((n.child_name, n.title) for n in notes) == [
        ("Inès Dubois", "Nouvelle note en Histoire : Contrôle (11/20)"),
        ("Léa Dubois", "Nouvelle note en Mathématiques : Contrôle (15,5/20)"),
    ]
    assert Notification.objects.filter(user=s.pupil, category="grades").count() == 1
    assert not Notification.objects.filter(user=s.teacher).exists()
    assert not Notification.objects.filter(user=s.other_parent).exists()
    (send_id,) = email_deliveries.schedule_digests(
        now=dt.datetime(2026, 1, 12, 17, 0, tzinfo=dt.UTC)
    )
    send = EmailSend.objects.get(pk=send_id)
    send.message_id = "<digest.grades@hub.example>"
    rows = list(Delivery.objects.filter(email=send).select_related("notification"))
    message = email_contents.compose_send(send, rows, ZoneInfo("Europe/Paris"))
    text = message.get_body(("plain",)).get_content()
    assert "Léa Dubois" in text and "Inès Dubois" in text
    assert "15,5/20" in text and "Hugo" not in text


def _figures(events, stream):
    mark = next(e for e in events if e.stream == stream).data["mark"]
    return mark["class_average"], mark["class_min"], mark["class_max"]


def test_two_marks_give_karim_no_class_figures_five_do(periods):
    """Léa 15, Hugo 7: average, lowest and highest would tell Karim Hugo's
    mark. With five results (MIN_RESULTS) the figures come."""
    s = periods
    made = evaluation(s.class_4b, s.teacher, {s.pupil: "15", s.pupil2: "7"})
    with capture_events() as events:
        actions.publish(evaluation=made, teacher=s.teacher)
    assert _figures(events, f"user:{s.parent.pk}") == (None, None, None)
    more = classmates(s, 3)
    five = evaluation(
        s.class_4b,
        s.teacher,
        {s.pupil: "15", s.pupil2: "7", more[0]: "10", more[1]: "12", more[2]: "11"},
        title="Contrôle 2",
    )
    with capture_events() as events:
        actions.publish(evaluation=five, teacher=s.teacher)
    assert _figures(events, f"user:{s.parent.pk}") == ("11.00", "7.00", "15.00")
