"""Erasure and anonymisation instead of PROTECT: a guardian with excuses
and messages is erased; the school keeps what the law requires under
"Personne effacée"; their own data goes; nothing about them stays
searchable; the admin offers the erasure and refuses a raw delete."""

import os

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.contrib.sessions.models import Session
from django.db.models import ProtectedError
from django.urls import reverse

from core.attendance.models import AttendanceRecord, Excuse
from core.audit.models import AuditEntry
from core.messaging import access as messaging_access
from core.messaging.models import Conversation, Message, Participant
from core.privacy import actions, erasure
from core.privacy.models import DataExport
from core.roster.models import EndedMembership, GuardianLink, User
from hub.delivery.models import (
    DeliverySettings,
    EmailSend,
    Notification,
    Preference,
    PushSubscription,
)
from hub.models import Event
from tests.conftest import login_verified


@pytest.fixture
def it_admin(db) -> User:
    return User.objects.create_superuser(
        "root", password="pw-root", role="administrator"
    )


def text_of_everything_others_keep() -> str:
    """Every text others keep that could name a person."""
    parts = []
    for n in Notification.objects.all():
        parts += [n.title, n.body, n.child_name]
    parts += [str(e.payload) for e in Event.objects.all()]
    parts += [f"{a.actor_name} {a.detail}" for a in AuditEntry.objects.all()]
    parts += list(Conversation.objects.values_list("subject", flat=True))
    parts += list(LogEntry.objects.values_list("object_repr", flat=True))
    return "\n".join(parts)


def test_deleting_a_guardian_with_excuses_and_messages_fails(families):
    """Today's state, kept on purpose: the rows the school must keep
    PROTECT the account. Erasure is the way (next tests)."""
    with pytest.raises(ProtectedError):
        families.school.parent.delete()


def test_deleting_a_pupil_keeps_their_absences(families):
    """A pupil's absences are the school's record: deleting the account
    must not take them along (it did: CASCADE)."""
    with pytest.raises(ProtectedError):
        families.school.pupil2.delete()
    assert AttendanceRecord.objects.filter(student=families.school.pupil2).exists()


def test_a_guardian_with_excuses_and_messages_is_erased(
    families, it_admin, client, django_capture_on_commit_callbacks, monkeypatch
):
    school = families.school
    karim = school.parent
    # Their own data: a session, preferences, an export file.
    login_verified(client, karim)
    Preference.objects.create(user=karim, category="absence", email=True)
    DeliverySettings.objects.create(user=karim)
    export = DataExport.objects.create(user=karim)
    export.file.save("export.bin", __import__("io").BytesIO(b"zip"), save=True)
    export_path = export.file.path
    document_path = families.karim_excuse.document.path
    assert os.path.exists(document_path)
    assert Notification.objects.filter(user=karim).exists()
    before = text_of_everything_others_keep()
    assert "Karim Dubois" in before  # events, notifications, subjects name him
    assert any("Karim Dubois" in str(e.payload) for e in Event.objects.all())
    closed = []
    monkeypatch.setattr(
        actions, "close_user_sockets", lambda pk, reason: closed.append((pk, reason))
    )

    with django_capture_on_commit_callbacks(execute=True):
        done = actions.erase_person(karim, it_admin)

    karim.refresh_from_db()
    assert karim.username == f"erased-{karim.pk}"
    assert karim.get_full_name() == "Personne effacée"
    assert karim.email == "" and not karim.is_active
    assert not karim.has_usable_password()
    assert (karim.pk, "erased") in closed

    # The school keeps the absences and the excuse decisions.
    excuse = Excuse.objects.get(pk=families.karim_excuse.pk)
    assert excuse.status == "accepted" and excuse.reason == "illness"
    assert excuse.submitted_by_id == karim.pk
    assert excuse.comment == "" and not excuse.document
    assert not os.path.exists(document_path)
    assert Excuse.objects.filter(pk=families.ines_excuse.pk).exists()
    assert AttendanceRecord.objects.filter(student=school.pupil).exists()
    # Sophie's excuse is untouched.
    sophie_excuse = Excuse.objects.get(pk=families.sophie_excuse.pk)
    assert sophie_excuse.comment.startswith("Rendez-vous") and sophie_excuse.document

    # Messages in others' conversations stay, under "Personne effacée".
    assert Message.objects.filter(sender=karim).count() == 2
    assert not Participant.objects.filter(user=karim).exists()
    assert Conversation.objects.get(pk=families.direct.pk).subject == (
        "Autorisation de Personne effacée"
    )

    # Their own data is gone.
    assert not PushSubscription.objects.filter(user=karim).exists()
    assert not Preference.objects.filter(user=karim).exists()
    assert not DeliverySettings.objects.filter(user=karim).exists()
    assert not Notification.objects.filter(user=karim).exists()
    assert not EmailSend.objects.filter(user=karim).exists()
    assert not DataExport.objects.filter(user=karim).exists()
    assert not os.path.exists(export_path)
    assert not any(
        s.get_decoded().get("_auth_user_id") == str(karim.pk)
        for s in Session.objects.all()
    )
    # The guardian links ended (kept in history).
    assert not GuardianLink.objects.filter(guardian=karim).exists()
    assert EndedMembership.objects.filter(user=karim, kind="guardian_link").count() == 2
    assert done["delivery.PushSubscription.user"] == 1

    # The audit entry is kept, with the actor.
    entry = AuditEntry.objects.get(action="person.erased")
    assert entry.actor_id == it_admin.pk and entry.actor_name == "root"
    assert entry.target_id == karim.pk

    # Nothing about them remains searchable.
    for found in (
        User.objects.filter(first_name__icontains="Karim"),
        User.objects.filter(username__icontains="karim"),
        User.objects.filter(email__icontains="karim"),
    ):
        assert not found.exists()
    assert not messaging_access.search_conversations(school.teacher, "Karim").exists()
    kept = text_of_everything_others_keep()
    assert "Karim" not in kept and "karim.dubois" not in kept
    assert "Léa Dubois" in kept  # others' names are untouched


def test_others_see_personne_effacee(
    families, it_admin, client, django_capture_on_commit_callbacks
):
    school = families.school
    with django_capture_on_commit_callbacks(execute=True):
        actions.erase_person(school.parent, it_admin)
    login_verified(client, school.teacher)
    page = client.get(
        reverse("messaging:conversation", args=[families.direct.pk])
    ).content.decode()
    assert "Personne effacée" in page and "Karim" not in page
    # The text stays; the name it held is replaced.
    assert "signé. Personne effacée" in page
    login_verified(client, school.cpe)
    page = client.get("/absences/").content.decode()
    assert "Karim" not in page


def test_erased_person_cannot_log_in(families, it_admin, client):
    actions.erase_person(families.school.parent, it_admin)
    assert not client.login(username="karim", password="pw-karim")
    user = User.objects.get(pk=families.school.parent.pk)
    assert not client.login(username=user.username, password="pw-karim")


def test_a_pupil_is_erased_and_their_absences_kept(families, it_admin):
    school = families.school
    actions.erase_person(school.pupil2, it_admin)
    record = AttendanceRecord.objects.get(student=school.pupil2)
    assert record.status == "absent"
    assert record.student.get_full_name() == "Personne effacée"
    assert not school.pupil2.enrollments.exists()
    assert EndedMembership.objects.filter(
        user=school.pupil2, kind="enrollment"
    ).exists()
    assert "Hugo Petit" not in text_of_everything_others_keep()


def test_only_authorised_staff_of_the_persons_school_may_erase(families):
    school = families.school
    with pytest.raises(actions.NotAllowed):
        actions.erase_person(school.pupil, school.cpe)  # no permission
    permission = Permission.objects.get(codename="erase_person")
    school.cpe.user_permissions.add(permission)
    school.cpe.is_staff = True
    school.cpe.save()
    cpe = User.objects.get(pk=school.cpe.pk)
    # Hugo is a pupil of Paul's school; Karim has a child in another school.
    assert actions.may_erase(cpe, school.pupil2)
    assert not actions.may_erase(cpe, school.parent)
    assert not actions.may_erase(cpe, cpe)
    outsider = school.outsider
    outsider.user_permissions.add(permission)
    outsider.is_staff = True
    outsider.save()
    assert not actions.may_erase(User.objects.get(pk=outsider.pk), school.pupil2)
    # A teacher of the school given the admin and the permission is no
    # school-life staff: is_staff is not a role.
    teacher = school.teacher
    teacher.user_permissions.add(permission)
    teacher.is_staff = True
    teacher.save()
    assert not actions.may_erase(User.objects.get(pk=teacher.pk), school.pupil2)


def test_every_relation_to_user_has_a_fate():
    """A relation to User that erasure would get wrong must be decided: every
    PROTECT or SET_NULL relation is listed (CASCADE ones are deleted by
    default, as deleting the user would)."""
    from django.db import models

    for key, _model, _field, on_delete in erasure.relations(User):
        if key not in erasure.FATES:
            assert on_delete is models.CASCADE, key
    listed = {key for key, *_ in erasure.relations(User)}
    assert set(erasure.FATES) <= listed, set(erasure.FATES) - listed
    assert erasure.fate_of("attendance.AttendanceRecord.student", None) == "keep"


def test_admin_refuses_a_raw_delete_and_offers_the_erasure(families, it_admin, client):
    school = families.school
    login_verified(client, it_admin)
    url = reverse("admin:roster_user_delete", args=[school.parent.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert "Effacer / anonymiser" in page.content.decode()
    client.post(url, {"post": "yes"})
    assert User.objects.filter(pk=school.parent.pk, username="karim").exists()

    # "Delete selected" refuses too.
    changelist = reverse("admin:roster_user_changelist")
    page = client.post(
        changelist,
        {
            "action": "delete_selected",
            "_selected_action": [school.parent.pk],
            "post": "yes",
        },
    )
    assert "Effacer / anonymiser" in page.content.decode()
    assert User.objects.filter(pk=school.parent.pk, username="karim").exists()

    # A user without school data may still be deleted.
    nobody = User.objects.create_user("nobody", role="guardian")
    client.post(reverse("admin:roster_user_delete", args=[nobody.pk]), {"post": "yes"})
    assert not User.objects.filter(pk=nobody.pk).exists()

    confirm = client.post(
        changelist, {"action": "erase_people", "_selected_action": [school.parent.pk]}
    )
    assert confirm.status_code == 200
    assert "Cette opération est définitive." in confirm.content.decode()
    assert User.objects.get(pk=school.parent.pk).username == "karim"
    client.post(
        changelist,
        {
            "action": "erase_people",
            "_selected_action": [school.parent.pk],
            "confirmed": "yes",
        },
    )
    assert (
        User.objects.get(pk=school.parent.pk).username == f"erased-{school.parent.pk}"
    )


def test_admin_erasure_needs_the_permission(families, client):
    school = families.school
    school.teacher.is_staff = True
    school.teacher.save()
    school.teacher.user_permissions.add(
        Permission.objects.get(codename="view_user"),
        Permission.objects.get(codename="change_user"),
    )
    login_verified(client, school.teacher)
    response = client.post(
        reverse("admin:roster_user_changelist"),
        {
            "action": "erase_people",
            "_selected_action": [school.pupil.pk],
            "confirmed": "yes",
        },
    )
    assert response.status_code == 403
    assert User.objects.get(pk=school.pupil.pk).username == "lea"


def test_erase_person_command(families, it_admin):
    from io import StringIO

    from django.core.management import CommandError, call_command

    out = StringIO()
    call_command("erase_person", "sophie", "--by", "root", "--yes", stdout=out)
    sophie = User.objects.get(pk=families.school.other_parent.pk)
    assert out.getvalue().startswith(f"erased as erased-{sophie.pk}")
    assert sophie.get_full_name() == "Personne effacée"
    assert AuditEntry.objects.get(action="person.erased").actor_id == it_admin.pk
    with pytest.raises(CommandError):
        call_command("erase_person", "nobody-here", "--yes")


def test_staff_notes_naming_the_person_are_rewritten(families, it_admin):
    Excuse.objects.filter(pk=families.karim_excuse.pk).update(
        review_note="Appel de Karim Dubois reçu"
    )
    actions.erase_person(families.school.parent, it_admin)
    assert Excuse.objects.get(pk=families.karim_excuse.pk).review_note == (
        "Appel de Personne effacée reçu"
    )
