"""School-life notices: who hears of them, acknowledgements, reminders,
scheduled publication, withdrawal, bad input (core/schoollife/actions.py)."""

import datetime as dt

import pytest

from core.audit.models import AuditEntry
from core.homework.uploads import CheckedFile
from core.roster.models import Enrollment, GuardianLink, User
from core.schoollife import access, actions
from core.schoollife.models import Acknowledgement, Notice, Reminder
from hub.models import Event
from tests.concurrency import needs_server_database, race_without_errors
from tests.conftest import capture_events, make_user
from tests.schoollife.conftest import NOW, PDF, publish


def streams_of(envelopes, kind):
    return {e.stream for e in envelopes if e.kind == kind}


def test_a_notice_to_4e_guardians_reaches_exactly_them(life):
    with capture_events() as sent:
        notice = publish(life)
    assert streams_of(sent, "schoollife.notice") == {
        f"user:{life.parent.pk}",
        f"user:{life.other_parent.pk}",
    }
    (envelope, *_rest) = sent
    assert envelope.op == "published"
    assert envelope.data["item"] == {
        "id": notice.pk,
        "org_id": life.org.pk,
        "title": "Sortie au musée",
        "urgent": False,
        "requires_ack": False,
        "edited_at": None,
    }
    entry = AuditEntry.objects.get(action="notice.published")
    assert entry.org_id == life.org.pk and entry.target_id == notice.pk


def test_karim_hears_from_both_his_schools_and_nobody_else_does(life):
    with capture_events() as sent:
        publish(life, audience={"roles": ["guardian"]})
        publish(
            life,
            author=life.other_cpe,
            org=life.other_org,
            audience={"roles": ["guardian"], "levels": ["5e"]},
            title="Réunion des parents",
        )
    first, second = (
        {e.stream for e in sent if e.data["item"]["org_id"] == org.pk}
        for org in (life.org, life.other_org)
    )
    karim = f"user:{life.parent.pk}"
    assert first == {karim, f"user:{life.other_parent.pk}"}
    assert second == {karim}
    titles = {n.title for n in access.notices_for(life.parent)}
    assert titles == {"Sortie au musée", "Réunion des parents"}
    assert {n.title for n in access.notices_for(life.other_parent)} == {
        "Sortie au musée"
    }


def test_a_whole_school_notice_reaches_every_member_and_no_other_school(life):
    with capture_events() as sent:
        publish(life, audience={})
    assert streams_of(sent, "schoollife.notice") == {
        f"user:{user.pk}"
        for user in (
            life.teacher,
            life.pupil,
            life.pupil2,
            life.pupil3,
            life.parent,
            life.other_parent,
            life.cpe,
        )
    }


def test_one_event_for_many_guardians_costs_a_fixed_number_of_queries(
    life, django_assert_max_num_queries
):
    """A notice to 4e B's 60 guardians: a few statements, not one per
    guardian (``send_event`` takes its offsets in batches)."""
    for n in range(60):
        child = make_user(f"child{n}", User.Role.STUDENT, "Enfant", f"N{n}")
        Enrollment.objects.create(
            user=child, school_class=life.class_4b, role="student"
        )
        parent = make_user(f"parent{n}", User.Role.GUARDIAN, "Parent", f"N{n}")
        GuardianLink.objects.create(guardian=parent, student=child)
    with capture_events() as sent, django_assert_max_num_queries(40):
        publish(life)
    assert len(sent) == 62
    assert Event.objects.filter(kind="schoollife.notice").count() == 62
    offsets = {e.offset for e in sent}
    assert offsets == {1}


def test_a_planned_notice_is_published_once_at_its_time(life, clock):
    later = NOW + dt.timedelta(hours=2)
    with capture_events() as sent:
        notice = publish(life, publish_at=later)
    assert sent == [] and notice.published_at is None
    assert access.notices_for(life.parent) == []
    assert actions.publish_due() == 0
    clock.move_to(later)
    with capture_events() as sent:
        assert actions.publish_due() == 1
        assert actions.publish_due() == 0
    assert len(streams_of(sent, "schoollife.notice")) == 2
    assert [n.pk for n in access.notices_for(life.parent)] == [notice.pk]
    assert actions.scheduled_jobs() == {"published": 0}


def test_a_withdrawn_notice_is_announced_and_gone(life, clock):
    notice = publish(life, requires_ack=True)
    with capture_events() as sent:
        actions.withdraw_notice(notice=notice, actor=life.cpe)
    assert {e.op for e in sent} == {"withdrawn"}
    assert streams_of(sent, "schoollife.notice") == {
        f"user:{life.parent.pk}",
        f"user:{life.other_parent.pk}",
    }
    assert access.notices_for(life.parent) == []
    with pytest.raises(actions.NoticeError):
        actions.acknowledge(notice=notice, user=life.parent)
    planned = publish(life, publish_at=NOW + dt.timedelta(hours=1))
    with capture_events() as sent:
        actions.withdraw_notice(notice=planned, actor=life.cpe)
    assert sent == []
    clock.move_to(NOW + dt.timedelta(hours=2))
    assert actions.publish_due() == 0


def test_a_change_after_publication_is_marked_and_announced(life):
    notice = publish(life)
    with capture_events() as sent:
        changed = actions.change_notice(
            notice=notice, actor=life.cpe, title="Sortie reportée", body="", urgent=True
        )
    assert changed.edited_at is not None
    (event,) = {e.op for e in sent}
    assert event == "changed"
    assert sent[0].data["item"]["urgent"] is True


def test_acknowledging_tells_the_staff_counts_per_class_never_the_families(life):
    notice = publish(life, audience={"roles": ["guardian"]}, requires_ack=True)
    with capture_events() as sent:
        ack, created = actions.acknowledge(notice=notice, user=life.parent)
    assert created and ack.reply == ""
    assert streams_of(sent, "schoollife.ack") == {f"user:{life.cpe.pk}"}
    data = sent[0].data
    assert (data["notice_id"], data["class_ids"]) == (notice.pk, [life.class_4b.pk])
    assert actions.counts([notice]) == [(1, 2)]
    with capture_events() as sent:
        _ack, created = actions.acknowledge(notice=notice, user=life.parent)
    assert not created and sent == []
    assert Acknowledgement.objects.filter(notice=notice).count() == 1


def test_an_answer_is_required_and_checked(life):
    outing = publish(life, reply_kind=Notice.ReplyKind.YES_NO)
    assert outing.requires_ack
    with pytest.raises(actions.NoticeError, match="oui ou non|yes or no"):
        actions.acknowledge(notice=outing, user=life.parent, reply="maybe")
    ack, _created = actions.acknowledge(notice=outing, user=life.parent, reply="yes")
    assert ack.reply == "yes"
    menu = publish(
        life,
        reply_kind=Notice.ReplyKind.CHOICE,
        reply_options=["Repas", "Pique-nique", "Repas"],
    )
    assert menu.reply_options == ["Repas", "Pique-nique"]
    with pytest.raises(actions.NoticeError):
        actions.acknowledge(notice=menu, user=life.parent, reply="Frites")
    with pytest.raises(actions.NoticeError):
        publish(life, reply_kind=Notice.ReplyKind.CHOICE, reply_options=["Seule"])
    with pytest.raises(actions.NoticeError):
        actions.acknowledge(notice=publish(life), user=life.parent)


def test_a_reminder_goes_once_to_those_who_have_not_acknowledged(life):
    notice = publish(life, requires_ack=True)
    actions.acknowledge(notice=notice, user=life.parent)
    with capture_events() as sent:
        assert actions.remind(notice=notice, actor=life.cpe, token="t1") == 1
        assert actions.remind(notice=notice, actor=life.cpe, token="t1") == 0
    assert streams_of(sent, "schoollife.reminder") == {f"user:{life.other_parent.pk}"}
    assert len(sent) == 1
    assert Reminder.objects.get(notice=notice).recipients == 1
    assert AuditEntry.objects.filter(action="notice.reminded").count() == 1


def test_bad_input_is_refused_and_nothing_is_written(life):
    with pytest.raises(actions.NoticeError, match="classe|class"):
        publish(life, audience={"classes": [life.other_class.pk]})
    with pytest.raises(actions.NoticeError):
        publish(life, audience={"roles": ["janitor"]})
    with pytest.raises(actions.NoticeError):
        publish(life, audience={"levels": ["CM2"]})
    with pytest.raises(actions.NoticeError, match="10"):
        publish(life, body="x" * 10_001)
    with pytest.raises(actions.NoticeError):
        publish(life, title="   ")
    with pytest.raises(actions.NoticeError):
        publish(life, author=life.cpe, org=life.other_org)
    with pytest.raises(actions.NoticeError):
        publish(life, author=life.teacher)
    with pytest.raises(actions.NoticeError):
        publish(
            life,
            attachments=[
                CheckedFile(name=f"{n}.pdf", mime="application/pdf", data=PDF)
                for n in range(6)
            ],
        )
    assert Notice.objects.count() == 0
    assert Event.objects.filter(kind__startswith="schoollife").count() == 0


def test_a_guardian_whose_link_ends_loses_the_notice_at_once(life):
    notice = publish(life, requires_ack=True)
    assert access.reads(life.parent, notice)
    GuardianLink.objects.filter(guardian=life.parent, student=life.pupil).delete()
    assert not access.reads(life.parent, notice)
    assert access.notices_for(life.parent) == []
    with capture_events() as sent:
        actions.remind(notice=notice, actor=life.cpe, token="t")
    assert streams_of(sent, "schoollife.reminder") == {f"user:{life.other_parent.pk}"}


@pytest.mark.django_db(transaction=True)
def test_concurrent_clicks_acknowledge_once_and_count_once(life):
    needs_server_database()
    notice = publish(life, requires_ack=True)
    results = race_without_errors(
        [
            lambda: actions.acknowledge(notice=notice, user=life.parent)[1]
            for _ in range(4)
        ]
    )
    assert sorted(results) == [False, False, False, True]
    assert Acknowledgement.objects.filter(notice=notice).count() == 1
    assert Event.objects.filter(kind="schoollife.ack").count() == 1
    assert AuditEntry.objects.filter(action="notice.acknowledged").count() == 1
    assert actions.counts([notice]) == [(1, 2)]


@pytest.mark.django_db(transaction=True)
def test_the_same_reminder_clicked_twice_at_once_reminds_once(life):
    needs_server_database()
    notice = publish(life, requires_ack=True)
    results = race_without_errors(
        [
            lambda: actions.remind(notice=notice, actor=life.cpe, token="same")
            for _ in range(3)
        ]
    )
    assert sorted(results) == [0, 0, 2]
    assert Event.objects.filter(kind="schoollife.reminder").count() == 2
    assert Reminder.objects.filter(notice=notice).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_schedulers_publish_a_planned_notice_once(life, clock):
    needs_server_database()
    publish(life, publish_at=NOW + dt.timedelta(minutes=5))
    clock.move_to(NOW + dt.timedelta(minutes=6))
    results = race_without_errors([actions.publish_due, actions.publish_due])
    assert sorted(results) == [0, 1]
    assert Event.objects.filter(kind="schoollife.notice").count() == 2
