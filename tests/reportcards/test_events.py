"""``reportcards.available`` reaches exactly the pupil's current guardians,
once per publication; the staff's pages hear the generation."""

import datetime as dt

import pytest
from django.utils.translation import override

from core.reportcards import actions, generation
from core.reportcards.events import ReportCardAvailable
from core.roster.models import GuardianLink
from hub.events import event_class
from hub.streams import user_stream
from tests.conftest import capture_events
from tests.delivery.helpers import run_tasks

pytestmark = pytest.mark.django_db


def publish_and_generate(
    term, captured_on_commit, *, staff=None, school_class=None, period=None
):
    with captured_on_commit(execute=True):
        actions.publish(
            staff=staff or term.cpe,
            school_class=school_class or term.class_4b,
            period=period or term.period,
        )
    with capture_events() as events:
        run_tasks()
    return events


def available(events):
    return [e for e in events if e.kind == "reportcards.available"]


def test_each_card_goes_to_its_own_family_only(
    term, django_capture_on_commit_callbacks
):
    events = available(publish_and_generate(term, django_capture_on_commit_callbacks))
    by_stream = {}
    for envelope in events:
        by_stream.setdefault(envelope.stream, []).append(envelope.data["student_id"])
    # Karim hears of Léa, Sophie of Hugo; no pupil, no class stream, no staff.
    assert by_stream == {
        user_stream(term.parent.pk): [term.pupil.pk],
        user_stream(term.other_parent.pk): [term.pupil2.pk],
    }
    assert {e.op for e in events} == {"published"}
    # Karim's other child (Inès, other school) is not published: nothing.
    assert all(e.data["student_id"] != term.other_child.pk for e in events)
    lea = next(e for e in events if e.data["student_id"] == term.pupil.pk)
    assert lea.data["period_title"] == "1er trimestre"
    assert set(lea.data) == {
        "report_card_id",
        "student_id",
        "student_name",
        "org_id",
        "class_title",
        "period_title",
        "actor_id",
    }  # no mark, no appraisal


def test_the_other_school_announces_ines_to_karim_only(
    term, django_capture_on_commit_callbacks
):
    events = available(
        publish_and_generate(
            term,
            django_capture_on_commit_callbacks,
            staff=term.berthe,
            school_class=term.other_class,
            period=term.other_period,
        )
    )
    assert [(e.stream, e.data["student_id"]) for e in events] == [
        (user_stream(term.parent.pk), term.other_child.pk)
    ]
    assert events[0].data["org_id"] == term.other_org.pk


def test_the_notice_groups_per_child(term, django_capture_on_commit_callbacks):
    events = available(publish_and_generate(term, django_capture_on_commit_callbacks))
    lea = next(e for e in events if e.data["student_id"] == term.pupil.pk)
    event = event_class(lea.kind)(op=lea.op, **lea.data)
    assert isinstance(event, ReportCardAvailable) and event.category == "grades"
    with override("fr"):
        notice = event.notice(dt.datetime.now(dt.UTC))
    assert notice.child_id == term.pupil.pk
    assert notice.child_name == "Léa Dubois"
    assert notice.title == "Bulletin disponible (1er trimestre) : Léa Dubois"
    assert notice.url == "/reportcards/"


def test_republishing_regenerates_and_notifies_once_more_as_updated(
    term, django_capture_on_commit_callbacks
):
    publish_and_generate(term, django_capture_on_commit_callbacks)
    actions.save_head_appraisals(
        staff=term.cpe,
        school_class=term.class_4b,
        period=term.period,
        texts={term.pupil.pk: "Corrigé : excellent trimestre"},
    )
    events = available(publish_and_generate(term, django_capture_on_commit_callbacks))
    assert sorted((e.stream, e.op) for e in events) == sorted(
        [
            (user_stream(term.parent.pk), "updated"),
            (user_stream(term.other_parent.pk), "updated"),
        ]
    )
    from tests.reportcards.helpers import card_text

    assert "Corrigé : excellent trimestre" in card_text(term.pupil, term.period)
    # Running the worker again announces nothing more.
    with capture_events() as again:
        run_tasks()
    assert available(again) == []
    # And the task of that generation, run twice, neither.
    from core.reportcards.models import Publication

    publication = Publication.objects.get(school_class=term.class_4b)
    with capture_events() as twice:
        assert (
            generation.generate(publication.pk, publication.generation)["announced"]
            == 0
        )
    assert available(twice) == []


def test_an_ended_guardian_link_is_not_told(term, django_capture_on_commit_callbacks):
    GuardianLink.objects.filter(guardian=term.parent, student=term.pupil).delete()
    events = available(publish_and_generate(term, django_capture_on_commit_callbacks))
    assert [e.stream for e in events] == [user_stream(term.other_parent.pk)]


def test_staff_pages_follow_the_generation(term, django_capture_on_commit_callbacks):
    events = publish_and_generate(term, django_capture_on_commit_callbacks)
    progress = [e for e in events if e.kind == "reportcards.progress"]
    # Paul (school-life staff of school A) only, never Berthe nor families.
    assert {e.stream for e in progress} == {user_stream(term.cpe.pk)}
    assert [e.op for e in progress] == ["generated", "generated", "done"]
    assert progress[-1].data["ready"] == progress[-1].data["total"] == 2


def test_delivery_plans_one_notification_per_family_in_grades(
    term, django_capture_on_commit_callbacks
):
    """The worker's planning: Karim is told of Léa, Sophie of Hugo, in the
    "Notes" category, with the child's name (digests group per child)."""
    from hub.delivery.models import Notification

    publish_and_generate(term, django_capture_on_commit_callbacks)
    run_tasks()  # the delivery planning the events enqueued
    rows = {
        n.user_id: n
        for n in Notification.objects.filter(category="grades").select_related()
    }
    assert set(rows) == {term.parent.pk, term.other_parent.pk}
    assert rows[term.parent.pk].child_name == "Léa Dubois"
    assert (
        rows[term.parent.pk].title == "Bulletin disponible (1er trimestre) : Léa Dubois"
    )
    assert rows[term.parent.pk].org_id == term.org.pk
    assert rows[term.other_parent.pk].child_name == "Hugo Petit"
