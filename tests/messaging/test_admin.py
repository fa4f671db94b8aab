"""The messaging admin: the per-school policy, moderation, suspensions, and
conversation lists that never show message text."""

import pytest

from core.audit.models import AuditEntry
from core.messaging import actions, policy
from core.messaging.models import MessagingPolicy, Report, WriteSuspension
from tests.conftest import capture_events, login_verified
from tests.messaging.helpers import send, start

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, school):
    school.cpe.is_staff = school.cpe.is_superuser = True
    school.cpe.save()
    login_verified(client, school.cpe)
    return client


def test_an_administrator_changes_the_policy_of_a_school(admin_client, school):
    assert not policy.may_write(school.pupil, school.teacher, school.org.pk)

    response = admin_client.post(
        "/admin/messaging/messagingpolicy/add/",
        {
            "org": school.org.pk,
            "guardians_may_write_teachers": "on",
            "guardians_may_write_staff": "on",
            "pupils_may_write_teachers": "on",
        },
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    saved = MessagingPolicy.objects.get(org=school.org)
    assert saved.pupils_may_write_teachers and not saved.read_receipts
    assert policy.may_write(school.pupil, school.teacher, school.org.pk)
    listing = admin_client.get("/admin/messaging/messagingpolicy/")
    assert "Collège Victor Hugo" in listing.content.decode()


def test_conversations_are_listed_without_message_text(admin_client, school):
    conversation = start(
        school, school.teacher, [school.parent], body="Texte très confidentiel"
    )

    listing = admin_client.get("/admin/messaging/conversation/").content.decode()
    page = admin_client.get(
        f"/admin/messaging/conversation/{conversation.pk}/change/"
    ).content.decode()

    assert "Sortie au musée" in listing and "Alice Martin" in listing
    assert "Sortie au musée" in page
    assert "confidentiel" not in listing + page
    assert admin_client.get("/admin/messaging/conversation/add/").status_code == 403


def test_reports_are_listed_filtered_and_hidden_through_the_action(
    admin_client, school
):
    conversation = start(school, school.teacher, [school.parent])
    reply = send(conversation, school.parent, "Propos déplacés")
    report = actions.report_message(
        message=reply, reporter=school.teacher, reason="insulte"
    )

    listing = admin_client.get(
        "/admin/messaging/report/", {"status__exact": "open"}
    ).content.decode()
    assert "insulte" in listing and "déplacés" not in listing

    with capture_events() as events:
        response = admin_client.post(
            "/admin/messaging/report/",
            {"action": "hide_messages", "_selected_action": [report.pk]},
        )

    assert response.status_code == 302
    report.refresh_from_db()
    reply.refresh_from_db()
    assert report.status == Report.Status.HIDDEN and report.handled_by == school.cpe
    assert reply.hidden_at is not None
    assert {e.op for e in events} == {"hidden"}
    assert AuditEntry.objects.filter(
        action="message.hidden", actor_id=school.cpe.pk
    ).exists()


def test_a_suspension_added_in_the_admin_is_audited_and_stops_sends(
    admin_client, school
):
    conversation = start(school, school.teacher, [school.parent])

    response = admin_client.post(
        "/admin/messaging/writesuspension/add/",
        {"user": school.parent.pk, "org": school.org.pk, "reason": "insultes"},
        REMOTE_ADDR="198.51.100.4",
    )

    assert response.status_code == 302, response.content.decode()[:2000]
    suspension = WriteSuspension.objects.get()
    assert suspension.created_by == school.cpe and suspension.until is None
    entry = AuditEntry.objects.get(action="writer.suspended")
    assert (entry.actor_id, entry.target_id, entry.ip) == (
        school.cpe.pk,
        school.parent.pk,
        "198.51.100.4",
    )
    with pytest.raises(actions.MessagingError):
        send(conversation, school.parent, "Bonjour")
